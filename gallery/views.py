"""Gallery pages: grid, image detail and its actions, compare, collections, share links."""

import datetime as dt
import json
import uuid
from urllib.parse import urlencode

from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, JsonResponse, StreamingHttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from usage.quotas import QuotaExceeded
from gallery import selectors, services
from gallery.archive import ArchiveTooLarge, archive_check, archive_stream
from gallery.models import Collection, ShareLink
from gallery.selectors import FilterError, ImageFilters
from gallery.services import NotAllowed, ReseedMode, ShareRefused
from generation.files import image_file_response
from generation.models import Image, Report, Visibility
from generation.moderation import PromptBlocked, ReportRefused, image_report, reporter_key_for
from generation.selectors import (
    image_get_for_user,
    image_open_report_count,
    images_visible_to,
    report_by,
)

MAX_BULK = 500
SHARE_EXPIRY_CHOICES = [
    ("", "Never"),
    ("3600", "In 1 hour"),
    ("86400", "In 1 day"),
    ("604800", "In 7 days"),
    ("2592000", "In 30 days"),
]
SIGNED_IN_SCOPES = ("mine", "team", "favorites")
SCOPE_LABELS = [
    ("mine", "Mine"),
    ("team", "My team"),
    ("public", "Public"),
    ("favorites", "Favorites"),
]


# --- Helpers -------------------------------------------------------------------------------


def _image_or_404(request, public_id) -> Image:
    try:
        return image_get_for_user(user=request.user, public_id=public_id)
    except (Image.DoesNotExist, ValidationError):
        raise Http404("No such image.") from None


def _collection_or_404(request, public_id) -> Collection:
    try:
        return selectors.collection_get_for_user(user=request.user, public_id=public_id)
    except Collection.DoesNotExist:
        raise Http404("No such collection.") from None


