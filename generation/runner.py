"""The runner: claim a job, run it on its backend with progress, store its images, finish it.

Retryable faults go back to the queue with backoff; everything else fails the job with a
clear message. Nothing here leaves a job `running` without a lease or a half-written image.
"""

import contextlib
import dataclasses
import datetime as dt
import hashlib
import inspect
import time
from dataclasses import dataclass

from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from generation import lifecycle
from generation.backends import (
    BackendError,
    Canceled,
    GeneratedImage,
    GenerationRequest,
    get_backend,
)
from generation.backends import metrics as backend_metrics
from generation.edits.run import edit_provenance_sources, edit_request, edit_result_finish
from generation.enhancement import job_enhance
from generation.events import log_job_event
from generation.imaging import InvalidImage, ProcessedImage, process
from generation.models import Image, Job
from generation.params import GenerationParams
from generation.presenters import job_params
from generation.provenance import Source, provenance_apply
from generation.safety import image_safety_check
from usage import ledger


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
        ready_images=[],
        updated_at=now,
    )
    if updated != 1:
        # A queued job whose cancel was requested is never claimed: end it here, or it
        # would wait in the queue for ever.
        job = Job.objects.filter(pk=job_id, status=Job.Status.QUEUED, cancel_requested=True)
        if stale := job.first():
            lifecycle.job_mark_canceled(job=stale, from_statuses=(Job.Status.QUEUED,))
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
    # The backend reported progress past 0: its work has started. A bare 0.0 (a lease renewal
    # after the local model's load, before its prompt and memory checks) is not work.
    began: bool = False

    def progress(self, fraction: float) -> None:
        self.began = self.began or fraction > 0
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


def job_run(*, job_id: int) -> None:
    """Claim the job, run it on its backend, store the images, mark it finished. Every unit
    of the attempt is in the usage ledger before the backend starts, and settled after."""
    job = job_claim(job_id=job_id)
    if job is None:
        return
    log_job_event("claimed", job)
    started = time.monotonic()
    reporter = _Reporter(job)
    storer = None
    meter = None
    try:
        backend = get_backend(job.backend, edit=True) if job.edit else get_backend(job.backend)
        job_enhance(job=job)  # bounded; falls back to the original prompt, never raises
        # After the enhancer: an `auto` size may have been chosen again from the revision.
        meter = _work_start(job, backend)
        params = GenerationParams.from_job(job)
        # An edit carries its stored sources; pixels outside its mask stay the source's.
        request = edit_request(job, params) if job.edit else params.backend_request(model=job.model)
        if meter.per_call:
            request = dataclasses.replace(request, meter=meter)
        storer = _Storer(job, params, request)
        # Backends that hand over each image as it is ready take `on_image`: the runner
        # stores it at once and the pages show it before the job ends.
        streams = _accepts_on_image(backend)
        try:
            results = backend.generate(
                request,
                on_progress=reporter.progress,
                should_cancel=reporter.should_cancel,
                **({"on_image": storer.add} if streams else {}),
            )
        except BackendError as error:
            backend_metrics.backend_call_observed(
                backend=job.backend,
                seconds=time.monotonic() - started,
                code=error.code,
                retryable=error.retryable,
            )
            raise
        generated = time.monotonic()
        backend_metrics.backend_call_observed(backend=job.backend, seconds=generated - started)
        if Job.objects.filter(pk=job.pk, cancel_requested=True).exists():
            raise Canceled()
        phases = _job_store_results(job, results, storer)
    except Canceled:
        _discard(storer)
        _settle(meter, "canceled", began=reporter.began)
        lifecycle.job_mark_canceled(job=job)
    except BackendError as error:
        _discard(storer)
        _settle(meter, "failed", code=error.code, began=reporter.began)
        _job_handle_error(job, error)
    except InvalidImage as error:
        _discard(storer)
        _settle(meter, "failed", code="invalid_image", began=reporter.began)
        _job_handle_error(job, BackendError(str(error), code="invalid_image", retryable=True))
    except Exception as error:  # a bug or an unexpected fault must not leave the job running
        _discard(storer)
        _settle(meter, "failed", code="internal_error", began=reporter.began)
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
            _settle(meter, "lost_lease", code="lost_lease")
            return
        _settle(meter, "succeeded")
        # Where the time went (seconds): the backend call, decoding/re-encoding/thumbnails and
        # the safety check, then files and rows. bench/pipeline.py reads these.
        log_job_event(
            "succeeded",
            job,
            duration=time.monotonic() - started,
            generate=generated - started,
            **phases,
        )


