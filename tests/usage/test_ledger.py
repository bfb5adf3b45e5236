"""The ledger records every unit of backend work: each upstream call (remote) or each local
image, written when it starts and settled when it ends. Against the fake hosted endpoint, the
ledger's calls and the provider's own request log agree exactly, through faults, retries and
cancels."""

import datetime as dt
import time
from decimal import Decimal

import pytest
from django.utils import timezone

from generation import lifecycle, reaper, runner
from generation.models import Job
from tests.factories import make_job, make_params
from tests.usage.conftest import units
from usage import ledger
from usage.models import LedgerEntry, Reservation
from usage.quotas import quota_for
from usage.selectors import storage_bytes

pytestmark = pytest.mark.django_db

REACHED = LedgerEntry.REACHED_PROVIDER


def submit(user, **params) -> Job:
    values = {"size": "64x48", "n": 1, "seed": 77}
    values.update(params)
    return lifecycle.job_create(user=user, params=make_params(**values))


def drive(job: Job) -> Job:
    """Deliver the job to the worker until it ends, as the queue would on each retry."""
    for _ in range(8):
        runner.job_run(job_id=job.pk)
        job.refresh_from_db()
        if job.status != Job.Status.QUEUED:
            break
    return job


def reached_provider() -> int:
    return LedgerEntry.objects.filter(kind="work", status__in=REACHED).count()


def assert_agrees(fake) -> None:
    """The ledger's calls equal the provider's log (abandoned calls may still be landing)."""
    deadline = time.monotonic() + 5
    while len(fake.requests) != reached_provider() and time.monotonic() < deadline:
        time.sleep(0.05)
    assert reached_provider() == len(fake.requests)


def test_each_upstream_call_is_one_entry_priced_per_megapixel(fake, owner):
    job = drive(submit(owner, n=2, size="1024x1024"))
    assert job.status == "succeeded"
    rows = list(units(job).order_by("index"))
    assert [(r.index, r.status, r.attempt) for r in rows] == [
        (0, "succeeded", 1),
        (1, "succeeded", 1),
    ]
    # The default price of the hosted backend: $0.02 per megapixel.
    assert all(r.cost_micros == 20_972 and not r.estimated for r in rows)
    assert (rows[0].width, rows[0].height, rows[0].steps) == (1024, 1024, 30)
    assert rows[0].settled_at >= rows[0].started_at
    assert_agrees(fake)


def test_refused_calls_cost_nothing_and_retries_are_new_units(fake, owner):
    fake.push("rate_limit", times=2, retry_after="0")
    fake.push("server_error", status=503)
    job = drive(submit(owner))
    assert (job.status, job.attempts) == ("succeeded", 4)
    statuses = list(units(job).order_by("attempt").values_list("status", "counted", "cost_micros"))
    assert [s for s, _, _ in statuses] == ["rejected", "rejected", "rejected", "succeeded"]
    assert [c for _, c, _ in statuses] == [False, False, False, True]
    assert quota_for(user=owner).images_today == 1
    assert_agrees(fake)


def test_work_done_then_lost_on_our_side_counts(fake, owner):
    fake.push("truncated_png", times=2)  # the service answered: billed, but unusable
    fake.push("drop")  # it took the call, then the connection broke: maybe billed
    job = drive(submit(owner))
    assert job.status == "succeeded"
    rows = list(units(job).order_by("attempt").values_list("status", "error_code", "estimated"))
    assert rows == [
        ("failed", "invalid_image", False),
        ("failed", "invalid_image", False),
        ("failed", "upstream_unreachable", True),
        ("succeeded", "", False),
    ]
    assert quota_for(user=owner).images_today == 4
    assert_agrees(fake)


def test_a_refused_connection_never_reached_the_provider(fake, owner, settings):
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = probe.getsockname()[1]
    settings.QWEN_IMAGE_API_BASE = f"http://127.0.0.1:{closed}"
    settings.GENERATION_MAX_ATTEMPTS = 2
    job = drive(submit(owner))
    assert job.status == "failed"
    assert set(units(job).values_list("status", "counted", "cost_micros")) == {
        ("not_sent", False, 0)
    }
    assert len(fake.requests) == 0 and reached_provider() == 0


def test_a_cancel_while_calls_are_in_flight_still_counts_them(fake, owner, monkeypatch):
    fake.push("slow", times=2, seconds=1.5)
    # The user cancels as soon as the provider has taken both calls.
    monkeypatch.setattr(runner._Reporter, "should_cancel", lambda self: len(fake.requests) >= 2)
    job = drive(submit(owner, n=2))
    assert job.status == "canceled" and not job.images.exists()
    rows = list(units(job).values_list("status", "counted", "estimated", "error_code"))
    assert rows == [("canceled", True, True, "abandoned")] * 2
    assert quota_for(user=owner).images_today == 2
    assert_agrees(fake)