def _next(request, default: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _wants_json(request) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _uuids(values: list[str]) -> list[uuid.UUID]:
    ids = []
    for value in values[:MAX_BULK]:
        for part in value.split(","):
            try:
                ids.append(uuid.UUID(part.strip()))
            except ValueError:
                continue
    return ids


def _current_url(request) -> str:
    """Where forms on this page return to (without the infinite-scroll fragment flag)."""
    query = request.GET.copy()
    query.pop("partial", None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


# --- Grid ----------------------------------------------------------------------------------


def _grid(request, data, *, collection: Collection | None = None):
    try:
        filters = selectors.image_filters_parse(user=request.user, data=data)
    except FilterError as error:
        if error.field == "collection":
            raise Http404("No such collection.") from None
        wanted = str(data.get("scope") or "").strip()
        if wanted in SIGNED_IN_SCOPES and not request.user.is_authenticated:
            return redirect_to_login(request.get_full_path())
        # Anything else (an unknown scope …) is a message over the default grid.
        messages.error(request, error.message)
        filters = ImageFilters(scope="mine" if request.user.is_authenticated else "public")
    try:
        page = selectors.images_list(
            user=request.user, filters=filters, cursor=request.GET.get("cursor") or None
        )
    except FilterError as error:
        messages.error(request, error.message)
        page = selectors.images_list(user=request.user, filters=filters)
    base_path = request.path
    query = filters.query()
    if collection is not None:
        query.pop("collection", None)
        query.pop("scope", None)
    next_url = None
    if page.next_cursor:
        next_url = f"{base_path}?{urlencode({**query, 'cursor': page.next_cursor})}"
    context = {
        "filters": filters,
        "page": page,
        "next_url": next_url,
        "current_url": _current_url(request),
    }
    if request.GET.get("partial"):
        return render(request, "gallery/_page.html", context)
    reset_query = {"scope": filters.scope} if collection is None else {}
    context.update(
        {
            "collection": collection,
            "scope_tabs": [
                (scope, label, f"{reverse('gallery')}?{urlencode({'scope': scope})}")
                for scope, label in SCOPE_LABELS
            ],
            "reset_url": f"{base_path}?{urlencode(reset_query)}" if reset_query else base_path,
            "my_collections": list(selectors.collections_owned_by(user=request.user)),
            "visibility_choices": Visibility.choices,
            "aspects": selectors.ASPECTS,
            "backends": selectors.BACKENDS,
            "share_expiry_choices": SHARE_EXPIRY_CHOICES,
        }
    )
    if collection is not None:
        context["collection_shares"] = selectors.shares_of_collection(
            user=request.user, collection=collection
        )
        context["is_collection_owner"] = (
            request.user.is_authenticated and collection.user_id == request.user.pk
        )
    return render(request, "gallery/grid.html", context)


@require_GET
def gallery(request):
    if not request.user.is_authenticated and request.GET.get("scope") in SIGNED_IN_SCOPES:
        return redirect_to_login(request.get_full_path())
    return _grid(request, request.GET)


@require_POST
@login_required
def bulk(request):
    """One form for the grid's selection: delete, visibility, collections, ZIP, compare."""
    ids = _uuids(request.POST.getlist("images"))
    action = request.POST.get("action", "")
    back = _next(request, reverse("gallery"))
    if not ids:
        messages.error(request, "Select at least one image first.")
        return redirect(back)
    user = request.user
    if action == "compare":
        if not 2 <= len(ids) <= 4:
            messages.error(request, "Select two to four images to compare.")
            return redirect(back)
        return redirect(f"{reverse('compare')}?{urlencode({'ids': ','.join(map(str, ids))})}")
    if action == "zip":
        images = list(
            images_visible_to(user).filter(public_id__in=ids).order_by("-created_at", "-id")
        )
        try:
            archive_check(images)
        except ArchiveTooLarge as error:
            messages.error(request, error.message)
            return redirect(back)
        stamp = dt.datetime.now(dt.UTC).strftime("%Y%m%d-%H%M%S")
        response = StreamingHttpResponse(archive_stream(images), content_type="application/zip")
        response["Content-Disposition"] = f'attachment; filename="qwen-images-{stamp}.zip"'
        response["Cache-Control"] = "no-store"
        return response
    if action == "delete":
        count = services.images_delete(user=user, image_ids=ids)
        skipped = len(ids) - count
        messages.success(request, f"Deleted {count} image{'s' if count != 1 else ''}.")
        if skipped:
            messages.warning(request, f"{skipped} not yours, left alone.")
        return redirect(back)
    if action == "visibility":
        try:
            count = services.images_set_visibility(
                user=user, image_ids=ids, visibility=request.POST.get("visibility", "")
            )
        except ValueError as error:
            messages.error(request, str(error))
            return redirect(back)
        messages.success(request, f"Changed visibility of {count} image(s).")
        if len(ids) - count:
            messages.warning(request, f"{len(ids) - count} not yours, left alone.")
        return redirect(back)
    if action in ("collect", "uncollect", "cover"):
        try:
            collection = selectors.collections_owned_by(user=user).get(
                public_id=request.POST.get("collection", "")
            )
        except (Collection.DoesNotExist, ValidationError, ValueError):
            messages.error(request, "Choose one of your collections.")
            return redirect(back)
        if action == "cover":
            try:
                image = images_visible_to(user).get(public_id=ids[0])
                services.collection_set_cover(user=user, collection=collection, image=image)
            except (Image.DoesNotExist, ValueError) as error:
                messages.error(request, str(error) or "No such image.")
            else:
                messages.success(request, f"Cover of {collection.name} set.")
        elif action == "collect":
            added = services.collection_add_images(user=user, collection=collection, image_ids=ids)
            messages.success(request, f"Added {added} image(s) to {collection.name}.")
        else:
            removed = services.collection_remove_images(
                user=user, collection=collection, image_ids=ids
            )
            messages.success(request, f"Removed {removed} image(s) from {collection.name}.")
        return redirect(back)
    messages.error(request, "Choose what to do with the selection.")
    return redirect(back)


# --- One image -----------------------------------------------------------------------------


@require_GET
def image_detail(request, public_id):
    image = _image_or_404(request, public_id)
    user = request.user
    lineage = selectors.image_lineage(user=user, image=image)
    is_owner = user.is_authenticated and image.user_id == user.pk
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
            "is_owner": is_owner,
            "my_collections": list(selectors.collections_owned_by(user=user)),
            "shares": selectors.shares_of_image(user=user, image=image),
            "visibility_choices": Visibility.choices,
            "share_expiry_choices": SHARE_EXPIRY_CHOICES,
            **_report_context(request, image),
            "report_url": reverse("image-report", args=[image.public_id]),
            "open_report_count": (image_open_report_count(image=image) if user.is_staff else 0),
        },
    )