def _work_start(job: Job, backend) -> ledger.WorkMeter:
    """One `started` ledger entry per unit of this attempt: per upstream call for a backend
    that reports its calls, per image otherwise."""
    return ledger.work_start(
        job_ref=job.public_id,
        attempt=job.attempts,
        user_id=job.user_id,
        team_id=job.team_id,
        backend=job.backend,
        model=job.model,
        width=job.width,
        height=job.height,
        steps=job.num_inference_steps,
        images=job.n,
        per_call=getattr(backend, "reports_calls", False),
    )


def _settle(meter, outcome: str, *, code: str = "", began: bool = True) -> None:
    if meter is not None:
        meter.settle(outcome=outcome, code=code, began=began)


def _accepts_on_image(backend) -> bool:
    """Backends that hand over each image as it is ready take an `on_image` callback (all of
    ours do); one without it hands everything over at the end."""
    try:
        return "on_image" in inspect.signature(backend.generate).parameters
    except (TypeError, ValueError):
        return False


def _discard(storer: "_Storer | None") -> None:
    if storer is not None:
        storer.discard()


class _Storer:
    """Processes, checks, signs and writes each image as the backend delivers it (files now,
    rows at the end with `succeeded`), and tells the pages which ones they may already show
    (Job.ready_images: the unflagged ones; /jobs/<id>/preview/<n>/ serves their thumbnails)."""

    def __init__(
        self,
        job: Job,
        params: GenerationParams | None = None,
        request: GenerationRequest | None = None,
    ) -> None:
        self.job = job
        self.params = params or GenerationParams.from_job(job)
        self.request = request  # an edit's: its mask decides which pixels may change
        self.rows: dict[int, Image] = {}
        self.written: list[str] = []
        self.phases = {"process": 0.0, "store": 0.0}
        # An edit is signed as c2pa.edited with its sources as ingredients (the first its parent).
        self.sources = [
            Source(data=data, title=title) for data, title in edit_provenance_sources(job)
        ]

    def add(self, index: int, result: GeneratedImage) -> None:
        if index in self.rows:
            return
        if self.request is not None:
            result = edit_result_finish(self.request, result)
        job = self.job
        clock = time.monotonic()
        parameters = {
            **job_params(job, params=self.params.for_image(result.seed)),
            "job": str(job.public_id),
        }
        processed = process(result.data, parameters=parameters)
        safety = image_safety_check(
            processed.pil, provider_nsfw=result.provider_nsfw, preview=processed.preview
        )
        self.phases["process"] += time.monotonic() - clock
        clock = time.monotonic()
        processed, stamp = _stamp(job, index, processed, parameters, sources=self.sources)
        self.phases["provenance"] = self.phases.get("provenance", 0.0) + time.monotonic() - clock
        clock = time.monotonic()
        file_name, thumb_name = _write_files(job, index, processed, self.written)
        self.phases["store"] += time.monotonic() - clock
        self.rows[index] = Image(
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
            thumbnail_byte_size=len(processed.thumbnail),
            provenance=stamp.state,
            provenance_note=stamp.note[:500],
            sha256=processed.sha256,
            pixel_sha256=processed.pixel_sha256,
            revised_prompt=result.revised_prompt or job.revised_prompt,
            provider_nsfw=result.provider_nsfw,
            safety_score=safety.score,
            safety_note=safety.note[:500],
            moderation_state=(
                Image.Moderation.FLAGGED if safety.flagged else Image.Moderation.CLEAR
            ),
            review_requested_at=timezone.now() if safety.flagged else None,
        )
        shown = sorted(i for i, row in self.rows.items() if row.moderation_state in Image.SHOWABLE)
        Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
            ready_images=shown
        )

    def discard(self) -> None:
        """The run ends without success: its files go (a retry writes the same names)."""
        _delete_files(self.written)
        self.written.clear()


