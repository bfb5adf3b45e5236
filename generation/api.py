"""/v1 async jobs: submit, estimate, list, get, cancel, retry, delete and restore.

The OpenAI-compatible images are in api_images, the webhook secret in api_webhooks, what they
share in api_requests."""

import datetime as dt
import uuid
from typing import Annotated, Literal

import pydantic
from django.conf import settings
from django.http import HttpResponse
from ninja import Query, Router
from ninja.responses import Status

from core.cursors import CURSOR_PATTERN, cursor_decode, cursor_encode
from core.errors import ApiError, ErrorOut
from core.time import rfc3339_datetime
from generation import lifecycle, retention, selectors
from generation.api_requests import (
    IDEMPOTENCY_HEADER,
    check_model,
    job_path,
    job_submit,
    params_from,
    preset_for,
    webhook_url_for,
)
from generation.edits.payloads import edit_from_json
from generation.models import Job
from generation.presenters import api_job_payload
from generation.retention.trash import JobStillRunning
from generation.schemas import EstimateOut, JobIn, JobListOut, JobOut
from usage import prices as usage_prices
from usage import quotas as usage_quotas
from usage.selectors import usage_for_jobs

router = Router(tags=["generation"])


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
    check_model(payload.model, edit=payload.edit is not None)
    edit = edit_from_json(request.auth, payload.edit)
    preset = preset_for(request, payload.preset)
    params = params_from(payload, preset=preset, edit=edit)
    job, created = job_submit(
        request,
        payload,
        params,
        idempotency_key,
        webhook_url=webhook_url_for(payload.webhook_url),
        visibility=payload.visibility,
        edit_inputs=edit,
        preset=preset,
        output_format=payload.output_format or "png",
        output_compression=payload.output_compression,
        end_user=payload.user or "",
    )
    # No refresh_from_db: the job answers as it was written (queued) or found (a replay).
    response["Location"] = request.build_absolute_uri(job_path(job))
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
    check_model(payload.model)
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
