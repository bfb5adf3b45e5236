"""/v1 endpoints owned by the generation app: OpenAI-compatible images, async jobs, webhooks."""

import base64
import datetime as dt
import time
import uuid
from typing import Annotated, Literal

import pydantic
from django.conf import settings
from django.http import HttpResponse
from django.urls import reverse
from ninja import Header, Query, Router
from ninja.responses import Status

from core.cursors import CURSOR_PATTERN, cursor_decode, cursor_encode
from core.errors import ApiError, ErrorOut
from core.time import rfc3339_datetime
from core.webhook_urls import WebhookUrlRejected, webhook_url_check
from generation import lifecycle, retention, selectors
from generation.edits.payloads import edit_from_json
from generation.edits.sources import PreparedEdit
from generation.files import ImageWithheld, image_file_response, image_open
from generation.idempotency import (
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    IdempotencyConflict,
    InvalidIdempotencyKey,
    idempotency_key_check,
    job_create_idempotent,
    request_fingerprint,
)
from generation.imaging import encode_delivery
from generation.models import Image, Job, PresetVersion
from generation.params import GenerationParams, resolve_size
from generation.presenters import api_job_payload
from generation.presets.selectors import PresetNotFound, preset_usable
from generation.retention.trash import JobStillRunning
from generation.schemas import (
    EstimateOut,
    GenerationFieldsIn,
    ImageGenerationIn,
    ImagesResponseOut,
    JobIn,
    JobListOut,
    JobOut,
    WebhookSecretOut,
)
from generation.signed_urls import InvalidImageToken, image_for_token, image_signed_urls
from generation.sizes import DEFAULT_PRESET
from generation.webhooks import webhook_secret_for, webhook_secret_rotate
from usage import ledger as usage_ledger
from usage import prices as usage_prices
from usage import quotas as usage_quotas
from usage.selectors import usage_for_jobs

router = Router(tags=["generation"])

IDEMPOTENCY_DOC = (
    "Makes the POST safe to repeat: the same key with the same body returns the same job; "
    "with a different body it is a 409."
)
IDEMPOTENCY_HEADER = Header(
    None,
    alias="Idempotency-Key",
    description=IDEMPOTENCY_DOC,
    min_length=1,
    max_length=MAX_KEY_LENGTH,
    pattern=KEY_PATTERN,
)
# Job failures that are the request's fault (codes of generation.backends.remote), answered
# 400; any other failure is the backend's, a 502.
_CLIENT_FAULT_CODES = {"content_policy", "bad_request", "source_flagged"}


# --- Translating requests -------------------------------------------------------------------


def preset_for(request, ref: str | None) -> PresetVersion | None:
    """The current version of the preset the request names (id or name), or a 400."""
    if not ref:
        return None
    try:
        return preset_usable(user=request.auth, ref=ref)
    except PresetNotFound as exc:
        raise ApiError(404, exc.message, code="preset_not_found", param="preset") from None


def params_from(
    payload: GenerationFieldsIn,
    *,
    preset: PresetVersion | None = None,
    edit: PreparedEdit | None = None,
) -> GenerationParams:
    """Validate through GenerationParams (on top of the preset and the quality); a failure is
    a 400 naming the offending field."""
    fields = payload.generation_fields()
    fields.pop("preset", None)
    fields.pop("quality", None)
    try:
        if edit is not None:
            fields["edit"] = edit.params()
        return GenerationParams.build(
            fields, preset=preset.values() if preset else None, quality=payload.quality
        )
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else _model_error_param(fields)
        message = first["msg"].removeprefix("Value error, ")
        raise ApiError(400, message, code="invalid_parameter", param=param) from None
    except ValueError as exc:  # a preset saved under looser limits than today's
        raise ApiError(400, str(exc), code="invalid_parameter", param="preset") from None


def _model_error_param(fields: dict) -> str:
    # GenerationParams' whole-model checks are about the size, or about seed + n.
    try:
        resolve_size(fields.get("size", DEFAULT_PRESET))
    except (ValueError, pydantic.ValidationError):
        return "size"
    return "seed"


def _check_model(model: str | None, *, edit: bool = False) -> None:
    if edit and model in (settings.QWEN_IMAGE_EDIT_MODEL, "qwen-image-edit"):
        return
    if model is not None and model != settings.QWEN_IMAGE_MODEL:
        raise ApiError(
            400,
            f"Unknown model {model!r}: this portal serves {settings.QWEN_IMAGE_MODEL!r}.",
            code="model_not_found",
            param="model",
        )


