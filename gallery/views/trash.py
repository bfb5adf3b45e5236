"""The trash: the Trash page (restore, delete for good, empty), the undo that follows every
delete, and deleting a job (which takes its images along)."""

import uuid

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.http import get_or_404, safe_next, wants_json
from gallery import selectors, services
from generation.access import job_read
from generation.files import image_file_response
from generation.retention import LegalHoldActive, jobs_trash, trashed_images_of
from generation.retention.trash import JobStillRunning

KINDS = ("images", "jobs", "collections")
UNDO_KEY = "trash_undo"


def offer_undo(request, *, kind: str, ids, message: str) -> None:
    """Show `message` with an Undo button on the next page this user sees."""
    request.session[UNDO_KEY] = {
        "kind": kind,
        "ids": [str(i) for i in ids],
        "message": message,
    }


def _ids(request) -> list[uuid.UUID]:
    ids = []
    for value in request.POST.getlist("ids"):
        for part in value.split(","):
            try:
                ids.append(uuid.UUID(part.strip()))
            except ValueError:
                continue
    return ids[:1000]


@require_GET
@login_required
def trash(request):
    return render(request, "gallery/trash.html", {"trash": selectors.trash_for(user=request.user)})


@require_POST
@login_required
def trash_restore(request):
    kind = request.POST.get("kind", "")
    if kind not in KINDS:
        messages.error(request, "Restore images, jobs or collections.")
        return redirect("trash")
    count = services.trash_restore(user=request.user, kind=kind, ids=_ids(request))
    noun = kind[:-1] if count == 1 else kind
    message = f"Restored {count} {noun}." if count else "Nothing to restore."
    if wants_json(request):  # the Create feed's Undo
        return JsonResponse({"restored": count, "message": message})
    messages.success(request, message)
    return redirect(safe_next(request, reverse("trash")))


@require_POST
@login_required
def trash_delete(request):
    kind = request.POST.get("kind", "")
    if kind not in KINDS:
        messages.error(request, "Delete images, jobs or collections.")
        return redirect("trash")
    try:
        count = services.trash_delete(user=request.user, kind=kind, ids=_ids(request))
    except LegalHoldActive as error:
        messages.error(request, error.message)
    else:
        noun = kind[:-1] if count == 1 else kind
        messages.success(request, f"Deleted {count} {noun} for good.")
    return redirect("trash")


@require_POST
@login_required
def trash_empty(request):
    try:
        count = services.trash_empty(user=request.user)
    except LegalHoldActive as error:
        messages.error(request, error.message)
    else:
        messages.success(request, f"Trash emptied: {count} item{'s' if count != 1 else ''}.")
    return redirect("trash")


@require_POST
@login_required
def job_delete(request, public_id):
    job = job_read(request, public_id)
    if job.user_id != request.user.pk:
        messages.error(request, "Only the owner can delete this job.")
        return redirect("job-detail", public_id=job.public_id)
    try:
        jobs_trash(user=request.user, job_ids=[job.public_id])
    except JobStillRunning as error:
        messages.error(request, error.message)
        return redirect("job-detail", public_id=job.public_id)
    offer_undo(
        request,
        kind="jobs",
        ids=[job.public_id],
        message="Job and its images moved to the trash.",
    )
    return redirect(safe_next(request, reverse("gallery")))


@require_GET
@login_required
def trash_thumbnail(request, public_id):
    """A trashed image's thumbnail, for its owner's Trash page only."""
    image = get_or_404(
        lambda: trashed_images_of(user=request.user).get(public_id=public_id), "No such image."
    )
    return image_file_response(image, "thumbnail")
