"""JSON shapes of jobs, images and webhook deliveries, shared by the job page's live view, the
API and webhooks."""

from collections.abc import Callable

from django.conf import settings

from core.urls import public_path
from generation.models import Image, Job, WebhookDelivery
from generation.params import GenerationParams
from generation.signed_urls import image_signed_urls
from usage.selectors import usage_for_jobs


def job_params(job: Job, *, params: GenerationParams | None = None) -> dict:
    """The parameters that reproduce a job (or, given `params.for_image(seed)`, one of its
    images), in API spelling, with the model and backend that ran it."""
    params = params or GenerationParams.from_job(job)
    return {"model": job.model, **params.as_api(), "backend": job.backend}


def image_urls(image: Image, request=None) -> dict:
    url = public_path("image-file", image.public_id)
    thumb = public_path("image-thumbnail", image.public_id)
    if request is not None:
        url, thumb = request.build_absolute_uri(url), request.build_absolute_uri(thumb)
    return {"url": url, "thumbnail_url": thumb}


# Builds {"url", "thumbnail_url"} for an image: the session-checked page URLs by default; the
# API passes generation.signed_urls.image_signed_urls so clients without a session can fetch.
UrlBuilder = Callable[[Image, object], dict]


def image_payload(image: Image, request=None, urls: UrlBuilder | None = None) -> dict:
    return {
        "id": str(image.public_id),
        "job_id": str(image.job.public_id),
        "index": image.index,
        "seed": image.seed,
        "width": image.width,
        "height": image.height,
        "byte_size": image.byte_size,
        "sha256": image.sha256,
        "visibility": image.visibility,
        "moderation_state": image.moderation_state,
        "revised_prompt": image.revised_prompt,
        "created_at": image.created_at.isoformat(),
        **(urls or image_urls)(image, request),
    }


def job_payload(
    job: Job, request=None, images: list[Image] | None = None, urls: UrlBuilder | None = None
) -> dict:
    if images is None:
        images = (
            list(job.images.filter(deleted_at__isnull=True).order_by("index"))
            if job.status == Job.Status.SUCCEEDED
            else []
        )
    return {
        "id": str(job.public_id),
        "status": job.status,
        "progress": round(job.progress, 4),
        "params": job_params(job),
        "error": (
            {"code": job.error_code, "message": job.error_message}
            if job.error_code and job.status != Job.Status.SUCCEEDED
            else None
        ),
        "attempts": job.attempts,
        "source": job.source,
        "created_at": job.created_at.isoformat(),
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "wait_seconds": job.wait_seconds,
        "run_seconds": job.duration_seconds,
        "images": [image_payload(image, request, urls) for image in images],
        "enhancement": (
            {"status": job.enhancement, "note": job.enhancement_note} if job.enhancement else None
        ),
        "preset": _preset_ref(job),
        "output_format": job.output_format,
    }


def _preset_ref(job: Job) -> dict | None:
    if job.preset_id is None:
        return None
    version = job.preset
    return {
        "id": str(version.preset.public_id),
        "name": version.preset.name,
        "version": version.number,
    }


def webhook_payload(job: Job, deliveries: list[WebhookDelivery] | None = None) -> dict | None:
    """The job's webhook and its deliveries, as the owner sees them in the job JSON."""
    if not job.webhook_url:
        return None
    if deliveries is None:
        deliveries = list(job.webhook_deliveries.all())
    return {
        "url": job.webhook_url,
        "deliveries": [
            {
                "id": str(d.public_id),
                "event": d.event,
                "status": d.status,
                "attempts": d.attempts,
                "last_status_code": d.last_status_code,
                "last_error": d.last_error,
                "created_at": d.created_at.isoformat(),
                "last_attempt_at": d.last_attempt_at.isoformat() if d.last_attempt_at else None,
                "next_attempt_at": (
                    d.next_attempt_at.isoformat()
                    if d.next_attempt_at and d.status == WebhookDelivery.Status.PENDING
                    else None
                ),
                "delivered_at": d.delivered_at.isoformat() if d.delivered_at else None,
            }
            for d in deliveries
        ],
    }


