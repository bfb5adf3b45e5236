"""Quotas: limits and overrides, the form's message, the concurrent case; fair queue order."""

import threading
import time

import pytest
from django.db import connection
from django.test import override_settings
from django.urls import reverse
from huey.contrib.djhuey import HUEY

from accounts.models import Profile
from generation import lifecycle
from generation.models import Job
from tests.factories import make_job, make_params, make_user
from usage.quotas import QuotaExceeded, quota_check, quota_for

pytestmark = pytest.mark.django_db

FORM = {
    "prompt": "a tiny robot",
    "size": "square",
    "num_inference_steps": 30,
    "guidance_scale": 2.5,
    "acceleration": "none",
    "n": 2,
}


@override_settings(QUOTA_IMAGES_PER_DAY=10, QUOTA_CONCURRENT_JOBS=3)
def test_limits_come_from_user_then_team_then_settings(owner, team):
    assert (quota_for(user=owner).images_per_day, quota_for(user=owner).concurrent_jobs) == (10, 3)
    team.images_per_day, team.concurrent_jobs = 50, 5
    team.save()
    assert (quota_for(user=owner).images_per_day, quota_for(user=owner).concurrent_jobs) == (50, 5)
    Profile.objects.filter(user=owner).update(images_per_day=7)
    quota = quota_for(user=owner)
    assert (quota.images_per_day, quota.concurrent_jobs) == (7, 5)


def test_usage_counts_todays_images_but_not_failed_or_canceled_jobs(owner):
    make_job(owner, n=2)
    canceled = make_job(owner, run=False, n=3)
    lifecycle.job_cancel(job=canceled)
    make_job(owner, run=False, n=1)
    quota = quota_for(user=owner)
    assert quota.images_today == 3 and quota.active_jobs == 1
    assert quota.images_left == quota.images_per_day - 3
    assert quota.resets_at.hour == 0 and quota.resets_at > canceled.created_at


def test_daily_limit_raises_with_retry_after_until_midnight(owner):
    Profile.objects.filter(user=owner).update(images_per_day=3)
    make_job(owner, n=2)
    with pytest.raises(QuotaExceeded) as info:
        make_job(owner, n=2)
    assert "Daily image quota reached" in info.value.message
    assert 0 < info.value.retry_after <= 86400
    make_job(owner, n=1)  # exactly up to the limit is fine


def test_concurrent_job_limit(owner):
    Profile.objects.filter(user=owner).update(concurrent_jobs=2)
    make_job(owner, run=False)
    make_job(owner, run=False)
    with pytest.raises(QuotaExceeded) as info:
        make_job(owner, run=False)
    assert "2 jobs running or queued" in info.value.message and info.value.retry_after > 0


def test_the_form_says_clearly_when_the_quota_is_reached(owner, owner_client):
    Profile.objects.filter(user=owner).update(images_per_day=1)
    response = owner_client.post(reverse("generate"), FORM)
    body = response.content.decode()
    assert response.status_code == 200
    summary = body[
        body.index("data-error-summary") : body.index("</ul>", body.index("data-error-summary"))
    ]
    assert "<li>Daily image quota reached: 0 of 1 images used today" in summary
    assert not Job.objects.exists()
    assert "a tiny robot" in body  # the prompt is kept


def test_generate_page_meter_shows_usage(owner, owner_client):
    make_job(owner, n=3)
    body = owner_client.get(reverse("generate")).content.decode()
    assert "<strong>3</strong> of 200 images" in body
    assert 'value="3" max="200"' in body


# --- Two submissions at the same moment -----------------------------------------------------


def _race(user, monkeypatch, submissions: int = 2) -> list[str]:
    """Run job_create from several threads at once, each holding the check open a while."""
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda *args, **kwargs: None)

    def slow_check(**kwargs):
        quota_check(**kwargs)
        time.sleep(0.3)  # without a lock, the other submission passes its check meanwhile

    monkeypatch.setattr(lifecycle, "quota_check", slow_check)
    barrier = threading.Barrier(submissions)
    results: list[str] = []

    def submit():
        try:
            barrier.wait()
            lifecycle.job_create(user=user, params=make_params())
            results.append("created")
        except QuotaExceeded:
            results.append("quota")
        except Exception as error:  # e.g. "database is locked": the test must see it
            results.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=submit) for _ in range(submissions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(results)


@pytest.mark.django_db(transaction=True)
def test_simultaneous_submissions_cannot_pass_the_daily_limit(monkeypatch):
    user = make_user("racer")
    Profile.objects.filter(user=user).update(images_per_day=1)
    assert _race(user, monkeypatch) == ["created", "quota"]
    assert Job.objects.filter(user=user).count() == 1


@pytest.mark.django_db(transaction=True)
def test_simultaneous_submissions_cannot_pass_the_concurrency_limit(monkeypatch):
    user = make_user("racer")
    Profile.objects.filter(user=user).update(concurrent_jobs=2)
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda *args, **kwargs: None)
    make_job(user, run=False)  # stays queued: one slot left
    assert _race(user, monkeypatch, submissions=3) == ["created", "quota", "quota"]
    assert Job.objects.filter(user=user, status="queued").count() == 2


# --- Fair use: the queue order ------------------------------------------------------------


@pytest.fixture
def queue():
    """The real (in-memory) Huey queue instead of immediate mode, emptied before and after."""
    HUEY.immediate = False
    HUEY.flush()
    yield HUEY
    HUEY.flush()
    HUEY.immediate = True


def _drain(queue) -> list[int]:
    order = []
    while (task := queue.dequeue()) is not None:
        order.append(task.args[0])
    return order


def test_a_big_batch_does_not_starve_another_user(
    owner, teammate, queue, django_capture_on_commit_callbacks
):
    jobs = {}
    for name, user in [("a1", owner), ("a2", owner), ("a3", owner), ("b1", teammate)]:
        with django_capture_on_commit_callbacks(execute=True):
            jobs[name] = make_job(user, run=False).pk
    order = _drain(queue)
    # Each user's first job before anybody's second; FIFO among equals.
    assert order == [jobs["a1"], jobs["b1"], jobs["a2"], jobs["a3"]]


def test_queue_order_is_fifo_without_priorities(owner, teammate, queue, monkeypatch):
    monkeypatch.setattr(type(queue.storage), "priority", False)
    first = make_job(owner, run=False)
    second = make_job(owner, run=False)
    lifecycle.job_enqueue(job_pk=first.pk)
    lifecycle.job_enqueue(job_pk=second.pk)
    assert _drain(queue) == [first.pk, second.pk]
