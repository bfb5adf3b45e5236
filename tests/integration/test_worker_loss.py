"""A consumer killed with SIGKILL mid-job: the other one finishes the job after the lease."""

import os
import re
import signal
import time

import pytest

from tests.factories import PASSWORD
from tests.integration.conftest import s3_keys
from tests.integration.test_flow import wait_finished

pytestmark = pytest.mark.integration


def _claimed_not_finished(log: str) -> set[str]:
    claimed = set(re.findall(r"event=claimed job=(\S+)", log))
    succeeded = set(re.findall(r"event=succeeded job=(\S+)", log))
    return claimed - succeeded


def test_job_of_a_killed_consumer_is_finished_by_the_other_after_its_lease(
    stack, studio_users, live_db
):
    from generation.models import Job

    scheduler, victim = stack.consumers["scheduler"], stack.consumers["worker"]
    web = stack.client()
    web.login("owner", PASSWORD)
    # As many jobs as worker threads (2 consumers × 2), each running ~3 s. Kill once all are
    # running and the victim holds one: then no dequeued message is in flight (a message
    # dequeued but not yet claimed would only come back through the reaper's lost-enqueue
    # path, after GENERATION_REQUEUE_AFTER_SECONDS).
    ids = [web.generate(prompt=f"storm {i}") for i in range(4)]

    deadline = time.monotonic() + 20
    while not (
        _claimed_not_finished(victim.log()) & set(ids)
        and Job.objects.filter(public_id__in=ids, status=Job.Status.RUNNING).count() == 4
    ):
        assert time.monotonic() < deadline, "the -n consumer never claimed a job"
        time.sleep(0.1)
    os.kill(victim.popen.pid, signal.SIGKILL)  # no graceful stop: its tasks are simply gone
    victim.popen.wait(10)
    lost = _claimed_not_finished(victim.log()) & set(ids)
    assert lost
    assert Job.objects.filter(public_id__in=lost, status=Job.Status.RUNNING).count() == len(lost)

    # The lease (10 s) runs out; the scheduler consumer's periodic reaper (once a minute)
    # requeues the job and the surviving consumer runs it again.
    jobs = wait_finished(ids, timeout=150)
    assert {job.status for job in jobs.values()} == {Job.Status.SUCCEEDED}
    for job_id in lost:
        assert jobs[job_id].attempts == 2
        assert jobs[job_id].images.count() == 1
        assert f"event=requeued job={job_id}" in scheduler.log()
        assert re.search(rf"event=claimed job={job_id} backend=demo attempt=2", scheduler.log())
    for job_id in set(ids) - lost:
        assert jobs[job_id].attempts == 1
    expected = {f"images/{job_id}/0.png" for job_id in ids}
    expected |= {f"images/{job_id}/0.thumb.webp" for job_id in ids}
    assert {key for key in s3_keys("images/") if key.split("/")[1] in ids} == expected


def test_exactly_one_consumer_runs_the_periodic_scheduler(stack):
    scheduler, worker = stack.consumers["scheduler"].log(), stack.consumers["worker"].log()
    assert "Periodic tasks are enabled" in scheduler
    assert "Periodic tasks are disabled" in worker
    assert "Enqueueing periodic task generation.tasks.reap_jobs" in scheduler
    assert "Enqueueing periodic task" not in worker


def test_sigint_lets_the_running_job_finish_before_the_consumer_exits(stack, live_db):
    from generation.models import Job

    consumer = stack.consumers["scheduler"]  # the only one left running
    web = stack.client()
    web.login("owner", PASSWORD)
    job_id = web.generate(prompt="last one")
    deadline = time.monotonic() + 20
    while not Job.objects.filter(public_id=job_id, status=Job.Status.RUNNING).exists():
        assert time.monotonic() < deadline, "the job never started"
        time.sleep(0.1)
    consumer.popen.send_signal(signal.SIGINT)  # what the process manager must send
    assert consumer.popen.wait(30) == 0
    job = Job.objects.get(public_id=job_id)
    assert (job.status, job.attempts) == (Job.Status.SUCCEEDED, 1)
    assert "Shutting down gracefully" in consumer.log()
