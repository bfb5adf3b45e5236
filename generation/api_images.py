"""The OpenAI-compatible /v1/images/generations: runs a job and waits for its images."""

import base64
import time

from django.conf import settings
from ninja import Router

from core.errors import ApiError, ErrorOut
from generation import selectors
from generation.api_requests import (
    IDEMPOTENCY_HEADER,
    check_model,
    job_path,
    job_submit,
    params_from,
    preset_for,
    webhook_url_for,
)
from generation.files import ImageWithheld, image_open
from generation.imaging import encode_delivery
from generation.models import Image, Job
from generation.schemas import ImageGenerationIn, ImagesResponseOut
from generation.signed_urls import image_signed_urls
from usage import ledger as usage_ledger

router = Router(tags=["generation"])

# Job failures that are the request's fault (codes of generation.backends.remote), answered
# 400; any other failure is the backend's, a 502.
_CLIENT_FAULT_CODES = {"content_policy", "bad_request", "source_flagged"}


# operation_id: the one it had in generation/api.py (clients may know it).
@router.post(
    "/images/generations",
    response={200: ImagesResponseOut, 502: ErrorOut, 504: ErrorOut},
    exclude_none=True,
    url_name="images-generations",
    operation_id="generation_api_images_generations",
    summary="Generate images and wait for them (OpenAI-compatible)",
)
def images_generations(
    request,
    payload: ImageGenerationIn,
    idempotency_key: str | None = IDEMPOTENCY_HEADER,
):
    """Runs a job and waits up to API_SYNC_WAIT_SECONDS for it. When the wait runs out the
    answer is a 504 whose `error.job_id` names the job: poll `GET /v1/jobs/{id}`."""
    check_model(payload.model)
    if payload.background == "transparent":
        raise ApiError(
            400,
            "background 'transparent' is not supported: Qwen-Image draws opaque images. Use "
            "auto or opaque.",
            code="invalid_parameter",
            param="background",
        )
    fmt = payload.response_format or (
        payload.output_format if payload.output_format in ("url", "b64_json") else "url"
    )
    file_format = payload.output_format if payload.output_format in ("jpeg", "webp") else "png"
    preset = preset_for(request, payload.preset)
    params = params_from(payload, preset=preset)
    job, created = job_submit(
        request,
        payload,
        params,
        idempotency_key,
        webhook_url=webhook_url_for(payload.webhook_url),
        preset=preset,
        output_format=file_format,
        output_compression=payload.output_compression,
        end_user=payload.user or "",
    )
    return sync_answer(request, job, fmt, created=created)


def sync_answer(request, job: Job, fmt: str, *, created: bool):
    """Wait for the job; its images (OpenAI's shape), or the error that says why not."""
    if created or not job.is_active:
        job = _wait_for(job)  # the request that made the job waits within the job's own slot
    else:
        # A replay of a running job's key: its wait holds a concurrency slot of its own
        # (QuotaExceeded, a 429, when none is free), so replays cannot pile up threads.
        with usage_ledger.wait_hold(
            user=request.auth,
            api_key=getattr(request, "api_key", None),
            job_ref=job.public_id,
            seconds=settings.API_SYNC_WAIT_SECONDS,
        ):
            job = _wait_for(job)
    job_ref = {"job_id": str(job.public_id)}
    if job.status == Job.Status.SUCCEEDED:
        # Only what the caller may see now: a replay of the request (Idempotency-Key) must
        # not bring back an image a moderator rejected since (generation.files is the gate).
        images = list(selectors.job_images_for(user=request.auth, job=job))
        try:
            data = [_image_data(image, job, fmt, request) for image in images]
        except ImageWithheld:
            data = []
        if not data:
            raise ApiError(
                410,
                "The images of this job were removed by a moderator.",
                code="images_withheld",
                extra=job_ref,
            )
        return {"created": int(job.created_at.timestamp()), "data": data, "job_id": job.public_id}
    if job.status == Job.Status.FAILED:
        status = 400 if job.error_code in _CLIENT_FAULT_CODES else 502
        raise ApiError(
            status, job.error_message or "Generation failed.", code=job.error_code, extra=job_ref
        )
    if job.status == Job.Status.CANCELED:
        raise ApiError(409, "The job was canceled.", code="job_canceled", extra=job_ref)
    raise ApiError(
        504,
        f"The images are not ready after {settings.API_SYNC_WAIT_SECONDS:g} s; the job goes "
        f"on. Poll GET {job_path(job)} for them.",
        code="generation_timeout",
        extra=job_ref,
        headers={"Location": request.build_absolute_uri(job_path(job))},
    )


def _wait_for(job: Job) -> Job:
    deadline = time.monotonic() + settings.API_SYNC_WAIT_SECONDS
    while True:
        job.refresh_from_db()
        remaining = deadline - time.monotonic()
        if not job.is_active or remaining <= 0:
            return job
        time.sleep(min(settings.API_SYNC_POLL_SECONDS, remaining))


def _image_data(image: Image, job: Job, fmt: str, request) -> dict:
    item = {"revised_prompt": image.revised_prompt or job.revised_prompt or job.prompt}
    if fmt == "b64_json":
        with image_open(image, "file", viewer=request.auth) as handle:
            data = encode_delivery(
                handle.read(), fmt=job.output_format, compression=job.output_compression
            )
        item["b64_json"] = base64.b64encode(data).decode()
    else:
        item["url"] = image_signed_urls(image, request)["url"]
    return item
