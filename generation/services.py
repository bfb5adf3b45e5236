"""Writes for jobs: create, claim, run, finish, fail, cancel, retry, reap."""

import contextlib
import datetime as dt
import secrets
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q, Subquery
from django.utils import timezone

from accounts.services import lock_user_profile, quota_check
from generation.backends import (
    BackendError,
    Canceled,
    GeneratedImage,
    GenerationRequest,
    get_backend,
)
from generation.events import log_job_event
from generation.imaging import InvalidImage, ProcessedImage, process
from generation.models import Image, Job, Visibility
from generation.moderation import prompt_check
from generation.params import SEED_MAX, GenerationParams
from generation.safety import image_safety_check


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
) -> Job:
    """Check the blocklist and quota, fix the seed, write the job `queued`, enqueue it after
    commit. PromptBlocked and QuotaExceeded say why a job was refused."""
    prompt_check(prompt=params.prompt)
    seed = params.seed
    if seed is None:
        seed = secrets.randbelow(SEED_MAX - params.n + 1)
    with transaction.atomic():
        profile = lock_user_profile(user=user)
        quota_check(user=user, images=params.n, profile=profile)
        now = timezone.now()
        job = Job.objects.create(
            user=user,
            team=profile.current_team,
            source=source,
            backend=settings.QWEN_IMAGE_BACKEND,
            model=settings.QWEN_IMAGE_MODEL,
            prompt=params.prompt,
            negative_prompt=params.negative_prompt,
            size_preset=params.size_preset,
            width=params.width,
            height=params.height,
            num_inference_steps=params.num_inference_steps,
            guidance_scale=params.guidance_scale,
            seed=seed,
            acceleration=params.acceleration,
            enable_safety_checker=params.enable_safety_checker,
            n=params.n,
            visibility=visibility,
            parent_image=parent_image,
            idempotency_key=idempotency_key,
            request_hash=request_hash,
            webhook_url=webhook_url,
            enqueued_at=now,
        )
        transaction.on_commit(lambda: _enqueue(job.pk))
    log_job_event("created", job, source=source, n=job.n)
    return job


def _enqueue(job_pk: int, delay: float = 0) -> None:
    from generation import tasks

    priority = _fair_priority(job_pk)
    if delay > 0:
        tasks.run_job.schedule((job_pk,), delay=delay, priority=priority)
    else:
        tasks.run_job(job_pk, priority=priority)


def _fair_priority(job_pk: int) -> int | None:
    """Fair use: minus the number of the owner's other jobs already queued or running.

    Workers take the highest priority first, and FIFO within one priority, so each user's
    first job goes ahead of anybody's second: a big batch cannot starve other users. Per-user
    caps (QUOTA_CONCURRENT_JOBS) bound how much one user can queue at all. None where the
    queue storage has no priorities (then it is plain FIFO).
    """
    from huey.contrib.djhuey import HUEY

    if not getattr(HUEY.storage, "priority", False):
        return None
    owner = Job.objects.filter(pk=job_pk).values("user_id")[:1]
    ahead = (
        Job.objects.filter(user_id=Subquery(owner), status__in=Job.ACTIVE)
        .exclude(pk=job_pk)
        .count()
    )
    return -ahead


def job_params(job: Job) -> dict:
    """The parameters that reproduce a job, in API spelling."""
    return {
        "model": job.model,
        "prompt": job.prompt,
        "negative_prompt": job.negative_prompt,
        "size": {"width": job.width, "height": job.height},
        "size_preset": job.size_preset,
        "num_inference_steps": job.num_inference_steps,
        "guidance_scale": job.guidance_scale,
        "seed": job.seed,
        "acceleration": job.acceleration,
        "enable_safety_checker": job.enable_safety_checker,
        "n": job.n,
        "backend": job.backend,
    }


# --- Claim and run --------------------------------------------------------------------------


