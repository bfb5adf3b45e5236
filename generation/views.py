"""Pages: generate form, job page (with its live status), image files, health check."""

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.files.storage import default_storage
from django.db import connection
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from accounts.services import profile_for
from core.http import safe_next, wants_json
from generation import lifecycle, selectors
from generation.access import image_read, job_read, staff_only
from generation.files import image_file_response
from generation.forms import GenerationForm
from generation.models import Image, Job, ModerationDecision
from generation.moderation import PromptBlocked, image_moderate
from generation.presenters import job_payload
from generation.preset_views import preset_choices
from generation.presets.selectors import presets_usable_by
from generation.prompts.enhancer import enhancer_enabled
from generation.sizes import PRESETS
from usage.quotas import QuotaExceeded


@login_required
def generate(request):
    profile = profile_for(request.user)
    team = profile.current_team
    presets = list(presets_usable_by(user=request.user, team=team))
    if request.method == "POST":
        form = GenerationForm(request.POST, team=team, presets=presets)
        if form.is_valid():
            try:
                job = lifecycle.job_create(
                    user=request.user,
                    params=form.params,
                    visibility=form.cleaned_data["visibility"],
                    preset=form.preset_version,
                    revision=form.cleaned_data.get("revision") or Job.Enhancement.ACCEPTED,
                )
            except PromptBlocked as exc:
                form.add_error("prompt", exc.message)
            except QuotaExceeded as exc:
                form.add_error(None, exc.message)
            else:
                return redirect("job-detail", public_id=job.public_id)
    else:
        form = GenerationForm(
            initial=request.session.pop("generate_initial", None), team=team, presets=presets
        )
    return render(
        request,
        "generation/generate.html",
        {
            "form": form,
            "presets": PRESETS,
            "enhancer_enabled": enhancer_enabled(),
            "preset_values": preset_choices(presets),
            "recent_images": selectors.recent_images_for_user(user=request.user),
        },
    )


@login_required
def job_detail(request, public_id):
    job = job_read(request, public_id)
    return render(
        request,
        "generation/job_detail.html",
        {
            "job": job,
            "payload": {
                **job_payload(job, request),
                "notice": selectors.job_waiting_notice(job=job),
            },
            "webhook_deliveries": list(job.webhook_deliveries.all()) if job.webhook_url else [],
        },
    )


@never_cache
@login_required
@require_GET
def job_status(request, public_id):
    job = job_read(request, public_id)
    return JsonResponse(
        {**job_payload(job, request), "notice": selectors.job_waiting_notice(job=job)}
    )


@login_required
@require_POST
def job_cancel(request, public_id):
    job = job_read(request, public_id)
    job = lifecycle.job_cancel(job=job)
    messages.info(request, "Cancel requested." if job.is_active else "Job canceled.")
    return redirect("job-detail", public_id=job.public_id)


def _serve(request, public_id, field: str):
    return image_file_response(image_read(request, public_id), field, viewer=request.user)


@require_GET
def image_file(request, public_id):
    return _serve(request, public_id, "file")


@require_GET
def image_thumbnail(request, public_id):
    return _serve(request, public_id, "thumbnail")


# --- Moderation (staff) ---------------------------------------------------------------------

DECISIONS = {
    "approve": Image.Moderation.APPROVED,
    "reject": Image.Moderation.REJECTED,
    "clear": Image.Moderation.CLEAR,
}


@never_cache
@require_GET
def moderation_queue(request):
    staff_only(request)
    queue = selectors.moderation_queue(limit=settings.MODERATION_QUEUE_PAGE_SIZE)
    return render(
        request,
        "generation/moderation_queue.html",
        {"queue": queue, "threshold": settings.SAFETY_NSFW_THRESHOLD},
    )


@require_POST
def moderation_decide(request, public_id):
    """Approve, reject or reset one image (buttons of the queue and of the image page)."""
    staff_only(request)
    try:
        image = selectors.image_get_for_user(user=request.user, public_id=public_id)
    except Image.DoesNotExist:
        raise Http404("No such image.") from None
    to_state = DECISIONS.get(request.POST.get("decision", ""))
    if to_state is None:
        if wants_json(request):
            return JsonResponse({"error": "decision must be approve, reject or clear"}, status=400)
        messages.error(request, "Choose approve, reject or reset to clear.")
        return redirect("moderation-queue")
    decision = image_moderate(
        image=image,
        actor=request.user,
        to_state=to_state,
        note=request.POST.get("note", ""),
        via=ModerationDecision.Via.QUEUE,
    )
    if wants_json(request):
        return JsonResponse(
            {"id": str(image.public_id), "state": image.moderation_state, "changed": bool(decision)}
        )
    label = image.get_moderation_state_display().lower()
    messages.success(
        request,
        f"Image {str(image.public_id)[:8]} {label}." if decision else f"Already {label}.",
    )
    return redirect(safe_next(request, reverse("moderation-queue")))


@never_cache
@require_GET
def healthz(request):
    checks = {}
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:
        checks["database"] = f"error: {type(exc).__name__}"
    try:
        from huey.contrib.djhuey import HUEY

        checks["queue"] = "ok"
        checks["queue_depth"] = HUEY.pending_count()
    except Exception as exc:
        checks["queue"] = f"error: {type(exc).__name__}"
    try:
        default_storage.exists("healthz-probe")
        checks["storage"] = "ok"
    except Exception as exc:
        checks["storage"] = f"error: {type(exc).__name__}"
    healthy = all(v == "ok" for k, v in checks.items() if k != "queue_depth")
    body = {"status": "ok" if healthy else "error", **checks}
    if checks["database"] == "ok":
        # Which consumers serve which backends, and what waits for them. Jobs waiting for a
        # capability nobody serves are a warning (the web itself is healthy).
        try:
            queues = selectors.queue_overview()
        except Exception as exc:
            body["queues"] = f"error: {type(exc).__name__}"
        else:
            body["queues"] = {entry.pop("queue"): entry for entry in queues}
            body["warnings"] = [
                f"{info['queued_jobs']} job(s) for {', '.join(info['backends'])} wait on the "
                f"{name} queue and no consumer serves it"
                for name, info in body["queues"].items()
                if info["queued_jobs"] and not info["consumers"]
            ]
    return JsonResponse(body, status=200 if healthy else 503)