def _job_store_results(
    job: Job, results: list[GeneratedImage], storer: _Storer
) -> dict[str, float] | None:
    """Process and store the images not stored yet, then the rows and `succeeded` in one
    transaction; the time spent ({"process": s, "store": s, "provenance": s}), or None when
    another worker took the job over (its run logs the outcome)."""
    if len(results) != job.n:
        raise BackendError(
            f"The backend returned {len(results)} images; {job.n} were requested.",
            code="wrong_image_count",
            retryable=True,
        )
    # Our own check runs on every image. enable_safety_checker only asks the provider to run
    # its checker; whatever it reports (has_nsfw_concepts, a blanked image) is used too.
    phases = storer.phases
    try:
        for index, result in enumerate(results):
            storer.add(index, result)
        rows = [storer.rows[index] for index in range(len(results))]
        clock = time.monotonic()
        with transaction.atomic():
            now = timezone.now()
            updated = Job.objects.filter(
                pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, cancel_requested=False
            ).update(
                status=Job.Status.SUCCEEDED,
                progress=1.0,
                ready_images=[],
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
            storer.discard()
            raise Canceled() from None
        log_job_event("lost_lease", job)
        return None
    except BaseException:
        storer.discard()
        raise
    ledger.reservation_close(job_ref=job.public_id, outcome=Job.Status.SUCCEEDED)
    lifecycle.job_announce_finished(job_pk=job.pk)
    return phases


class _LostJob(Exception):
    pass


# What the C2PA manifest carries of the parameters: how it was made, not what was asked for
# (the prompt stays in the PNG's text as before, out of the signed claim).
_MANIFEST_LEAVES_OUT = {"prompt", "negative_prompt"}


def _stamp(
    job: Job,
    index: int,
    processed: ProcessedImage,
    parameters: dict,
    *,
    sources: list[Source] | tuple = (),
):
    """XMP + C2PA on the PNG (generation.provenance); never raises for a signing fault."""
    stamp = provenance_apply(
        png=processed.png,
        title=f"{job.public_id}-{index}.png",
        model=job.model,
        backend=job.backend,
        generation={
            **{k: v for k, v in parameters.items() if k not in _MANIFEST_LEAVES_OUT},
            "index": index,
        },
        # An edit's source images (Source) make the action c2pa.edited, with ingredients.
        sources=sources,
        creator=job.user.get_username() if settings.PROVENANCE_INCLUDE_CREATOR else None,
    )
    processed = dataclasses.replace(
        processed, png=stamp.png, sha256=hashlib.sha256(stamp.png).hexdigest()
    )
    return processed, stamp


def _write_files(job: Job, index: int, processed: ProcessedImage, written: list[str]):
    base = f"images/{job.public_id}/{index}"  # generation.files.preview_thumbnail_name too
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
    # A cancel requested while the call ran wins over a retry or a failure: the user asked
    # for it to stop, and a retried job with the flag set would never be claimed again.
    if lifecycle.job_cancel_if_requested(job=job):
        return
    now = timezone.now()
    if error.retryable and job.attempts < settings.GENERATION_MAX_ATTEMPTS:
        delay = max(error.retry_after or 0.0, _backoff(job.attempts))
        delay = min(delay, max(settings.GENERATION_RETRY_MAX_DELAY, error.retry_after or 0.0))
        updated = Job.objects.filter(
            pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts, cancel_requested=False
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
            transaction.on_commit(lambda: lifecycle.job_enqueue(job_pk=job.pk, delay=delay))
        else:  # canceled in the meantime (or another attempt owns it: then this is a no-op)
            lifecycle.job_cancel_if_requested(job=job)
        return
    message = error.message
    if error.retryable:
        message = f"{message} (gave up after {job.attempts} attempts)"
    lifecycle.job_fail(job=job, code=error.code, message=message)
