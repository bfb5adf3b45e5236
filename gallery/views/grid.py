"""The gallery grid (scopes, search, filters, keyset pages) and the compare page."""

from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.views import redirect_to_login
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET

from gallery import selectors
from gallery.models import Collection
from gallery.selectors import FilterError, SignInRequired
from gallery.views.params import SHARE_EXPIRY_CHOICES, current_url, uuid_list, visibility_choices

SCOPE_TABS = [
    ("mine", "Mine"),
    ("team", "My team"),
    ("public", "Public"),
    ("favorites", "Favorites"),
]


@require_GET
def gallery(request):
    return render_grid(request, request.GET)


def render_grid(request, data, *, collection: Collection | None = None):
    """The grid for `data`'s filters (also a collection's page); `?partial=1` renders only the
    next page of tiles for infinite scroll."""
    try:
        filters = selectors.image_filters_parse(user=request.user, data=data)
    except SignInRequired:
        return redirect_to_login(request.get_full_path())
    except FilterError as error:
        if error.field == "collection":
            raise Http404("No such collection.") from None
        # Anything else (an unknown scope …) is a message over the default grid.
        messages.error(request, error.message)
        filters = selectors.image_filters_default(user=request.user)
    cursor = request.GET.get("cursor") or None
    try:
        page = selectors.images_list(user=request.user, filters=filters, cursor=cursor)
    except FilterError as error:  # a cursor that is not ours: start from the first page
        messages.error(request, error.message)
        page = selectors.images_list(user=request.user, filters=filters)
    query = filters.query()
    if collection is not None:  # the collection is in the path, not the query
        query.pop("collection", None)
        query.pop("scope", None)
    context = {
        "filters": filters,
        "page": page,
        "next_url": (
            f"{request.path}?{urlencode({**query, 'cursor': page.next_cursor})}"
            if page.next_cursor
            else None
        ),
        "current_url": current_url(request),
        # Rides on each tile's link so the viewer steps through this same query.
        "view_query": urlencode({key: value for key, value in filters.query().items() if value}),
    }
    if request.GET.get("partial"):
        return render(request, "gallery/_page.html", context)
    # Reset keeps the scope of the grid; a collection's page is reset by its bare path.
    reset_url = (
        f"{request.path}?{urlencode({'scope': filters.scope})}"
        if collection is None
        else request.path
    )
    context.update(
        {
            "collection": collection,
            "scope_tabs": [
                (scope, label, f"{reverse('gallery')}?{urlencode({'scope': scope})}")
                for scope, label in SCOPE_TABS
            ],
            "reset_url": reset_url,
            "my_collections": list(selectors.collections_owned_by(user=request.user)),
            "visibility_choices": visibility_choices(request.user),
            "aspects": selectors.ASPECTS,
            "backends": selectors.BACKENDS,
            "share_expiry_choices": SHARE_EXPIRY_CHOICES,
        }
    )
    if collection is not None:
        context["collection_shares"] = selectors.shares_of_collection(
            user=request.user, collection=collection
        )
        context["is_collection_owner"] = selectors.user_owns(user=request.user, obj=collection)
    return render(request, "gallery/grid.html", context)


@require_GET
def compare(request):
    images = selectors.images_for_compare(
        user=request.user, public_ids=uuid_list(request.GET.getlist("ids"))
    )
    if len(images) < selectors.COMPARE_MIN:
        if not request.user.is_authenticated:
            raise Http404("Nothing to compare.")
        messages.error(request, "Select two to four images you can see to compare them.")
        return redirect("gallery")
    rows = selectors.image_compare_rows(images=images)
    return render(request, "gallery/compare.html", {"images": images, "rows": rows})