def job_claim(*, job_id: int) -> Job | None:
    """Take the job with one conditional UPDATE; None means someone else has it (or it ended).

    Accepts `queued`, or `running` whose lease expired (the worker that had it died).
    """
    now = timezone.now()
    lease = now + dt.timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
    claimable = Q(status=Job.Status.QUEUED) | Q(status=Job.Status.RUNNING, lease_expires_at__lt=now)
    updated = Job.objects.filter(claimable, pk=job_id, cancel_requested=False).update(
        status=Job.Status.RUNNING,
        attempts=F("attempts") + 1,
        lease_expires_at=lease,
        started_at=now,
        progress=0.0,
        updated_at=now,
    )
    if updated != 1:
        return None
    return Job.objects.get(pk=job_id)


@dataclass
class _Reporter:
    """Throttled progress writes that also renew the lease, and a throttled cancel check."""

    job: Job
    min_interval: float = 0.5
    _last_write: float = 0.0
    _last_progress: float = 0.0
    _last_cancel_check: float = 0.0
    _canceled: bool = False

    def progress(self, fraction: float) -> None:
        fraction = max(0.0, min(1.0, float(fraction)))
        now = time.monotonic()
        if fraction < 1.0 and now - self._last_write < self.min_interval:
            return
        if fraction <= self._last_progress and now - self._last_write < self.min_interval:
            return
        self._last_write, self._last_progress = now, fraction
        lease = timezone.now() + dt.timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
        Job.objects.filter(
            pk=self.job.pk, status=Job.Status.RUNNING, attempts=self.job.attempts
        ).update(progress=fraction, lease_expires_at=lease, updated_at=timezone.now())

    def should_cancel(self) -> bool:
        now = time.monotonic()
        if not self._canceled and now - self._last_cancel_check >= self.min_interval / 2:
            self._last_cancel_check = now
            self._canceled = Job.objects.filter(pk=self.job.pk, cancel_requested=True).exists()
        return self._canceled


def _request_for(job: Job) -> GenerationRequest:
    return GenerationRequest(
        model=job.model,
        prompt=job.prompt,
        negative_prompt=job.negative_prompt,
        width=job.width,
        height=job.height,
        num_inference_steps=job.num_inference_steps,
        guidance_scale=job.guidance_scale,
        acceleration=job.acceleration,
        enable_safety_checker=job.enable_safety_checker,
        seeds=[job.seed + i for i in range(job.n)],
    )


def job_run(*, job_id: int) -> None:
    """Claim the job, run it on its backend, store the images, mark it finished."""
    job = job_claim(job_id=job_id)
    if job is None:
        return
    log_job_event("claimed", job)
    started = time.monotonic()
    reporter = _Reporter(job)
    try:
        backend = get_backend(job.backend)
        results = backend.generate(
            _request_for(job), on_progress=reporter.progress, should_cancel=reporter.should_cancel
        )
        generated = time.monotonic()
        if Job.objects.filter(pk=job.pk, cancel_requested=True).exists():
            raise Canceled()
        phases = _job_store_results(job, results)
    except Canceled:
        _job_mark_canceled(job)
    except BackendError as error:
        _job_handle_error(job, error)
    except InvalidImage as error:
        _job_handle_error(job, BackendError(str(error), code="invalid_image", retryable=True))
    except Exception as error:  # a bug or an unexpected fault must not leave the job running
        _job_handle_error(
            job,
            BackendError(
                f"Internal error while generating ({type(error).__name__}).",
                code="internal_error",
                retryable=True,
            ),
        )
        raise
    else:
        if phases is None:
            return
        # Where the time went (seconds): the backend call, decoding/re-encoding/thumbnails and
        # the safety check, then files and rows. bench/pipeline.py reads these.
        log_job_event(
            "succeeded",
            job,
            duration=time.monotonic() - started,
            generate=generated - started,
            **phases,
        )


