"""Upgrade day: the migration carries existing jobs and images into the ledger, marked as
estimated, so quotas and usage pages are right at once."""

import datetime as dt
import uuid

import pytest
from django.contrib.auth import get_user_model
from django.db import connection
from django.db.migrations.executor import MigrationExecutor
from django.utils import timezone

from usage.models import LedgerEntry, Reservation
from usage.quotas import quota_for
from usage.selectors import usage_summary

pytestmark = [pytest.mark.migrations, pytest.mark.django_db(transaction=True)]

BEFORE = [("generation", "0009_image_team_shared_index"), ("usage", None)]


def test_existing_jobs_and_images_are_carried_into_the_ledger():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE)
    old = executor.loader.project_state([BEFORE[0]]).apps
    User, Profile = old.get_model("auth", "User"), old.get_model("accounts", "Profile")
    Team, Job = old.get_model("accounts", "Team"), old.get_model("generation", "Job")
    Image = old.get_model("generation", "Image")
    now = timezone.now()
    team = Team.objects.create(name="Studio")
    alice = User.objects.create(username="alice", email="a@example.com", password="x")
    Profile.objects.create(user=alice, current_team=team)

    def job(status, n=1, **extra):
        values = {"width": 1024, "height": 1024, **extra}
        return Job.objects.create(
            user=alice,
            team=team,
            backend="remote",
            model="qwen-image",
            prompt=status,
            seed=1,
            n=n,
            status=status,
            **values,
        )

    done = job("succeeded", n=2, attempts=1, started_at=now, finished_at=now)
    for index in range(2):
        Image.objects.create(
            job=done,
            index=index,
            user=alice,
            team=team,
            seed=1 + index,
            file="f",
            thumbnail="t",
            width=1024,
            height=1024,
            byte_size=1,
            sha256="0" * 64,
        )
    refused = job("failed", attempts=4, started_at=now, finished_at=now, error_code="rate_limited")
    broken = job("failed", attempts=4, started_at=now, finished_at=now, error_code="invalid_image")
    job("canceled", finished_at=now)  # canceled while queued
    running = job("running", n=3, attempts=1, started_at=now)
    queued = job("queued")
    old_job = job("succeeded", attempts=1, started_at=now - dt.timedelta(days=3), finished_at=now)
    # Trashed work was still spent: it counts.
    trashed = job("succeeded", attempts=1, started_at=now, finished_at=now, deleted_at=now)
    # A revised prompt whose `auto` size was chosen again: priced at the size it ran at.
    revised = job(
        "succeeded",
        attempts=1,
        started_at=now,
        finished_at=now,
        enhance=True,
        enhancement="enhanced",
        revised_prompt="a wide harbour at dusk",
        size_auto=True,
        width=2000,
        height=500,
    )
    # The local backend refused before its pipeline ran: no work, not counted.
    too_long = job(
        "failed", attempts=1, started_at=now, finished_at=now, error_code="prompt_too_long"
    )

    executor.loader.build_graph()
    executor.migrate(executor.loader.graph.leaf_nodes())

    def rows(j):
        return list(
            LedgerEntry.objects.filter(job_ref=j.public_id)
            .order_by("index")
            .values_list("status", "counted", "cost_micros", "estimated")
        )

    assert rows(done) == [("succeeded", True, 20_972, True)] * 2  # $0.02 per megapixel
    assert rows(refused) == [("rejected", False, 0, True)]
    assert rows(broken) == [("failed", True, 20_972, True)]
    assert rows(running) == [("started", True, 20_972, True)] * 3
    assert rows(queued) == []
    assert rows(trashed) == [("succeeded", True, 20_972, True)]
    assert rows(revised) == [("succeeded", True, 20_000, True)]  # 1 MP at $0.02
    assert rows(too_long) == [("rejected", False, 0, True)]
    assert LedgerEntry.objects.count() == 2 + 1 + 1 + 3 + 1 + 3
    holds = {h.job_ref: h for h in Reservation.objects.all()}
    assert holds[queued.public_id].closed_at is None and holds[running.public_id].closed_at is None
    assert holds[done.public_id].outcome == "succeeded" and holds[done.public_id].estimated
    assert all(isinstance(ref, uuid.UUID) for ref in holds)
    # Quotas are right on upgrade day: today's units plus what the queued job holds; the two
    # active jobs hold two slots.
    user = get_user_model().objects.get(username="alice")
    quota = quota_for(user=user)
    assert (quota.images_today, quota.active_jobs) == (2 + 1 + 3 + 1 + 2, 2)
    summary = usage_summary(user=user)
    assert summary.images == 5 and summary.estimated_micros == summary.cost_micros > 0
    assert old_job  # three days back: counted in the 30-day summary, not today