@require_POST
@login_required
def image_favorite(request, public_id):
    image = _image_or_404(request, public_id)
    wanted = request.POST.get("favorite")
    if wanted in ("0", "1"):
        state = services.favorite_set(user=request.user, image=image, favorite=wanted == "1")
    else:
        state = services.favorite_toggle(user=request.user, image=image)
    if _wants_json(request):
        return JsonResponse({"favorite": state})
    return redirect(_next(request, reverse("image-detail", args=[image.public_id])))


@require_POST
@login_required
def image_use_settings(request, public_id):
    image = _image_or_404(request, public_id)
    request.session["generate_initial"] = selectors.image_generate_initial(image)
    messages.info(request, "The form holds this image's settings, seed included.")
    return redirect("generate")


@require_POST
@login_required
def image_reseed(request, public_id):
    image = _image_or_404(request, public_id)
    mode = request.POST.get("mode", ReseedMode.RESEED)
    if mode not in ReseedMode.__members__.values():
        messages.error(request, "Unknown action.")
        return redirect("image-detail", public_id=image.public_id)
    try:
        job = services.image_reseed(user=request.user, image=image, mode=mode)
    except (QuotaExceeded, PromptBlocked) as error:
        messages.error(request, error.message)
        return redirect("image-detail", public_id=image.public_id)
    return redirect("job-detail", public_id=job.public_id)


@require_POST
@login_required
def image_visibility(request, public_id):
    image = _image_or_404(request, public_id)
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
    image = _image_or_404(request, public_id)
    try:
        services.image_delete(user=request.user, image=image)
    except NotAllowed as error:
        messages.error(request, error.message)
        return redirect("image-detail", public_id=image.public_id)
    messages.success(request, "Image deleted.")
    return redirect(_next(request, reverse("gallery")))


@require_POST
@login_required
def image_collect(request, public_id):
    """Add the image to one of the user's collections (or remove it: remove=1)."""
    image = _image_or_404(request, public_id)
    try:
        collection = selectors.collections_owned_by(user=request.user).get(
            public_id=request.POST.get("collection", "")
        )
    except (Collection.DoesNotExist, ValidationError, ValueError):
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
    return redirect(_next(request, reverse("image-detail", args=[image.public_id])))


def _expiry(request) -> dt.timedelta | None:
    seconds = request.POST.get("expires", "")
    allowed = {value for value, _ in SHARE_EXPIRY_CHOICES if value}
    return dt.timedelta(seconds=int(seconds)) if seconds in allowed else None


@require_POST
@login_required
def image_share(request, public_id):
    image = _image_or_404(request, public_id)
    try:
        share = services.share_create(user=request.user, image=image, expires_in=_expiry(request))
    except (NotAllowed, ShareRefused) as error:
        messages.error(request, error.message)
    else:
        url = request.build_absolute_uri(reverse("share", args=[share.token]))
        messages.success(request, f"Share link created: {url}")
    return redirect("image-detail", public_id=image.public_id)


# --- Reports -------------------------------------------------------------------------------


def _reporter(request) -> tuple[object, str]:
    """(user, "") for a signed-in reporter; (None, keyed hash of the address) otherwise."""
    if request.user.is_authenticated:
        return request.user, ""
    return None, reporter_key_for(request.META.get("REMOTE_ADDR", ""))


def _report_context(request, image: Image) -> dict:
    user, key = _reporter(request)
    return {
        "my_report": report_by(user=user, reporter_key=key, image=image),
        "report_reasons": Report.Reason.choices,
    }


def _file_report(request, image: Image) -> tuple[bool, int]:
    """File the POSTed report; (filed, HTTP status). Messages say what happened."""
    user, key = _reporter(request)
    reason = request.POST.get("reason", "")
    if reason not in Report.Reason.values:
        messages.error(request, "Choose what is wrong with the image.")
        return False, 400
    try:
        result = image_report(
            image=image,
            reporter=user,
            reporter_key=key,
            reason=reason,
            note=request.POST.get("note", ""),
        )
    except ReportRefused as error:
        messages.error(request, error.message)
        return False, {"rate_limited": 429, "already_reported": 409}.get(error.code, 403)
    if result.hidden:
        messages.success(request, "Thank you. The image is hidden until a moderator looks at it.")
    else:
        messages.success(request, "Thank you. A moderator will look at the image.")
    return True, 200


