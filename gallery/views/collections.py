"""Collections: the list and create form, a collection's grid, and its owner's edits."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.http import safe_next
from gallery import selectors, services
from gallery.views import access
from gallery.views.grid import render_grid
from gallery.views.params import uuid_list, visibility_choices
from gallery.views.trash import offer_undo
from generation.models import Visibility


@login_required
@require_http_methods(["GET", "POST"])
def collections(request):
    if request.method == "POST":
        try:
            collection = services.collection_create(
                user=request.user,
                name=request.POST.get("name", ""),
                visibility=request.POST.get("visibility", Visibility.PRIVATE),
                image_ids=uuid_list(request.POST.getlist("images")),
            )
        except ValueError as error:
            messages.error(request, str(error))
            return redirect("collections")
        messages.success(request, f"Created collection {collection.name}.")
        return redirect(
            safe_next(request, reverse("collection-detail", args=[collection.public_id]))
        )
    return render(
        request,
        "gallery/collections.html",
        {
            "collections": selectors.collections_list(user=request.user),
            "visibility_choices": visibility_choices(request.user),
        },
    )


@require_GET
def collection_detail(request, public_id):
    collection = access.collection_read(request, public_id)
    data = request.GET.copy()
    data["collection"] = str(collection.public_id)
    data["scope"] = "collection"
    return render_grid(request, data, collection=collection)


@require_POST
@login_required
def collection_edit(request, public_id):
    collection = access.collection_write(request, public_id)
    try:
        services.collection_update(
            user=request.user,
            collection=collection,
            name=request.POST.get("name", collection.name),
            visibility=request.POST.get("visibility", collection.visibility),
        )
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, "Collection saved.")
    return redirect("collection-detail", public_id=collection.public_id)


@require_POST
@login_required
def collection_delete(request, public_id):
    collection = access.collection_write(request, public_id)
    services.collection_delete(user=request.user, collection=collection)
    offer_undo(
        request,
        kind="collections",
        ids=[collection.public_id],
        message=f"Collection {collection.name} moved to the trash (its images stay).",
    )
    return redirect("collections")


@require_POST
@login_required
def collection_cover(request, public_id):
    collection = access.collection_write(request, public_id)
    image = access.image_read(request, request.POST.get("image", ""))
    try:
        services.collection_set_cover(user=request.user, collection=collection, image=image)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Cover of {collection.name} set.")
    return redirect(safe_next(request, reverse("collection-detail", args=[collection.public_id])))
