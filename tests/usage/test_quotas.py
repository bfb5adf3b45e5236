"""Quotas count from the ledger: what was started counts, retries count the day they run, a
late cancel still counts; limits per user, team and API key; budgets refuse with 402."""

from decimal import Decimal

import pytest
from django.test import override_settings
from django.urls import reverse

from accounts.keys import api_key_create
from accounts.models import Membership, Profile
from generation import lifecycle, runner
from generation.backends import BackendError
from generation.backends.demo import DemoBackend
from generation.models import Job
from tests.apiclient import assert_envelope, post_json
from tests.factories import make_job
from tests.usage.conftest import age, budget, units
from usage.ledger import correction_record
from usage.models import Reservation
from usage.quotas import BudgetExceeded, QuotaExceeded, quota_for

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


def test_the_ledger_counts_started_work_and_what_queued_jobs_hold(owner):
    make_job(owner, n=2)  # made: 2 units
    canceled = make_job(owner, run=False, n=3)
    lifecycle.job_cancel(job=canceled)  # canceled before any work: nothing
    make_job(owner, run=False, n=1)  # queued: holds 1 image and a slot
    quota = quota_for(user=owner)
    assert quota.images_today == 3 and quota.active_jobs == 1
    assert quota.images_left == quota.images_per_day - 3
    assert quota.resets_at.hour == 0 and quota.resets_at > canceled.created_at
    assert not units(canceled).exists()


def test_retrying_yesterdays_jobs_counts_today(owner):
    """Canceled jobs cost nothing to create; retrying them the next day is new work today."""
    made = [make_job(owner, run=False, n=2) for _ in range(3)]
    for job in made:
        lifecycle.job_cancel(job=job)
        age(job, 1)
    Profile.objects.filter(user=owner).update(images_per_day=4)
    for job in made[:2]:
        lifecycle.job_retry(job=job)
        runner.job_run(job_id=job.pk)
    assert quota_for(user=owner).images_today == 4
    with pytest.raises(QuotaExceeded) as refused:
        lifecycle.job_retry(job=made[2])
    assert "4 of 4 images used today" in refused.value.message
    made[2].refresh_from_db()
    assert made[2].status == Job.Status.CANCELED  # the refused retry left it as it was


class _CancelAfterTheProviderAnswered(DemoBackend):
    """The user cancels just after the images came back (the work is done and billed)."""

    def generate(self, request, *, on_progress, should_cancel):
        images = super().generate(request, on_progress=on_progress, should_cancel=should_cancel)
        Job.objects.filter(status=Job.Status.RUNNING).update(cancel_requested=True)
        return images


def test_a_late_cancel_is_still_counted(owner, priced, monkeypatch):
    monkeypatch.setattr(runner, "get_backend", lambda name=None: _CancelAfterTheProviderAnswered(0))
    Profile.objects.filter(user=owner).update(images_per_day=4)
    job = make_job(owner, n=4)
    assert job.status == Job.Status.CANCELED and not job.images.exists()
    assert list(units(job).values_list("status", flat=True)) == ["canceled"] * 4
    assert quota_for(user=owner).images_today == 4  # the meter is not at 0
    with pytest.raises(QuotaExceeded):
        make_job(owner, n=1)
    assert sum(units(job).values_list("cost_micros", flat=True)) == 40_000  # 4 × $0.01


def test_work_that_never_started_costs_nothing(owner, priced, monkeypatch):
    class Misconfigured(DemoBackend):
        def generate(self, request, *, on_progress, should_cancel):
            raise BackendError("No model.", code="not_configured", retryable=False)

    monkeypatch.setattr(runner, "get_backend", lambda name=None: Misconfigured(0))
    job = make_job(owner, n=2)
    assert job.status == Job.Status.FAILED
    assert set(units(job).values_list("status", "counted", "cost_micros")) == {
        ("not_sent", False, 0)
    }
    assert quota_for(user=owner).images_today == 0


def test_daily_limit_raises_with_retry_after_until_midnight(owner):
    Profile.objects.filter(user=owner).update(images_per_day=3)
    make_job(owner, n=2)
    with pytest.raises(QuotaExceeded) as info:
        make_job(owner, n=2)
    assert "Daily image quota reached" in info.value.message
    assert 0 < info.value.retry_after <= 86400 and info.value.status == 429
    make_job(owner, n=1)  # exactly up to the limit is fine


def test_concurrent_job_limit(owner):
    Profile.objects.filter(user=owner).update(concurrent_jobs=2)
    make_job(owner, run=False)
    make_job(owner, run=False)
    with pytest.raises(QuotaExceeded) as info:
        make_job(owner, run=False)
    assert "2 jobs running or queued" in info.value.message and info.value.retry_after > 0


def test_a_finished_job_gives_its_slot_back(owner):
    Profile.objects.filter(user=owner).update(concurrent_jobs=1)
    job = make_job(owner, run=False)
    runner.job_run(job_id=job.pk)
    assert not Reservation.objects.filter(job_ref=job.public_id, closed_at__isnull=True).exists()
    make_job(owner, run=False)  # the slot is free again


