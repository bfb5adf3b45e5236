"""My jobs (`/jobs/`), one job's page and live status, and what a person does to a job:
cancel, retry, or edit (the Create form filled with its settings)."""

import datetime as dt

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core import signing
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.http import safe_next, wants_json
from generation import lifecycle, selectors
from generation.access import job_read
from generation.lifecycle import JobNotRetryable
from generation.models import Job
from generation.moderation import PromptBlocked
from generation.params import GenerationParams
from generation.presenters import job_advice, job_live_payload, job_payload, job_phase
from generation.views.create import SESSION_KEPT, feed_entries
from usage.quotas import QuotaExceeded

JOBS_PAGE_SIZE = 25
_CURSOR_SALT = "generation.views.jobs-cursor"
STATUS_FILTERS = [
    ("", "All"),
    ("active", "Queued or running"),
    (Job.Status.SUCCEEDED, "Succeeded"),
    (Job.Status.FAILED, "Failed"),
    (Job.Status.CANCELED, "Canceled"),
]


def _cursor_position(cursor: str) -> tuple[dt.datetime, int] | None:
    try:
        created, pk = signing.loads(cursor, salt=_CURSOR_SALT)
        return dt.datetime.fromisoformat(created), int(pk)
    except (signing.BadSignature, ValueError, TypeError):
        return None


@never_cache
@login_required
@require_GET
def job_list(request):
    """The user's own jobs, newest first, filtered by status, keyset-paged (no COUNT)."""
    status = request.GET.get("status", "")
    if status not in dict(STATUS_FILTERS):
        status = ""
    cursor = request.GET.get("cursor", "")
    after = _cursor_position(cursor) if cursor else None
    jobs = selectors.jobs_page_for_user(
        user=request.user,
        limit=JOBS_PAGE_SIZE,
        statuses=list(Job.ACTIVE) if status == "active" else [status] if status else None,
        after=after,
        own_only=True,
    )
    has_more = len(jobs) > JOBS_PAGE_SIZE
    jobs = jobs[:JOBS_PAGE_SIZE]
    estimates = selectors.job_queue_estimates(jobs=jobs, workers=settings.HUEY_WORKERS)
    rows = [
        {
            "job": job,
            "phase": job_phase(job, estimates.get(job.pk)),
            "advice": job_advice(job) if job.status == Job.Status.FAILED else "",
        }
        for job in jobs
    ]
    next_cursor = (
        signing.dumps([jobs[-1].created_at.isoformat(), jobs[-1].pk], salt=_CURSOR_SALT)
        if has_more
        else None
    )
    return render(
        request,
        "generation/job_list.html",
        {
            "rows": rows,
            "status": status,
            "status_filters": STATUS_FILTERS,
            "next_cursor": next_cursor,
            "first_page": not cursor,
        },
    )


@login_required
def job_detail(request, public_id):
    job = job_read(request, public_id)
    estimates = selectors.job_queue_estimates(jobs=[job], workers=settings.HUEY_WORKERS)
    return render(
        request,
        "generation/job_detail.html",
        {
            "job": job,
            "payload": {
                **job_payload(job, request),
                "notice": estimates[job.pk].notice if job.pk in estimates else "",
            },
            "phase": job_phase(job, estimates.get(job.pk)),
            "advice": job_advice(job) if job.status == Job.Status.FAILED else "",
            # A finished job's images come with the feed's actions.
            "entry": feed_entries(request, [job])[0] if not job.is_active else None,
            "webhook_deliveries": list(job.webhook_deliveries.all()) if job.webhook_url else [],
        },
    )


@never_cache
@login_required
@require_GET
def job_status(request, public_id):
    """The job's JSON (the API's job shape) plus the live view's additions (phase, queue)."""
    job = job_read(request, public_id)
    estimates = selectors.job_queue_estimates(jobs=[job], workers=settings.HUEY_WORKERS)
    return JsonResponse(job_live_payload(job, request, estimates.get(job.pk)))


@login_required
@require_POST
def job_cancel(request, public_id):
    job = job_read(request, public_id)
    job = lifecycle.job_cancel(job=job)
    if wants_json(request):
        return JsonResponse(job_live_payload(job, request))
    messages.info(request, "Cancel requested." if job.is_active else "Job canceled.")
    return redirect(safe_next(request, _job_url(job)))


@login_required
@require_POST
def job_retry(request, public_id):
    """A failed or canceled job goes back in the queue (same id, same settings)."""
    job = job_read(request, public_id)
    if job.user_id != request.user.pk:  # staff may look, but a retry spends the owner's quota
        messages.error(request, "Only the person who made a job can retry it.")
        return redirect(_job_url(job))
    try:
        job = lifecycle.job_retry(job=job)
    except (JobNotRetryable, QuotaExceeded, PromptBlocked) as error:
        message = getattr(error, "message", None) or str(error)
        if wants_json(request):
            return JsonResponse({"error": message}, status=409)
        messages.error(request, message)
        return redirect(safe_next(request, _job_url(job)))
    if wants_json(request):
        return JsonResponse(job_live_payload(job, request))
    messages.success(request, "Job queued again.")
    return redirect(safe_next(request, _job_url(job)))


@login_required
@require_POST
def job_edit(request, public_id):
    """Resubmit with changes: the Create form, filled with the job's prompt and settings."""
    job = job_read(request, public_id)
    request.session[SESSION_KEPT] = GenerationParams.from_job(job).form_initial() | {
        "visibility": job.visibility
    }
    messages.info(request, "The form holds this job's prompt and settings: edit, then Generate.")
    return redirect("generate")


def _job_url(job: Job) -> str:
    return reverse("job-detail", args=[job.public_id])