def _webhook_url(url: str | None) -> str:
    if not url:
        return ""
    try:
        return webhook_url_check(url)
    except WebhookUrlRejected as exc:
        raise ApiError(400, str(exc), code="webhook_url_not_allowed", param="webhook_url") from None


def _submit(request, payload, params: GenerationParams, key: str | None, **job_fields):
    """Create the job (or find the one this Idempotency-Key already made): (job, created)."""
    request_hash = ""
    if key is not None:
        try:
            key = idempotency_key_check(key)
        except InvalidIdempotencyKey as exc:
            raise ApiError(400, str(exc), param="Idempotency-Key") from None
        body = payload.model_dump(mode="json", exclude_unset=True)
        request_hash = request_fingerprint(endpoint=request.path, body=body)
    try:
        return job_create_idempotent(
            user=request.auth,
            params=params,
            idempotency_key=key or "",
            request_hash=request_hash,
            source=Job.Source.API,
            api_key=getattr(request, "api_key", None),
            **job_fields,
        )
    except IdempotencyConflict as exc:
        raise ApiError(
            409,
            "This Idempotency-Key was already used with a different request. Use a new key "
            "for a new request.",
            code="idempotency_key_reused",
            param="Idempotency-Key",
            extra={"job_id": str(exc.job.public_id)},
        ) from None


def _job_path(job: Job) -> str:
    return reverse("api:jobs-get", kwargs={"job_id": job.public_id})


# --- OpenAI-compatible, waits for the images ------------------------------------------------