def _job_store_results(job: Job, results: list[GeneratedImage]) -> dict[str, float] | None:
    """Process and store the images; {"process": s, "store": s} spent on each, or None when
    another worker took the job over (its run logs the outcome)."""
    if len(results) != job.n:
        raise BackendError(
            f"The backend returned {len(results)} images; {job.n} were requested.",
            code="wrong_image_count",
            retryable=True,
        )
    # Our own check runs on every image. enable_safety_checker only asks the provider to run
    # its checker; whatever it reports (has_nsfw_concepts, a blanked image) is used too.
    written: list[str] = []
    rows: list[Image] = []
    phases = {"process": 0.0, "store": 0.0}
    try:
        for index, result in enumerate(results):
            clock = time.monotonic()
            parameters = {**job_params(job), "seed": result.seed, "n": 1, "job": str(job.public_id)}
            processed = process(result.data, parameters=parameters)
            safety = image_safety_check(processed.pil, provider_nsfw=result.provider_nsfw)
            phases["process"] += time.monotonic() - clock
            clock = time.monotonic()
            file_name, thumb_name = _write_files(job, index, processed, written)
            phases["store"] += time.monotonic() - clock
            rows.append(
                Image(
                    job=job,
                    index=index,
                    user_id=job.user_id,
                    team_id=job.team_id,
                    visibility=job.visibility,
                    seed=result.seed,
                    file=file_name,
                    thumbnail=thumb_name,
                    width=processed.width,
                    height=processed.height,
                    byte_size=len(processed.png),
                    sha256=processed.sha256,
                    pixel_sha256=processed.pixel_sha256,
                    revised_prompt=result.revised_prompt or "",
                    provider_nsfw=result.provider_nsfw,
                    safety_score=safety.score,
                    safety_note=safety.note[:500],
                    moderation_state=(
                        Image.Moderation.FLAGGED if safety.flagged else Image.Moderation.CLEAR
                    ),
                    review_requested_at=timezone.now() if safety.flagged else None,
                )
            )
        clock = time.monotonic()
        with transaction.atomic():
            now = timezone.now()
            updated = Job.objects.filter(
                pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, cancel_requested=False
            ).update(
                status=Job.Status.SUCCEEDED,
                progress=1.0,
                finished_at=now,
                lease_expires_at=None,
                error_code="",
                error_message="",
                updated_at=now,
            )
            if updated != 1:
                raise _LostJob()
            Image.objects.bulk_create(rows)
        phases["store"] += time.monotonic() - clock
    except _LostJob:
        # Canceled meanwhile, or another worker took over after our lease ran out. In the
        # second case it writes the same deterministic names, so only a cancel deletes files.
        job.refresh_from_db()
        if job.cancel_requested:
            _delete_files(written)
            raise Canceled() from None
        log_job_event("lost_lease", job)
        return None
    except BaseException:
        _delete_files(written)
        raise
    from generation import hooks

    hooks.job_finished(job.pk)
    return phases


class _LostJob(Exception):
    pass


def _write_files(job: Job, index: int, processed: ProcessedImage, written: list[str]):
    base = f"images/{job.public_id}/{index}"
    file_name = default_storage.save(f"{base}.png", ContentFile(processed.png))
    written.append(file_name)
    thumb_name = default_storage.save(f"{base}.thumb.webp", ContentFile(processed.thumbnail))
    written.append(thumb_name)
    return file_name, thumb_name


def _delete_files(names: list[str]) -> None:
    for name in names:
        # Best effort: a storage hiccup here must not hide the error being handled.
        with contextlib.suppress(Exception):
            default_storage.delete(name)


def _backoff(attempt: int) -> float:
    delay = settings.GENERATION_RETRY_BASE_DELAY * (2 ** max(0, attempt - 1))
    return min(delay, settings.GENERATION_RETRY_MAX_DELAY)


