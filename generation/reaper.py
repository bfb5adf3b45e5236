"""The reaper: recover what the queue lost. Huey deletes a task when it dequeues it, so a worker
killed mid-job loses it; the Job row is the source of truth and this runs periodically."""

import datetime as dt

from django.conf import settings
from django.utils import timezone

from generation import lifecycle
from generation.events import log_job_event
from generation.models import Job, Worker
from generation.queues import DEFAULT, queue_for, queue_names
from generation.selectors import consumers_alive
from usage import ledger


def jobs_reap() -> dict[str, int]:
    """Recover what the queue lost: expired leases, lost enqueues, jobs past the attempt cap."""
    now = timezone.now()
    counts = {"requeued": 0, "failed": 0, "canceled": 0, "reenqueued": 0}
    expired = Job.objects.filter(status=Job.Status.RUNNING, lease_expires_at__lt=now)
    for job in expired:
        if job.cancel_requested:
            if lifecycle.job_mark_canceled(job=job, from_statuses=(Job.Status.RUNNING,)):
                counts["canceled"] += 1
        elif job.attempts >= settings.GENERATION_MAX_ATTEMPTS:
            if lifecycle.job_fail(
                job=job,
                code="worker_lost",
                message=(
                    f"The worker running this job stopped responding {job.attempts} times; "
                    "giving up."
                ),
                expected_attempts=job.attempts,
            ):
                counts["failed"] += 1
        else:
            updated = Job.objects.filter(
                pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, cancel_requested=False
            ).update(
                status=Job.Status.QUEUED,
                lease_expires_at=None,
                enqueued_at=now,
                error_code="worker_lost",
                error_message="The worker running this job stopped responding; retrying.",
                updated_at=now,
            )
            if updated:
                job.refresh_from_db()
                log_job_event("requeued", job, reason="lease_expired")
                lifecycle.job_enqueue(job_pk=job.pk)
                counts["requeued"] += 1
    # Consumers gone for a day (every restart is a new host:pid row) leave the admin's list.
    Worker.objects.filter(last_seen_at__lt=now - dt.timedelta(days=1)).delete()
    # Queued with a cancel request: no worker will claim it; end it (older releases could
    # leave jobs so after a cancel met a retryable error).
    for job in Job.objects.filter(status=Job.Status.QUEUED, cancel_requested=True):
        if lifecycle.job_mark_canceled(job=job, from_statuses=(Job.Status.QUEUED,)):
            counts["canceled"] += 1
    stale = now - dt.timedelta(seconds=settings.GENERATION_REQUEUE_AFTER_SECONDS)
    # A capability queue nobody reads (no GPU worker running) has lost nothing: its messages
    # wait there. Adding one per job every few minutes would only pile them up.
    unread = {
        queue
        for queue in queue_names()
        if queue != DEFAULT and not consumers_alive(queue=queue).exists()
    }
    for job in Job.objects.filter(
        status=Job.Status.QUEUED, enqueued_at__lt=stale, cancel_requested=False
    ):
        if queue_for(job.backend) in unread:
            continue
        if Job.objects.filter(
            pk=job.pk, status=Job.Status.QUEUED, enqueued_at__lt=stale, cancel_requested=False
        ).update(enqueued_at=now):
            log_job_event("requeued", job, reason="enqueue_lost")
            lifecycle.job_enqueue(job_pk=job.pk)
            counts["reenqueued"] += 1
    # The usage ledger heals what a crash left open: holds of jobs that ended, waits past
    # their expiry, units in flight of jobs that ended.
    as_of = timezone.now()
    active = set(Job.objects.filter(status__in=Job.ACTIVE).values_list("public_id", flat=True))
    healed = ledger.work_reconcile(active_job_refs=active, as_of=as_of)
    counts["usage_released"] = healed["closed"] + healed["expired"]
    counts["usage_lost"] = healed["lost"]
    return counts
