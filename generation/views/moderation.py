"""The staff moderation queue and its decisions."""

from django.conf import settings
from django.contrib import messages
from django.http import Http404, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST

from core.http import safe_next, wants_json
from generation import selectors
from generation.access import staff_only
from generation.models import Image, ModerationDecision
from generation.moderation import image_moderate

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