def test_ledger_and_provider_agree_after_a_run_with_faults_retries_and_cancels(
    fake, owner, monkeypatch
):
    fake.push("server_error", status=500)
    fake.push("ok")
    fake.push("rate_limit", retry_after="0")
    fake.push("malformed_json")
    # Two images: a 500 on one call abandons its sibling; the retry meets a 429 and bad JSON;
    # the third attempt succeeds.
    drive(submit(owner, n=2, seed=1))
    drive(submit(owner, n=1, seed=9))
    canceled = submit(owner, n=1, seed=20)
    lifecycle.job_cancel(job=canceled)  # canceled while queued: no call at all
    drive(canceled)
    fake.push("slow", seconds=1.0)
    before = len(fake.requests)
    monkeypatch.setattr(runner._Reporter, "should_cancel", lambda self: len(fake.requests) > before)
    late = drive(submit(owner, n=1, seed=30))
    assert late.status == "canceled"
    assert_agrees(fake)
    assert not units(canceled).exists()


def test_local_work_is_one_entry_per_image(owner, priced):
    job = make_job(owner, n=3)
    assert list(units(job).values_list("status", "cost_micros")) == [("succeeded", 10_000)] * 3
    hold = Reservation.objects.get(job_ref=job.public_id)
    assert (hold.images, hold.images_started, hold.outcome) == (3, 3, "succeeded")
    assert hold.closed_at is not None and hold.first_started_at is not None


def test_a_worker_that_died_leaves_its_units_counted_as_lost(owner):
    job = make_job(owner, run=False, n=2)
    first = runner.job_claim(job_id=job.pk)
    runner._work_start(first, backend=None)  # the worker wrote its units, then died
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert quota_for(user=owner).images_today == 2  # in flight counts
    runner.job_run(job_id=job.pk)  # the reaper's redelivery: attempt 2
    job.refresh_from_db()
    assert job.status == "succeeded"
    rows = list(units(job).order_by("attempt", "index").values_list("attempt", "status"))
    assert rows == [(1, "lost"), (1, "lost"), (2, "succeeded"), (2, "succeeded")]
    assert quota_for(user=owner).images_today == 4


def test_the_reaper_heals_holds_and_units_a_crash_left_open(owner, settings):
    settings.USAGE_RECONCILE_MARGIN_SECONDS = 0
    job = make_job(owner, n=1)
    # A crash between the job's end and the ledger's: the hold still open, a unit in flight.
    Reservation.objects.filter(job_ref=job.public_id).update(closed_at=None, outcome="")
    past = timezone.now() - dt.timedelta(seconds=settings.GENERATION_LEASE_SECONDS + 5)
    units(job).update(status="started", settled_at=None, started_at=past)
    wait = Reservation.objects.create(
        kind="wait", user=owner, job_ref=job.public_id, opened_at=past, expires_at=past
    )
    queued = make_job(owner, run=False)
    counts = reaper.jobs_reap()
    assert counts["usage_released"] == 2 and counts["usage_lost"] == 1
    assert units(job).get().status == "lost"
    wait.refresh_from_db()
    assert wait.outcome == "expired"
    assert Reservation.objects.get(job_ref=queued.public_id).closed_at is None  # still active


def test_a_retry_opens_a_new_hold_and_a_failure_closes_it(owner):
    job = make_job(owner, run=False)
    lifecycle.job_fail(job=job, code="boom", message="Broken.")
    assert Reservation.objects.get(job_ref=job.public_id).outcome == "failed"
    lifecycle.job_retry(job=job)
    holds = Reservation.objects.filter(job_ref=job.public_id).order_by("opened_at")
    assert [h.closed_at is None for h in holds] == [False, True]


def test_corrections_are_new_rows_with_a_reason(owner, staff, priced):
    job = make_job(owner, n=1)
    entry = units(job).get()
    with pytest.raises(ledger.CorrectionRefused):
        ledger.correction_record(by=staff, amount=Decimal("-0.01"), reason=" ", entry=entry)
    fix = ledger.correction_record(by=staff, amount=Decimal("-0.01"), reason="refund", entry=entry)
    assert (fix.kind, fix.user_id, fix.team_id, fix.job_ref) == (
        "correction",
        owner.pk,
        entry.team_id,
        job.public_id,
    )
    assert fix.cost_micros == -10_000 and fix.corrects == entry and fix.created_by == staff
    entry.refresh_from_db()
    assert entry.cost_micros == 10_000  # the original is never edited


def test_storage_is_recorded_for_retention(owner, team):
    ledger.storage_record(user_id=owner.pk, team_id=team.pk, bytes_delta=5_000, reason="stored")
    ledger.storage_record(user_id=owner.pk, team_id=team.pk, bytes_delta=-2_000, reason="deleted")
    assert storage_bytes(user=owner) == 3_000 and storage_bytes(team=team) == 3_000
    assert quota_for(user=owner).images_today == 0
