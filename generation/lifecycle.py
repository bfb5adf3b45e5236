"""Job lifecycle: create, enqueue, cancel, retry and fail jobs (the state rules in one place).

The runner (claim, run, store) and the reaper build on these. Work reaches the queue through
the `job_ready` signal, and webhooks through `job_finished`; this module imports neither.
"""

import secrets

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from accounts.services import lock_user_profile
from generation import signals
from generation.edits.sources import PreparedEdit
from generation.edits.store import edit_inputs_store
from generation.events import log_job_event
from generation.models import Image, Job, Visibility
from generation.moderation import prompt_check
from generation.params import SEED_MAX, GenerationParams
from generation.presets.models import PresetVersion
from generation.presets.services import preset_record_use
from generation.retention import storage_check
from usage import ledger


def job_create(
    *,
    user,
    params: GenerationParams,
    source: str = Job.Source.WEB,
    visibility: str = Visibility.PRIVATE,
    parent_image: Image | None = None,
    idempotency_key: str = "",
    request_hash: str = "",
    webhook_url: str = "",
    preset: PresetVersion | None = None,
    revision: str = Job.Enhancement.ACCEPTED,
    output_format: str = "png",
    output_compression: int | None = None,
    end_user: str = "",
    api_key=None,
    edit_inputs: PreparedEdit | None = None,
) -> Job:
    """Check the blocklist, fix the seed, and in one transaction check the limits, reserve
    what the job needs in the usage ledger and write the job `queued` (with an edit's
    inputs); enqueue it after commit. PromptBlocked and QuotaExceeded (BudgetExceeded;
    StorageQuotaExceeded when the team's storage is full) say why a job was refused.

    A revised prompt given with the params was accepted (or, `revision="edited"`, edited) by
    the caller before submitting; the blocklist checks it as it checks the prompt."""
    prompt_check(prompt=params.prompt)
    if params.revised_prompt:
        prompt_check(prompt=params.revised_prompt)
    if (params.edit is None) != (edit_inputs is None) or (
        edit_inputs is not None and edit_inputs.params() != params.edit
    ):
        raise ValueError("An edit job needs its prepared inputs, and only an edit job has them.")
    if params.seed is None:
        params = params.model_copy(update={"seed": secrets.randbelow(SEED_MAX - params.n + 1)})
    with transaction.atomic():
        profile = lock_user_profile(user=user)
        storage_check(user=user, team=profile.current_team)
        job = Job(
            user=user,
            team=profile.current_team,
            source=source,
            backend=settings.QWEN_IMAGE_BACKEND,
            model=settings.QWEN_IMAGE_EDIT_MODEL if params.edit else settings.QWEN_IMAGE_MODEL,
            **params.job_fields(),
            visibility=visibility,
            parent_image=parent_image,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            webhook_url=webhook_url,
            enqueued_at=timezone.now(),
            preset=preset,
            output_format=output_format,
            output_compression=output_compression,
            end_user=end_user[:256],
            **_revision_fields(params, revision),
        )
        _reserve(job, profile=profile, api_key=api_key)
        job.save(force_insert=True)
        if edit_inputs is not None:
            edit_inputs_store(job=job, prepared=edit_inputs)
        if preset is not None:
            preset_record_use(version=preset)
        transaction.on_commit(lambda: job_enqueue(job_pk=job.pk))
    log_job_event("created", job, source=source, n=job.n, edit=bool(edit_inputs))
    return job


def _reserve(job: Job, *, profile, api_key, retry: bool = False) -> None:
    """The usage ledger's check and hold for the job's images (QuotaExceeded if refused)."""
    ledger.job_reserve(
        user=job.user,
        profile=profile,
        team=job.team,
        api_key=api_key,
        job_ref=job.public_id,
        backend=job.backend,
        model=job.model,
        width=job.width,
        height=job.height,
        steps=job.num_inference_steps,
        images=job.n,
        replace=retry,
    )


def _revision_fields(params: GenerationParams, revision: str) -> dict:
    if not params.revised_prompt:
        return {}
    edited = revision == Job.Enhancement.EDITED
    return {
        "enhancement": Job.Enhancement.EDITED if edited else Job.Enhancement.ACCEPTED,
        "enhancement_note": (
            "The revision was edited before submitting."
            if edited
            else "The revision was accepted before submitting."
        ),
    }