def api_job_payload(
    job: Job, request, *, prefetched: bool = False, usage=None, fresh: bool = False
) -> dict:
    """The job JSON of the API: job_payload with signed image URLs, plus its webhook and what
    its work used and cost (from the usage ledger; `usage` when read for a whole page)."""
    images = None
    deliveries = None
    if prefetched:
        images = list(job.images.all()) if job.status == Job.Status.SUCCEEDED else []
        deliveries = list(job.webhook_deliveries.all())
    if usage is None:
        active = [job.public_id] if job.is_active else []
        usage = usage_for_jobs([job.public_id], active_refs=active, fresh=fresh)[job.public_id]
    work, cost = usage.as_api(settings.USAGE_CURRENCY)
    return {
        **job_payload(job, request, images=images, urls=image_signed_urls),
        "webhook": webhook_payload(job, deliveries),
        "usage": work,
        "cost": cost,
    }


# --- Words for a job's state (the Create feed, My jobs, the job page) ---------------------

# What a person can do about a failed job, by the error code's family (first match wins).
ADVICE = (
    (
        ("rate_limited", "upstream_error", "upstream_timeout", "worker_lost"),
        "The image service was busy or unreachable: retry in a minute.",
    ),
    (("content_policy", "prompt_blocked"), "Change the prompt and try again."),
    (("invalid_size", "invalid_request", "image_too_large"), "Edit the settings and try again."),
    (("not_configured", "local_model"), "The image service is not set up: tell the administrator."),
    (("out_of_memory",), "Try a smaller size or fewer images."),
)
DEFAULT_ADVICE = "Retry it, or edit the prompt and settings and try again."


def job_advice(job: Job) -> str:
    code = job.error_code or ""
    for prefixes, advice in ADVICE:
        if code.startswith(prefixes):
            return advice
    return DEFAULT_ADVICE


def _ordinal(number: int) -> str:
    suffix = (
        "th" if 10 <= number % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    )
    return f"{number}{suffix}"


def _about(seconds: float) -> str:
    if seconds < 60:
        return f"about {max(1, round(seconds))} s"
    return f"about {round(seconds / 60)} min"


def job_phase(job: Job, estimate=None) -> str:
    """One sentence for the job's state, so no state is told by colour alone.
    `estimate`: a generation.selectors.QueueEstimate for a queued job."""
    if job.status == Job.Status.QUEUED:
        if job.error_message:
            return f"Retrying soon (attempt {job.attempts + 1}): {job.error_message}"
        if estimate is None:
            return "Queued"
        place = (
            "next in line" if estimate.position == 1 else f"{_ordinal(estimate.position)} in line"
        )
        wait = f" (starts in {_about(estimate.wait_seconds)})" if estimate.wait_seconds else ""
        return f"Queued, {place}{wait}"
    if job.status == Job.Status.RUNNING:
        if job.cancel_requested:
            return "Stopping…"
        if job.progress >= 1:
            return "Saving images…"
        if job.progress > 0:
            return f"Running · {round(job.progress * 100)} %"
        return "Starting…"
    if job.status == Job.Status.SUCCEEDED:
        took = job.duration_seconds
        return f"Done in {took:.1f} s" if took is not None else "Done"
    if job.status == Job.Status.FAILED:
        return f"Failed: {job.error_message or 'no reason was recorded.'}"
    return "Canceled"


def job_render_key(job: Job) -> str:
    """Changes whenever the job's card must be drawn again (not on mere progress)."""
    ready = len(job.ready_images or []) if job.status == Job.Status.RUNNING else 0
    return f"{job.status}.{int(job.cancel_requested)}.{len(job.images.all())}.{ready}"


def job_live_payload(job: Job, request=None, estimate=None) -> dict:
    """The job's JSON (job_payload, unchanged) plus what the pages' live views show: the
    phase in words, the queue place and wait, and the card's render key. Additive only."""
    return {
        **job_payload(job, request, images=sorted(job.images.all(), key=lambda i: i.index)),
        "phase": job_phase(job, estimate),
        "queue_position": estimate.position if estimate else None,
        "wait_seconds": round(estimate.wait_seconds, 1)
        if estimate and estimate.wait_seconds is not None
        else None,
        "cancel_requested": job.cancel_requested,
        # No consumer serves the job's queue (a local job without a GPU worker): say so.
        "notice": estimate.notice if estimate else "",
        # Images stored before the job ends (their thumbnails: /jobs/<id>/preview/<index>/).
        "ready_images": list(job.ready_images or []) if job.status == Job.Status.RUNNING else [],
        "render_key": job_render_key(job),
    }
