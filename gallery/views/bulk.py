"""The grid's selection form: one POST, an `action`, and the chosen image ids.

ACTIONS maps each action to a small handler that calls one service or selector; an action
that is not in the table is a 400. Every service scopes the ids itself (what the user may
see or owns), so a handler never has to.
"""

import datetime as dt
import uuid
from collections.abc import Callable
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.views.decorators.http import require_POST

from core.http import safe_next
from gallery import selectors, services
from gallery.archive import ArchiveTooLarge, archive_check, archive_stream
from gallery.models import Collection
from gallery.views import access
from gallery.views.params import uuid_list
from gallery.views.trash import offer_undo
from generation.models import Image
from generation.selectors import image_get_for_user

Handler = Callable[..., HttpResponse]


def _left_alone(request, asked: int, done: int) -> None:
    if asked - done:
        messages.warning(request, f"{asked - done} not yours, left alone.")


def _chosen_collection(request) -> Collection | None:
    collection = access.collection_chosen(request)
    if collection is None:
        messages.error(request, "Choose one of your collections.")
    return collection


def _compare(request, ids: list[uuid.UUID], back: str) -> HttpResponse:
    if not selectors.COMPARE_MIN <= len(ids) <= selectors.COMPARE_MAX:
        messages.error(request, "Select two to four images to compare.")
        return redirect(back)
    return redirect(f"{reverse('compare')}?{urlencode({'ids': ','.join(map(str, ids))})}")


def _zip(request, ids: list[uuid.UUID], back: str) -> HttpResponse:
    images = selectors.images_for_archive(user=request.user, public_ids=ids)
    try:
        archive_check(images)
    except ArchiveTooLarge as error:
        messages.error(request, error.message)
        return redirect(back)
    stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
    response = StreamingHttpResponse(
        archive_stream(images, viewer=request.user), content_type="application/zip"
    )
    response["Content-Disposition"] = f'attachment; filename="qwen-images-{stamp}.zip"'
    response["Cache-Control"] = "no-store"
    return response


def _delete(request, ids: list[uuid.UUID], back: str) -> HttpResponse:
    count = services.images_delete(user=request.user, image_ids=ids)
    offer_undo(
        request,
        kind="images",
        ids=ids,
        message=f"Moved {count} image{'s' if count != 1 else ''} to the trash.",
    )
    _left_alone(request, len(ids), count)
    return redirect(back)


def _visibility(request, ids: list[uuid.UUID], back: str) -> HttpResponse:
    try:
        count = services.images_set_visibility(
            user=request.user, image_ids=ids, visibility=request.POST.get("visibility", "")
        )
    except ValueError as error:
        messages.error(request, str(error))
        return redirect(back)
    messages.success(request, f"Changed visibility of {count} image(s).")
    _left_alone(request, len(ids), count)
    return redirect(back)


def _collect(request, ids: list[uuid.UUID], back: str) -> HttpResponse:
    if collection := _chosen_collection(request):
        added = services.collection_add_images(
            user=request.user, collection=collection, image_ids=ids
        )
        messages.success(request, f"Added {added} image(s) to {collection.name}.")
    return redirect(back)


def _uncollect(request, ids: list[uuid.UUID], back: str) -> HttpResponse:
    if collection := _chosen_collection(request):
        removed = services.collection_remove_images(
            user=request.user, collection=collection, image_ids=ids
        )
        messages.success(request, f"Removed {removed} image(s) from {collection.name}.")
    return redirect(back)


def _cover(request, ids: list[uuid.UUID], back: str) -> HttpResponse:
    """The first selected image becomes the collection's cover."""
    if collection := _chosen_collection(request):
        try:
            image = image_get_for_user(user=request.user, public_id=ids[0])
            services.collection_set_cover(user=request.user, collection=collection, image=image)
        except Image.DoesNotExist:
            messages.error(request, "No such image.")
        except ValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Cover of {collection.name} set.")
    return redirect(back)


ACTIONS: dict[str, Handler] = {
    "compare": _compare,
    "zip": _zip,
    "delete": _delete,
    "visibility": _visibility,
    "collect": _collect,
    "uncollect": _uncollect,
    "cover": _cover,
}


@require_POST
@login_required
def bulk(request):
    """One form for the grid's selection: compare, ZIP, delete, visibility, collections."""
    action = request.POST.get("action", "")
    handler = ACTIONS.get(action)
    if handler is None:
        return HttpResponseBadRequest(
            f"Unknown action {action[:40]!r}: choose one of {', '.join(ACTIONS)}.",
            content_type="text/plain; charset=utf-8",
        )
    back = safe_next(request, reverse("gallery"))
    ids = uuid_list(request.POST.getlist("images"))
    if not ids:
        messages.error(request, "Select at least one image first.")
        return redirect(back)
    return handler(request, ids, back)
