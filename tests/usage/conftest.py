"""Fixtures of the usage tests: a priced demo backend, budgets, and the fake hosted endpoint."""

import datetime as dt
from decimal import Decimal

import pytest
from django.db.models import F

from generation.models import Image, Job
from tests.fakes.endpoint import FakeImageEndpoint
from usage.models import LedgerEntry, Limit, Price, Reservation

FAKE_KEY = "sk-usage-ledger-test-key"


@pytest.fixture
def priced(db):
    """One image on the demo backend costs $0.01 (it is free by default)."""
    return Price.objects.update_or_create(
        backend="demo", model="", defaults={"per_image": Decimal("0.01")}
    )[0]


def budget(**scope_and_limits) -> Limit:
    """A Limit row, e.g. budget(user=owner, budget=Decimal("0.03"), budget_period="day")."""
    return Limit.objects.create(**scope_and_limits)


def units(job, **filters):
    return LedgerEntry.objects.filter(job_ref=job.public_id, kind="work", **filters)


def age(job, days: int) -> None:
    """Move a job's rows (job, images, ledger, holds) `days` back."""
    delta = dt.timedelta(days=days)
    Job.objects.filter(pk=job.pk).update(
        created_at=F("created_at") - delta,
        started_at=F("started_at") - delta,
        finished_at=F("finished_at") - delta,
    )
    Image.objects.filter(job=job).update(created_at=F("created_at") - delta)
    LedgerEntry.objects.filter(job_ref=job.public_id).update(
        started_at=F("started_at") - delta, settled_at=F("settled_at") - delta
    )
    Reservation.objects.filter(job_ref=job.public_id).update(
        opened_at=F("opened_at") - delta,
        first_started_at=F("first_started_at") - delta,
        closed_at=F("closed_at") - delta,
    )


@pytest.fixture
def fake(settings):
    """The fake hosted endpoint, with the remote backend pointed at it."""
    with FakeImageEndpoint(max_lifetime=90, api_key=FAKE_KEY) as endpoint:
        settings.QWEN_IMAGE_BACKEND = "remote"
        settings.QWEN_IMAGE_API_BASE = endpoint.url
        settings.QWEN_IMAGE_API_KEY = FAKE_KEY
        settings.QWEN_IMAGE_OUTPUT_FORMAT = "b64_json"
        settings.QWEN_IMAGE_CONNECT_TIMEOUT = 2.0
        settings.QWEN_IMAGE_READ_TIMEOUT = 3.0
        settings.QWEN_IMAGE_CALL_BUDGET = 6.0
        settings.GENERATION_MAX_ATTEMPTS = 4
        settings.GENERATION_RETRY_BASE_DELAY = 0.0
        settings.GENERATION_MIN_SIDE = 16
        yield endpoint