@router.post(
    "/images/generations",
    response={200: ImagesResponseOut, 502: ErrorOut, 504: ErrorOut},
    exclude_none=True,
    url_name="images-generations",
    summary="Generate images and wait for them (OpenAI-compatible)",
)
def images_generations(
    request,
    payload: ImageGenerationIn,
    idempotency_key: str | None = IDEMPOTENCY_HEADER,
):
    """Runs a job and waits up to API_SYNC_WAIT_SECONDS for it. When the wait runs out the
    answer is a 504 whose `error.job_id` names the job: poll `GET /v1/jobs/{id}`."""
    _check_model(payload.model)
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
    job, created = _submit(
        request,
        payload,
        params,
        idempotency_key,
        webhook_url=_webhook_url(payload.webhook_url),
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
        f"on. Poll GET {_job_path(job)} for them.",
        code="generation_timeout",
        extra=job_ref,
        headers={"Location": request.build_absolute_uri(_job_path(job))},
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


# --- Async jobs -----------------------------------------------------------------------------


@router.post("/jobs", response={202: JobOut}, url_name="jobs-create", summary="Submit a job")
def jobs_create(
    request,
    payload: JobIn,
    response: HttpResponse,
    idempotency_key: str | None = IDEMPOTENCY_HEADER,
):
    """Queues a job and answers at once (202); poll it or give a `webhook_url`. With `edit`,
    the job edits the images it names (yours or ones you may see, or uploads)."""
    _check_model(payload.model, edit=payload.edit is not None)
    edit = edit_from_json(request.auth, payload.edit)
    preset = preset_for(request, payload.preset)
    params = params_from(payload, preset=preset, edit=edit)
    job, created = _submit(
        request,
        payload,
        params,
        idempotency_key,
        webhook_url=_webhook_url(payload.webhook_url),
        visibility=payload.visibility,
        edit_inputs=edit,
        preset=preset,
        output_format=payload.output_format or "png",
        output_compression=payload.output_compression,
        end_user=payload.user or "",
    )
    # No refresh_from_db: the job answers as it was written (queued) or found (a replay).
    response["Location"] = request.build_absolute_uri(_job_path(job))
    if not created:
        response["Idempotent-Replayed"] = "true"
    return Status(202, api_job_payload(job, request, fresh=created))


@router.post(
    "/estimates",
    response=EstimateOut,
    url_name="estimates",
    summary="Estimate the cost of a job without submitting it (dry run)",
)
def estimates(request, payload: JobIn):
    """Takes the body of `POST /v1/jobs`; answers what the job would use and cost with the
    current prices, and whether your limits (user, team, API key) would accept it now.
    Nothing is created or reserved."""
    _check_model(payload.model)
    params = params_from(payload, preset=preset_for(request, payload.preset))
    estimate = usage_prices.estimate(
        backend=settings.QWEN_IMAGE_BACKEND,
        model=settings.QWEN_IMAGE_MODEL,
        width=params.width,
        height=params.height,
        steps=params.num_inference_steps,
        images=params.n,
    )
    scopes = usage_quotas.scopes_for(user=request.auth, api_key=getattr(request, "api_key", None))
    usages, refusal = usage_quotas.quota_preview(
        scopes=scopes, images=estimate.images, cost_micros=estimate.total_micros
    )
    return {
        "object": "estimate",
        **estimate.as_dict(),
        "allowed": refusal is None,
        "refusal": (
            {
                "status": refusal.status,
                "code": refusal.code,
                "message": refusal.message,
                "retry_after": refusal.retry_after,
            }
            if refusal
            else None
        ),
        "budgets": [usage.budget_dict() for usage in usage_quotas.budgets_for(scopes=scopes)],
    }


QueryDateTime = Annotated[dt.datetime, pydantic.BeforeValidator(rfc3339_datetime)]


class JobFilters(pydantic.BaseModel):
    status: Literal["queued", "running", "succeeded", "failed", "canceled"] | None = None
    created_after: QueryDateTime | None = pydantic.Field(
        None, description="RFC 3339 date-time with offset."
    )
    created_before: QueryDateTime | None = pydantic.Field(
        None, description="RFC 3339 date-time with offset."
    )
    limit: int = pydantic.Field(
        settings.API_PAGE_SIZE, ge=1, le=settings.API_MAX_PAGE_SIZE, description="Page size."
    )
    cursor: str | None = pydantic.Field(
        None, pattern=CURSOR_PATTERN, description="next_cursor of the previous page."
    )


def _cursor_for(job: Job) -> str:
    return cursor_encode(job.created_at, job.pk)


def _cursor_position(cursor: str) -> tuple[dt.datetime, int]:
    try:
        return cursor_decode(cursor)
    except ValueError:
        raise ApiError(400, "Invalid cursor.", code="invalid_cursor", param="cursor") from None


@router.get("/jobs", response=JobListOut, url_name="jobs-list", summary="List your jobs")
def jobs_list(request, filters: Query[JobFilters]):
    """Newest first. Follow `next_cursor` while `has_more`; no total is computed."""
    jobs = selectors.jobs_page_for_user(
        user=request.auth,
        limit=filters.limit,
        status=filters.status,
        created_after=filters.created_after,
        created_before=filters.created_before,
        after=_cursor_position(filters.cursor) if filters.cursor else None,
    )
    has_more = len(jobs) > filters.limit
    jobs = jobs[: filters.limit]
    usage = usage_for_jobs(
        [job.public_id for job in jobs],
        active_refs=[job.public_id for job in jobs if job.is_active],
    )
    return {
        "data": [
            api_job_payload(job, request, prefetched=True, usage=usage[job.public_id])
            for job in jobs
        ],
        "has_more": has_more,
        "next_cursor": _cursor_for(jobs[-1]) if has_more else None,
    }


def _job_for(request, job_id: uuid.UUID) -> Job:
    try:
        return selectors.job_get_for_user(user=request.auth, public_id=job_id)
    except Job.DoesNotExist:
        raise ApiError(404, "No such job.", code="job_not_found", param="job_id") from None


@router.get("/jobs/{job_id}", response=JobOut, url_name="jobs-get", summary="Get a job")
def jobs_get(request, job_id: uuid.UUID):
    return api_job_payload(_job_for(request, job_id), request)


@router.post(
    "/jobs/{job_id}/cancel", response=JobOut, url_name="jobs-cancel", summary="Cancel a job"
)
def jobs_cancel(request, job_id: uuid.UUID):
    """A queued job is canceled at once; a running one stops between steps. Canceling a
    canceled job is a no-op; a finished one is a 409."""
    job = _job_for(request, job_id)
    if job.status in (Job.Status.SUCCEEDED, Job.Status.FAILED):
        raise ApiError(
            409, f"The job has already {job.status}; it cannot be canceled.", code="job_finished"
        )
    return api_job_payload(lifecycle.job_cancel(job=job), request)


@router.post(
    "/jobs/{job_id}/retry",
    response={202: JobOut},
    url_name="jobs-retry",
    summary="Retry a failed or canceled job",
)
def jobs_retry(request, job_id: uuid.UUID):
    job = _job_for(request, job_id)
    try:
        job = lifecycle.job_retry(job=job, api_key=getattr(request, "api_key", None))
    except lifecycle.JobNotRetryable as exc:
        raise ApiError(409, str(exc), code="job_not_retryable") from None
    return Status(202, api_job_payload(job, request))


PERMANENT_DOC = (
    "false (default): move to the trash for TRASH_DAYS days (hidden everywhere, restorable "
    "with POST .../restore). true: delete rows and files now; where a legal hold applies only "
    "staff may (403 legal_hold)."
)


@router.delete(
    "/jobs/{job_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    url_name="jobs-delete",
    summary="Delete a job and its images (to the trash, or for good)",
)
def jobs_delete(
    request, job_id: uuid.UUID, permanent: bool = Query(False, description=PERMANENT_DOC)
):
    """Owner only (staff may delete any job for good). A queued or running job is a 409:
    cancel it first. Deleting it again, once in the trash, is a 404 unless `permanent`."""
    if permanent:
        job = _job_in_trash_or_live(request, job_id)
        _job_delete_permanently(request, job)
        return Status(204, None)
    job = _job_for(request, job_id)
    if job.user_id != request.auth.pk:
        raise ApiError(403, "Only the owner can delete this job.", code="not_owner")
    try:
        retention.jobs_trash(user=request.auth, job_ids=[job.public_id])
    except JobStillRunning as error:
        raise ApiError(409, error.message, code="job_active") from None
    return Status(204, None)


def _job_in_trash_or_live(request, job_id) -> Job:
    jobs = Job.objects.all() if request.auth.is_staff else Job.objects.filter(user=request.auth)
    try:
        return jobs.get(public_id=job_id)
    except Job.DoesNotExist:
        raise ApiError(404, "No such job.", code="job_not_found", param="job_id") from None


def _job_delete_permanently(request, job: Job) -> None:
    try:
        retention.jobs_delete_permanently(user=request.auth, job_ids=[job.public_id])
    except retention.LegalHoldActive as error:
        raise ApiError(403, error.message, code="legal_hold") from None
    except JobStillRunning as error:
        raise ApiError(409, error.message, code="job_active") from None


@router.post(
    "/jobs/{job_id}/restore",
    response={200: JobOut, 404: ErrorOut},
    url_name="jobs-restore",
    summary="Bring a job and its images back from the trash",
)
def jobs_restore(request, job_id: uuid.UUID):
    restored = retention.jobs_restore(user=request.auth, job_ids=[job_id])
    if not restored:
        raise ApiError(404, "No such job in your trash.", code="job_not_found", param="job_id")
    return api_job_payload(_job_for(request, job_id), request)


# --- Webhook secret -------------------------------------------------------------------------


@router.get(
    "/webhooks/secret",
    response=WebhookSecretOut,
    url_name="webhooks-secret",
    summary="Your webhook signing secret",
)
def webhooks_secret(request):
    return {"secret": webhook_secret_for(user=request.auth)}


@router.post(
    "/webhooks/secret/rotate",
    response=WebhookSecretOut,
    url_name="webhooks-secret-rotate",
    summary="Replace your webhook signing secret",
)
def webhooks_secret_rotate(request):
    return {"secret": webhook_secret_rotate(user=request.auth)}


# --- Signed image files (no session) --------------------------------------------------------


@router.get(
    "/files/{token}",
    auth=None,
    include_in_schema=False,
    url_name="signed-image-file",
)
def signed_image_file(request, token: str):
    """The PNG or thumbnail a signed URL names, for whoever holds the URL until it expires."""
    try:
        image, field, _holder = image_for_token(token)
    except InvalidImageToken as exc:
        if exc.expired:
            raise ApiError(403, str(exc), code="url_expired") from None
        raise ApiError(404, str(exc), code="not_found") from None
    # The holder may see the image (image_for_token checked), but a capability URL can leak:
    # it never carries a rejected image, not even one signed for staff (they moderate on the
    # pages, with their session). The format is the one its API caller asked for (stored
    # files stay PNG).
    job = image.job
    return image_file_response(
        image, field, fmt=job.output_format, compression=job.output_compression
    )
