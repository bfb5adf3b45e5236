"""Fair use: the queue order (each user's first job before anybody's second; FIFO without
priorities). Moved here from tests/accounts/test_quotas.py when quotas moved to tests/usage/."""

import pytest
from huey.contrib.djhuey import HUEY

from generation import lifecycle
from tests.factories import make_job

pytestmark = pytest.mark.django_db


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
