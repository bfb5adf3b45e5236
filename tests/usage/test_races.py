"""Racing submissions: the limit check and the reservation are one transaction, so threads
that submit at the same moment (form and API mixed) can never pass a limit together; replays
of a synchronous request wait within the concurrency limit."""

import json
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse

from accounts.keys import api_key_create
from accounts.models import Profile
from generation import lifecycle
from generation.models import Job
from tests.factories import make_job, make_params, make_user
from tests.usage.conftest import budget
from usage import ledger
from usage.models import Reservation
from usage.quotas import QuotaExceeded, quota_check

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def slow_check(monkeypatch):
    """No worker runs the jobs, and each check is held open a while: without the lock, the
    other submissions would pass their checks meanwhile."""
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda *args, **kwargs: None)

    def slow(**kwargs):
        usages = quota_check(**kwargs)
        time.sleep(0.05)
        return usages

    monkeypatch.setattr(ledger.reservations, "quota_check", slow)


def _in_threads(count: int, work) -> list[str]:
    barrier = threading.Barrier(count)
    results: list[str] = []

    def run(i):
        try:
            prepared = work(i, None)
            barrier.wait()
            results.append(work(i, prepared))
        except Exception as error:  # e.g. "database is locked": the test must see it
            results.append(repr(error))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return sorted(results)


def _job_create(user):
    def work(i, prepared):
        if prepared is None:
            return "ready"
        try:
            lifecycle.job_create(user=user, params=make_params())
        except QuotaExceeded:
            return "quota"
        return "created"

    return work


def test_simultaneous_submissions_cannot_pass_the_daily_limit(slow_check):
    user = make_user("racer")
    Profile.objects.filter(user=user).update(images_per_day=1)
    assert _in_threads(2, _job_create(user)) == ["created", "quota"]
    assert Job.objects.filter(user=user).count() == 1


def test_simultaneous_submissions_cannot_pass_the_concurrency_limit(slow_check):
    user = make_user("racer")
    Profile.objects.filter(user=user).update(concurrent_jobs=2)
    make_job(user, run=False)  # stays queued: one slot left
    assert _in_threads(3, _job_create(user)) == ["created", "quota", "quota"]
    assert Job.objects.filter(user=user, status="queued").count() == 2


def test_twenty_parallel_submissions_form_and_api_against_a_budget_that_fits_three(
    slow_check, priced
):
    user = make_user("racer")
    Profile.objects.filter(user=user).update(images_per_day=1000, concurrent_jobs=1000)
    budget(user=user, budget=Decimal("0.03"), budget_period="day")  # three $0.01 images
    _, secret = api_key_create(user=user)

    def work(i, client):
        if client is None:  # before the start line: sign in, build the client
            client = Client()
            if i % 2:
                client.force_login(user)
            return client
        if i % 2:
            response = client.post(
                reverse("generate"),
                {
                    "prompt": f"form {i}",
                    "size": "square",
                    "n": 1,
                    "num_inference_steps": 30,
                    "guidance_scale": 2.5,
                    "acceleration": "none",
                },
            )
            if response.status_code == 302:
                return "created"
            assert "budget of $0.03 per day is used up" in response.content.decode()
            return "refused"
        response = client.post(
            "/v1/jobs",
            data=json.dumps({"prompt": f"api {i}", "n": 1}),
            content_type="application/json",
            HTTP_AUTHORIZATION=f"Bearer {secret}",
        )
        if response.status_code == 202:
            return "created"
        assert response.status_code == 402, response.content
        assert response.json()["error"]["code"] == "budget_exceeded"
        return "refused"

    results = _in_threads(20, work)
    assert results == ["created"] * 3 + ["refused"] * 17
    assert Job.objects.filter(user=user).count() == 3
    assert Reservation.objects.filter(user=user, closed_at__isnull=True).count() == 3


def test_replays_beyond_the_concurrency_limit_are_refused(settings, monkeypatch):
    """One Idempotency-Key replayed by many threads: the job holds one slot, each waiting
    replay another; past the limit the replay is a 429, not one more held thread."""
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda *args, **kwargs: None)  # stays queued
    settings.API_SYNC_WAIT_SECONDS = 1.5
    settings.API_SYNC_POLL_SECONDS = 0.05
    user = make_user("replayer")
    Profile.objects.filter(user=user).update(concurrent_jobs=3)
    _, secret = api_key_create(user=user)
    headers = {"HTTP_AUTHORIZATION": f"Bearer {secret}", "HTTP_IDEMPOTENCY_KEY": "order-7"}
    body = json.dumps({"prompt": "a slow lighthouse"})
    first = Client().post(
        "/v1/images/generations", data=body, content_type="application/json", **headers
    )
    assert first.status_code == 504  # nobody runs the job: the first wait runs out

    def work(i, client):
        if client is None:
            return Client()
        response = client.post(
            "/v1/images/generations", data=body, content_type="application/json", **headers
        )
        return f"{response.status_code} {response.json()['error']['code']}"

    results = _in_threads(5, work)
    # The job holds 1 of 3 slots: two replays wait (and time out), three are refused at once.
    assert results == ["429 quota_exceeded"] * 3 + ["504 generation_timeout"] * 2
    assert Job.objects.filter(user=user).count() == 1
    # Every wait gave its slot back.
    assert not Reservation.objects.filter(kind="wait", closed_at__isnull=True).exists()


def test_a_waiting_replay_holds_a_slot_a_new_job_cannot_take(settings, monkeypatch):
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda *args, **kwargs: None)
    user = make_user("waiter")
    Profile.objects.filter(user=user).update(concurrent_jobs=2)
    job = make_job(user, run=False)
    with (
        ledger.wait_hold(user=user, job_ref=job.public_id, seconds=5),
        pytest.raises(QuotaExceeded),
    ):
        make_job(user, run=False)
    make_job(user, run=False)  # the wait returned: its slot is free


def test_members_of_one_team_racing_cannot_pass_the_team_budget(slow_check, priced):
    """Different users take different profile locks: the team's Limit row is what makes them
    queue (a row lock on PostgreSQL, the single writer on SQLite)."""
    from accounts.models import Team

    team = Team.objects.create(name="Racers")
    members = [make_user(f"member{i}", team=team) for i in range(5)]
    budget(team=team, budget=Decimal("0.03"), budget_period="month")

    def work(i, prepared):
        if prepared is None:
            return "ready"
        try:
            lifecycle.job_create(user=members[i % 5], params=make_params())
        except QuotaExceeded as refused:
            assert refused.scope == "team"
            return "refused"
        return "created"

    assert _in_threads(10, work) == ["created"] * 3 + ["refused"] * 7
    assert Reservation.objects.filter(team=team).count() == 3
