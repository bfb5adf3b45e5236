"""JSON shapes of jobs and images, shared by the job page's live view and the API."""

from collections.abc import Callable

from core.urls import public_path
from generation.models import Image, Job
from generation.params import GenerationParams


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
        images = list(job.images.order_by("index")) if job.status == Job.Status.SUCCEEDED else []
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
    }
