"""Fair use in the queue: a job waits behind its owner's other active jobs, nobody else's."""

import pytest

from generation import selectors
from generation.models import Job
from tests.factories import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _room_in_the_queue(settings):
    settings.QUOTA_CONCURRENT_JOBS = 20


def _queued(user, count: int) -> list[Job]:
    return [make_job(user, run=False) for _ in range(count)]


def test_priority_counts_the_owners_other_active_jobs(owner, teammate):
    first, second, third = _queued(owner, 3)
    _queued(teammate, 5)  # other people's jobs do not push the owner's back
    make_job(owner)  # a finished job of the owner's does not either
    Job.objects.filter(pk=first.pk).update(status=Job.Status.RUNNING)
    assert selectors.job_fair_priority(job_pk=third.pk) == -2
    assert selectors.job_fair_priority(job_pk=first.pk) == -2
    teammates_first = Job.objects.filter(user=teammate).order_by("id").first()
    assert selectors.job_fair_priority(job_pk=teammates_first.pk) == -4


def test_priority_stops_falling_at_the_floor(owner, monkeypatch):
    monkeypatch.setattr(selectors, "FAIR_PRIORITY_FLOOR", 3)
    jobs = _queued(owner, 6)
    assert selectors.job_fair_priority(job_pk=jobs[-1].pk) == -3


def test_priority_of_a_job_that_is_gone_is_zero(owner):
    assert selectors.job_fair_priority(job_pk=987654) == 0
