"""One image: its page and what its owner or viewer does there (star, reuse, reseed,
visibility, delete, collect, report). Its files are served by generation.files."""

import json
from urllib.parse import urlencode

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from core.http import safe_next, wants_json
from gallery import selectors, services
from gallery.selectors import FilterError
from gallery.services import NotAllowed, ReseedMode
from gallery.views import access
from gallery.views.params import SHARE_EXPIRY_CHOICES, visibility_choices
from gallery.views.reports import report_context, report_file
from gallery.views.trash import offer_undo
from generation.edits.sources import EditInputError
from generation.moderation import PromptBlocked
from generation.provenance import image_provenance
from usage.quotas import QuotaExceeded


def _viewer(request, image) -> dict:
    """Previous/next within the gallery query the image was opened from (its filters ride
    in the query string; none: the viewer's default grid), and the way back to that grid."""
    try:
        filters = selectors.image_filters_parse(user=request.user, data=request.GET)
    except FilterError:
        filters = selectors.image_filters_default(user=request.user)
    before, after = selectors.image_neighbours(user=request.user, filters=filters, image=image)
    query = urlencode({key: value for key, value in filters.query().items() if value})
    if filters.collection is not None:
        back = reverse("collection-detail", args=[filters.collection.public_id])
    else:
        back = f"{reverse('gallery')}?{query}"
    return {"prev_image": before, "next_image": after, "view_query": query, "back_url": back}


@require_GET
def image_detail(request, public_id):
    image = access.image_read(request, public_id)
    user = request.user
    my_collections = list(selectors.collections_owned_by(user=user))
    holding = selectors.collection_ids_holding(user=user, image=image) if my_collections else set()
    lineage = selectors.image_lineage(user=user, image=image)
    params = selectors.image_params(image)
    return render(
        request,
        "gallery/detail.html",
        {
            "image": image,
            "job": image.job,
            "params": params,
            "params_json": json.dumps(params, indent=2, ensure_ascii=False),
            "lineage": lineage,
            "reproduction": selectors.image_reproduction(image=image, parent=lineage.parent),
            "is_favorite": selectors.image_is_favorite(user=user, image=image),
            "is_owner": selectors.user_owns(user=user, obj=image),
            "my_collections": [(c, c.pk in holding) for c in my_collections],
            "shares": selectors.shares_of_image(user=user, image=image),
            **_viewer(request, image),
            "visibility_choices": visibility_choices(request.user),
            "share_expiry_choices": SHARE_EXPIRY_CHOICES,
            **report_context(request, image),
            "report_url": reverse("image-report", args=[image.public_id]),
            "open_report_count": selectors.image_open_report_count_for(user=user, image=image),
            "provenance": image_provenance(image=image),
            "trash_days": settings.TRASH_DAYS,
        },
    )


@require_POST
@login_required
def image_favorite(request, public_id):
    """favorite=1 or 0 sets the star; without it the star toggles. JSON for the page's script."""
    image = access.image_read(request, public_id)
    wanted = request.POST.get("favorite")
    if wanted in ("0", "1"):
        state = services.favorite_set(user=request.user, image=image, favorite=wanted == "1")
    else:
        state = services.favorite_toggle(user=request.user, image=image)
    if wants_json(request):
        return JsonResponse({"favorite": state})
    return redirect(safe_next(request, reverse("image-detail", args=[image.public_id])))


@require_POST
@login_required
def image_use_settings(request, public_id):
    image = access.image_read(request, public_id)
    initial = selectors.image_generate_initial(image)
    if wants_json(request):  # the Create feed fills its form in place
        return JsonResponse({"initial": initial})
    request.session["generate_initial"] = initial
    messages.info(request, "The form holds this image's settings, seed included.")
    return redirect("generate")


@require_POST
@login_required
def image_reseed(request, public_id):
    image = access.image_read(request, public_id)
    mode = request.POST.get("mode", ReseedMode.RESEED)
    if mode not in ReseedMode.__members__.values():
        if wants_json(request):
            return JsonResponse({"error": "Unknown action."}, status=400)
        messages.error(request, "Unknown action.")
        return redirect("image-detail", public_id=image.public_id)
    try:
        job = services.image_reseed(user=request.user, image=image, mode=mode)
    except (QuotaExceeded, PromptBlocked, EditInputError, services.ReseedRefused) as error:
        if wants_json(request):
            status = 429 if isinstance(error, QuotaExceeded) else 409
            return JsonResponse({"error": error.message}, status=status)
        messages.error(request, error.message)
        return redirect("image-detail", public_id=image.public_id)
    if wants_json(request):  # the Create feed adds the new job's card at the top
        return JsonResponse({"job_id": str(job.public_id)}, status=201)
    return redirect(safe_next(request, reverse("job-detail", args=[job.public_id])))


@require_POST
@login_required
def image_visibility(request, public_id):
    image = access.image_read(request, public_id)
    try:
        services.image_set_visibility(
            user=request.user, image=image, visibility=request.POST.get("visibility", "")
        )
    except NotAllowed as error:
        messages.error(request, error.message)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Visibility: {image.get_visibility_display()}.")
    return redirect("image-detail", public_id=image.public_id)


@require_POST
@login_required
def image_delete(request, public_id):
    """To the trash, with an Undo on the next page."""
    image = access.image_read(request, public_id)
    try:
        services.image_delete(user=request.user, image=image)
    except NotAllowed as error:
        if wants_json(request):
            return JsonResponse({"error": error.message}, status=403)
        messages.error(request, error.message)
        return redirect("image-detail", public_id=image.public_id)
    message = "Image moved to the trash."
    if wants_json(request):  # the Create feed marks the tile and offers the same Undo
        return JsonResponse(
            {
                "deleted": True,
                "message": message,
                "undo": {
                    "url": reverse("trash-restore"),
                    "kind": "images",
                    "ids": [str(image.public_id)],
                },
            }
        )
    offer_undo(request, kind="images", ids=[image.public_id], message=message)
    return redirect(safe_next(request, reverse("gallery")))


@require_POST
@login_required
def image_collect(request, public_id):
    """Add the image to one of the user's collections (or remove it: remove=1)."""
    image = access.image_read(request, public_id)
    collection = access.collection_chosen(request)
    if collection is None:
        messages.error(request, "Choose one of your collections.")
        return redirect("image-detail", public_id=image.public_id)
    if request.POST.get("remove"):
        services.collection_remove_images(
            user=request.user, collection=collection, image_ids=[image.public_id]
        )
        messages.success(request, f"Removed from {collection.name}.")
    else:
        services.collection_add_images(
            user=request.user, collection=collection, image_ids=[image.public_id]
        )
        messages.success(request, f"Added to {collection.name}.")
    return redirect(safe_next(request, reverse("image-detail", args=[image.public_id])))


@require_POST
def image_report(request, public_id):
    """Anyone who can see an image may report it (anonymous visitors of public images too)."""
    image = access.image_read(request, public_id)
    report_file(request, image)
    if selectors.image_is_visible_to(user=request.user, image=image):
        return redirect("image-detail", public_id=image.public_id)
    # Hidden by the report: back to the grid this visitor can see.
    return redirect(reverse("gallery") + ("" if request.user.is_authenticated else "?scope=public"))