@require_POST
def image_report_view(request, public_id):
    """Anyone who can see an image may report it (anonymous visitors of public images too)."""
    image = _image_or_404(request, public_id)
    _file_report(request, image)
    still_visible = images_visible_to(request.user).filter(pk=image.pk).exists()
    if still_visible:
        return redirect("image-detail", public_id=image.public_id)
    return redirect(reverse("gallery") + ("" if request.user.is_authenticated else "?scope=public"))


# --- Compare -------------------------------------------------------------------------------

COMPARED = [
    ("prompt", "Prompt"),
    ("negative_prompt", "Negative prompt"),
    ("size", "Size"),
    ("seed", "Seed"),
    ("num_inference_steps", "Steps"),
    ("guidance_scale", "Guidance scale"),
    ("acceleration", "Acceleration"),
    ("backend", "Backend"),
    ("model", "Model"),
]


@require_GET
def compare(request):
    ids = _uuids(request.GET.getlist("ids"))[:4]
    images = selectors.images_for_compare(user=request.user, public_ids=ids)
    if len(images) < 2:
        if not request.user.is_authenticated:
            raise Http404("Nothing to compare.")
        messages.error(request, "Select two to four images you can see to compare them.")
        return redirect("gallery")
    params = [selectors.image_params(image) for image in images]
    rows = []
    for key, label in COMPARED:
        values = []
        for item in params:
            value = item.get(key)
            if key == "size":
                value = f"{value['width']}×{value['height']}"
            elif isinstance(value, str):
                value = value.strip()  # the default negative prompt is a single space
            values.append(value)
        rows.append({"label": label, "values": values, "differs": len(set(map(str, values))) > 1})
    return render(
        request,
        "gallery/compare.html",
        {"images": images, "rows": rows},
    )


# --- Collections ---------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
def collections(request):
    if request.method == "POST":
        try:
            collection = services.collection_create(
                user=request.user,
                name=request.POST.get("name", ""),
                visibility=request.POST.get("visibility", Visibility.PRIVATE),
            )
        except ValueError as error:
            messages.error(request, str(error))
            return redirect("collections")
        ids = _uuids(request.POST.getlist("images"))
        if ids:
            services.collection_add_images(user=request.user, collection=collection, image_ids=ids)
        messages.success(request, f"Created collection {collection.name}.")
        return redirect(_next(request, reverse("collection-detail", args=[collection.public_id])))
    return render(
        request,
        "gallery/collections.html",
        {
            "collections": selectors.collections_list(user=request.user),
            "visibility_choices": Visibility.choices,
        },
    )


@require_GET
def collection_detail(request, public_id):
    collection = _collection_or_404(request, public_id)
    data = request.GET.copy()
    data["collection"] = str(collection.public_id)
    data["scope"] = "collection"
    return _grid(request, data, collection=collection)


def _owned_collection(request, public_id) -> Collection:
    collection = _collection_or_404(request, public_id)
    if collection.user_id != request.user.pk:
        raise Http404("No such collection.")
    return collection


@require_POST
@login_required
def collection_edit(request, public_id):
    collection = _owned_collection(request, public_id)
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
    collection = _owned_collection(request, public_id)
    services.collection_delete(user=request.user, collection=collection)
    messages.success(request, f"Deleted collection {collection.name} (its images stay).")
    return redirect("collections")


@require_POST
@login_required
def collection_cover(request, public_id):
    collection = _owned_collection(request, public_id)
    image = _image_or_404(request, request.POST.get("image", ""))
    try:
        services.collection_set_cover(user=request.user, collection=collection, image=image)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Cover of {collection.name} set.")
    return redirect(_next(request, reverse("collection-detail", args=[collection.public_id])))


@require_POST
@login_required
def collection_share(request, public_id):
    collection = _owned_collection(request, public_id)
    share = services.share_create(
        user=request.user, collection=collection, expires_in=_expiry(request)
    )
    url = request.build_absolute_uri(reverse("share", args=[share.token]))
    messages.success(request, f"Share link created: {url}")
    return redirect("collection-detail", public_id=collection.public_id)


@require_POST
@login_required
def share_revoke(request, public_id):
    try:
        share = selectors.share_get_for_owner(user=request.user, public_id=public_id)
    except (ShareLink.DoesNotExist, ValidationError):
        raise Http404("No such share link.") from None
    services.share_revoke(user=request.user, share=share)
    messages.success(request, "Share link revoked: it no longer opens.")
    default = (
        reverse("image-detail", args=[share.image.public_id])
        if share.image_id
        else reverse("collection-detail", args=[share.collection.public_id])
    )
    return redirect(_next(request, default))