def job_enqueue(*, job_pk: int, delay: float = 0) -> None:
    """Hand the job to a worker (now, or after `delay` seconds)."""
    signals.job_ready.send(sender=Job, job_pk=job_pk, delay=delay)


def job_fail(*, job: Job, code: str, message: str, expected_attempts: int | None = None) -> bool:
    """Mark an active job failed with a reason; False when it had already ended (or another
    attempt owns it, when `expected_attempts` is given)."""
    now = timezone.now()
    filters = Q(pk=job.pk, status__in=Job.ACTIVE)
    if expected_attempts is not None:
        filters &= Q(attempts=expected_attempts)
    updated = Job.objects.filter(filters).update(
        status=Job.Status.FAILED,
        error_code=code,
        error_message=message[:2000],
        finished_at=now,
        lease_expires_at=None,
        updated_at=now,
    )
    if updated:
        ledger.reservation_close(job_ref=job.public_id, outcome=Job.Status.FAILED)
        job.refresh_from_db()
        log_job_event("failed", job, code=code)
        job_announce_finished(job_pk=job.pk)
    return bool(updated)


def job_announce_finished(*, job_pk: int) -> None:
    """Tell receivers (webhooks) that a job succeeded, failed or was canceled. A failing
    receiver is logged by its own code and never undoes the job's result."""
    signals.job_finished.send_robust(sender=Job, job_pk=job_pk)


def job_mark_canceled(*, job: Job, from_statuses: tuple[str, ...] = Job.ACTIVE) -> bool:
    """An active job stops as canceled (its worker saw the request, the worker is gone, or a
    path that would have queued it again found the request). Announced like any end."""
    now = timezone.now()
    updated = Job.objects.filter(pk=job.pk, status__in=from_statuses).update(
        status=Job.Status.CANCELED,
        cancel_requested=True,
        finished_at=now,
        lease_expires_at=None,
        next_attempt_at=None,
        progress=0.0,
        updated_at=now,
    )
    if updated:
        ledger.reservation_close(job_ref=job.public_id, outcome=Job.Status.CANCELED)
        log_job_event("canceled", job)
        job_announce_finished(job_pk=job.pk)
    return bool(updated)


def job_cancel_if_requested(*, job: Job) -> bool:
    """Honour a cancel request: True (and the job is canceled) when one was made.

    Every path that would put a job back in the queue or keep it running asks this first,
    so no path leaves a cancel-requested job `queued` (where no worker would ever claim it).
    """
    if not Job.objects.filter(pk=job.pk, cancel_requested=True, status__in=Job.ACTIVE).exists():
        return False
    job_mark_canceled(job=job)
    return True


def job_cancel(*, job: Job) -> Job:
    """Cancel a queued job at once; ask a running one to stop between steps."""
    now = timezone.now()
    # The flag first: from here on no worker claims it (job_claim refuses it), so a queued
    # job can be ended at once, and a running one sees the flag between steps.
    Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).update(
        cancel_requested=True, updated_at=now
    )
    job_mark_canceled(job=job, from_statuses=(Job.Status.QUEUED,))
    job.refresh_from_db()
    return job


class JobNotRetryable(Exception):
    pass


def job_retry(*, job: Job, api_key=None) -> Job:
    """Put a failed or canceled job back in the queue with a fresh attempt budget; its work
    is checked against the limits and reserved again, today."""
    prompt_check(prompt=job.prompt)  # the blocklist may have grown since it was submitted
    if job.revised_prompt:
        prompt_check(prompt=job.revised_prompt)
    with transaction.atomic():
        profile = lock_user_profile(user=job.user)
        now = timezone.now()
        updated = Job.objects.filter(
            pk=job.pk, status__in=[Job.Status.FAILED, Job.Status.CANCELED]
        ).update(
            status=Job.Status.QUEUED,
            # The one team rule: its images go to the team the owner is in now.
            team=profile.current_team,
            attempts=0,
            progress=0.0,
            cancel_requested=False,
            error_code="",
            error_message="",
            started_at=None,
            finished_at=None,
            next_attempt_at=None,
            enqueued_at=now,
            updated_at=now,
        )
        if not updated:
            raise JobNotRetryable("Only failed or canceled jobs can be retried.")
        job.team = profile.current_team  # the team the retried work is spent for
        _reserve(job, profile=profile, api_key=api_key, retry=True)  # refused: rolls back
        transaction.on_commit(lambda: job_enqueue(job_pk=job.pk))
    job.refresh_from_db()
    log_job_event("requeued", job)
    return job