def _job_handle_error(job: Job, error: BackendError) -> None:
    now = timezone.now()
    if error.retryable and job.attempts < settings.GENERATION_MAX_ATTEMPTS:
        delay = max(error.retry_after or 0.0, _backoff(job.attempts))
        delay = min(delay, max(settings.GENERATION_RETRY_MAX_DELAY, error.retry_after or 0.0))
        updated = Job.objects.filter(
            pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts
        ).update(
            status=Job.Status.QUEUED,
            lease_expires_at=None,
            next_attempt_at=now + dt.timedelta(seconds=delay),
            enqueued_at=now + dt.timedelta(seconds=delay),
            error_code=error.code,
            error_message=error.message,
            updated_at=now,
        )
        if updated:
            log_job_event("retried", job, code=error.code, delay=delay)
            transaction.on_commit(lambda: _enqueue(job.pk, delay=delay))
        return
    message = error.message
    if error.retryable:
        message = f"{message} (gave up after {job.attempts} attempts)"
    job_fail(job=job, code=error.code, message=message)


def job_fail(*, job: Job, code: str, message: str, expected_attempts: int | None = None) -> bool:
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
        job.refresh_from_db()
        log_job_event("failed", job, code=code)
        from generation import hooks

        hooks.job_finished(job.pk)
    return bool(updated)


def _job_mark_canceled(job: Job) -> None:
    now = timezone.now()
    updated = Job.objects.filter(pk=job.pk, status__in=Job.ACTIVE).update(
        status=Job.Status.CANCELED, finished_at=now, lease_expires_at=None, updated_at=now
    )
    if updated:
        log_job_event("canceled", job)


def job_cancel(*, job: Job) -> Job:
    """Cancel a queued job at once; ask a running one to stop between steps."""
    now = timezone.now()
    Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED).update(
        status=Job.Status.CANCELED, cancel_requested=True, finished_at=now, updated_at=now
    )
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING).update(
        cancel_requested=True, updated_at=now
    )
    job.refresh_from_db()
    if job.status == Job.Status.CANCELED:
        log_job_event("canceled", job)
    return job


class JobNotRetryable(Exception):
    pass


def job_retry(*, job: Job) -> Job:
    """Put a failed or canceled job back in the queue with a fresh attempt budget."""
    prompt_check(prompt=job.prompt)  # the blocklist may have grown since it was submitted
    with transaction.atomic():
        profile = lock_user_profile(user=job.user)
        quota_check(user=job.user, images=job.n, profile=profile)
        now = timezone.now()
        updated = Job.objects.filter(
            pk=job.pk, status__in=[Job.Status.FAILED, Job.Status.CANCELED]
        ).update(
            status=Job.Status.QUEUED,
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
        transaction.on_commit(lambda: _enqueue(job.pk))
    job.refresh_from_db()
    log_job_event("requeued", job)
    return job


# --- Reaper ---------------------------------------------------------------------------------


def jobs_reap() -> dict[str, int]:
    """Recover what the queue lost: expired leases, lost enqueues, jobs past the attempt cap."""
    now = timezone.now()
    counts = {"requeued": 0, "failed": 0, "canceled": 0, "reenqueued": 0}
    expired = Job.objects.filter(status=Job.Status.RUNNING, lease_expires_at__lt=now)
    for job in expired:
        if job.cancel_requested:
            _job_mark_canceled(job)
            counts["canceled"] += 1
        elif job.attempts >= settings.GENERATION_MAX_ATTEMPTS:
            if job_fail(
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
                pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts
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
                _enqueue(job.pk)
                counts["requeued"] += 1
    stale = now - dt.timedelta(seconds=settings.GENERATION_REQUEUE_AFTER_SECONDS)
    for job in Job.objects.filter(status=Job.Status.QUEUED, enqueued_at__lt=stale):
        if Job.objects.filter(pk=job.pk, status=Job.Status.QUEUED, enqueued_at__lt=stale).update(
            enqueued_at=now
        ):
            log_job_event("requeued", job, reason="enqueue_lost")
            _enqueue(job.pk)
            counts["reenqueued"] += 1
    return counts