# --- Share pages (anonymous) ---------------------------------------------------------------


def _share_or_404(token: str) -> ShareLink:
    try:
        return selectors.share_get_active(token=token)
    except ShareLink.DoesNotExist:
        raise Http404("This link does not exist, has expired or was revoked.") from None


def _share_context(request, share: ShareLink) -> dict:
    page_url = request.build_absolute_uri(reverse("share", args=[share.token]))
    context = {"share": share, "page_url": page_url}
    if share.image_id:
        try:
            image = selectors.share_image_get(share=share)
        except Image.DoesNotExist:
            raise Http404("This link does not exist, has expired or was revoked.") from None
        context.update(
            {
                "image": image,
                "title": image.job.prompt,
                "og_image": request.build_absolute_uri(reverse("share-file", args=[share.token])),
                "og_width": image.width,
                "og_height": image.height,
            }
        )
    else:
        page = selectors.share_images_page(share=share, cursor=request.GET.get("cursor") or None)
        cover = page.images[0] if page.images else None
        context.update(
            {
                "collection": share.collection,
                "page": page,
                "title": share.collection.name,
                "next_url": (
                    f"{request.path}?{urlencode({'cursor': page.next_cursor})}"
                    if page.next_cursor
                    else None
                ),
            }
        )
        if cover is not None:
            context.update(
                {
                    "og_image": request.build_absolute_uri(
                        reverse("share-image-file", args=[share.token, cover.public_id])
                    ),
                    "og_width": cover.width,
                    "og_height": cover.height,
                }
            )
    return context


@require_GET
def share(request, token):
    share = _share_or_404(token)
    try:
        context = _share_context(request, share)
    except FilterError:
        raise Http404("No such page.") from None
    if not request.GET.get("cursor"):
        services.share_record_view(share=share)
    context["embed_url"] = request.build_absolute_uri(reverse("share-embed", args=[share.token]))
    context["report_url"] = reverse("share-report", args=[share.token])
    if share.image_id:
        context.update(_report_context(request, context["image"]))
    return render(request, "gallery/share.html", context)


@require_http_methods(["GET", "POST"])
def share_report(request, token):
    """Report an image seen through a share link, with or without an account. GET: the form
    (for one image of a shared collection); POST: file it and say so."""
    share = _share_or_404(token)
    image_id = request.POST.get("image") or request.GET.get("image") or None
    if image_id is None and not share.image_id:
        raise Http404("Choose an image of the collection.")
    try:
        image = selectors.share_image_get(share=share, public_id=image_id)
    except (Image.DoesNotExist, ValidationError, ValueError):
        raise Http404("No such image.") from None
    context = {
        "share": share,
        "image": image,
        "report_url": reverse("share-report", args=[share.token]),
        "report_image_id": image_id or "",
        **_report_context(request, image),
    }
    status = 200
    if request.method == "POST" and not context["my_report"]:
        filed, status = _file_report(request, image)
        if filed:
            context["filed"] = True
            context["still_shown"] = selectors.share_images(share).filter(pk=image.pk).exists()
    return render(request, "gallery/share_report.html", context, status=status)


@xframe_options_exempt
@csp_replace({"frame-ancestors": ["*"]})
@require_GET
def share_embed(request, token):
    """A bare page other sites may put in an iframe (X-Frame-Options off, frame-ancestors *)."""
    share = _share_or_404(token)
    try:
        context = _share_context(request, share)
    except FilterError:
        raise Http404("No such page.") from None
    services.share_record_view(share=share)
    return render(request, "gallery/share_embed.html", context)


def _share_file(token: str, field: str, image_id=None) -> HttpResponse:
    share = _share_or_404(token)
    if image_id is None and not share.image_id:
        raise Http404("No such image.")
    try:
        image = selectors.share_image_get(share=share, public_id=image_id)
    except Image.DoesNotExist:
        raise Http404("No such image.") from None
    # Short cache: revoking a link should take effect soon even for browsers that saw it.
    response = image_file_response(image, field)
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_GET
def share_file(request, token):
    return _share_file(token, "file")


@require_GET
def share_thumbnail(request, token):
    return _share_file(token, "thumbnail")


@require_GET
def share_image_file(request, token, image_id):
    return _share_file(token, "file", image_id)


@require_GET
def share_image_thumbnail(request, token, image_id):
    return _share_file(token, "thumbnail", image_id)