def test_team_limit_counts_every_members_work(owner, teammate, team):
    budget(team=team, images_per_day=3, concurrent_jobs=10)
    make_job(owner, n=2)
    make_job(teammate, n=1)
    with pytest.raises(QuotaExceeded) as info:
        make_job(teammate, n=1)
    assert info.value.scope == "team" and "Studio" in info.value.message
    assert quota_for(user=teammate).images_today == 1  # their own quota is far from full


def test_team_limit_applies_to_work_in_that_team_only(owner, teammate, team, other_team):
    budget(team=team, images_per_day=1)
    Membership.objects.create(team=other_team, user=teammate)
    teammate.profile.current_team = other_team
    teammate.profile.save()
    make_job(teammate, n=3)  # made in the other team: Studio's limit does not apply
    make_job(owner, n=1)


def test_api_key_limit(owner, client):
    key, secret = api_key_create(user=owner, name="ci")
    budget(api_key=key, images_per_day=2)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert post_json(client, "/v1/jobs", {"prompt": "a", "n": 2}, headers=auth).status_code == 202
    refused = post_json(client, "/v1/jobs", {"prompt": "b", "n": 1}, headers=auth)
    error = assert_envelope(refused, 429, code="quota_exceeded")
    assert error["scope"] == "api_key" and error["limit"] == "images_per_day"
    assert "API key ci" in error["message"]
    # The same user without that key is not held by the key's limit.
    _, other = api_key_create(user=owner, name="laptop")
    other_auth = {"HTTP_AUTHORIZATION": f"Bearer {other}"}
    assert post_json(client, "/v1/jobs", {"prompt": "c"}, headers=other_auth).status_code == 202


def test_budget_refuses_with_402_until_the_period_starts_again(owner, client, priced):
    budget(user=owner, budget=Decimal("0.03"), budget_period="day")
    _, secret = api_key_create(user=owner)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert post_json(client, "/v1/jobs", {"prompt": "a", "n": 3}, headers=auth).status_code == 202
    refused = post_json(client, "/v1/jobs", {"prompt": "b", "n": 1}, headers=auth)
    error = assert_envelope(refused, 402, code="budget_exceeded")
    assert error["type"] == "insufficient_quota" and error["limit"] == "budget"
    assert "$0.03 per day" in error["message"] and "$0.03 spent" in error["message"]
    assert 0 < int(refused["Retry-After"]) <= 86400


def test_a_monthly_team_budget_refuses_the_job_that_would_pass_it(owner, teammate, team, priced):
    budget(team=team, budget=Decimal("0.05"), budget_period="month")
    make_job(owner, n=4)
    with pytest.raises(BudgetExceeded) as info:
        make_job(teammate, n=2)
    assert info.value.scope == "team" and "per month" in info.value.message
    make_job(teammate, n=1)  # exactly the budget is fine


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


def test_corrections_and_refused_calls_do_not_count_as_images(owner, staff, priced):
    job = make_job(owner, n=1)
    correction_record(by=staff, amount=Decimal("-0.01"), reason="refund", entry=units(job).get())
    assert quota_for(user=owner).images_today == 1


@pytest.mark.django_db(transaction=True)
def test_reservation_needs_the_job_transaction(owner):
    from usage.ledger import job_reserve

    with pytest.raises(RuntimeError):
        job_reserve(
            user=owner,
            profile=owner.profile,
            team=None,
            job_ref=make_job(owner, run=False).public_id,
            backend="demo",
            model="qwen-image",
            width=512,
            height=512,
            steps=30,
            images=1,
        )


def test_a_job_made_by_a_member_who_left_still_counts_for_the_team(owner, teammate, team):
    budget(team=team, images_per_day=2)
    make_job(teammate, n=2)
    Membership.objects.filter(user=teammate, team=team).delete()
    with pytest.raises(QuotaExceeded):
        make_job(owner, n=1)


def test_the_limits_check_reads_only_open_holds(owner):
    """Every submission reads the scope's open holds: through the partial index of open ones,
    never through every hold the user ever had."""
    from django.db import connection
    from django.utils import timezone

    from usage.quotas import _usage_sql

    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL's planner chooses with statistics")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    for kind, index in (
        ("user", "reservation_open_user"),
        ("team", "reservation_open_team"),
        ("api_key", "reservation_open_key"),
    ):
        with connection.cursor() as cursor:
            cursor.execute(
                "EXPLAIN QUERY PLAN " + _usage_sql(kind, "sqlite"),
                [1, "work", True, now, 1, now, 1, now],
            )
            plan = " ".join(str(row[-1]) for row in cursor.fetchall())
        assert f"usage_reservation USING INDEX {index}" in plan, plan
        assert "SCAN" not in plan, plan
