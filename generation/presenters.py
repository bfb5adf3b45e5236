"""JSON shapes of jobs, images and webhook deliveries, shared by the job page's live view, the
API and webhooks."""

from collections.abc import Callable

from core.urls import public_path
from generation.models import Image, Job, WebhookDelivery
from generation.params import GenerationParams
from generation.signed_urls import image_signed_urls


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


def api_job_payload(job: Job, request, *, prefetched: bool = False) -> dict:
    """The job JSON of the API: job_payload with signed image URLs, plus its webhook."""
    images = None
    deliveries = None
    if prefetched:
        images = list(job.images.all()) if job.status == Job.Status.SUCCEEDED else []
        deliveries = list(job.webhook_deliveries.all())
    return {
        **job_payload(job, request, images=images, urls=image_signed_urls),
        "webhook": webhook_payload(job, deliveries),
    }
