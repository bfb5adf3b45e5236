"""Share links: making and revoking them, and the pages anyone with a link may open
(/s/<token>/: the page, the embeddable frame, the report form and the files)."""

from urllib.parse import urlencode

from csp.decorators import csp_replace
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from core.http import safe_next
from gallery import selectors, services
from gallery.models import ShareLink
from gallery.selectors import FilterError
from gallery.services import NotAllowed, ShareRefused
from gallery.views import access
from gallery.views.params import share_expiry
from gallery.views.reports import report_context, report_file
from generation.files import image_file_response

# --- Making and revoking links -------------------------------------------------------------


def _created(request, share: ShareLink) -> None:
    url = request.build_absolute_uri(reverse("share", args=[share.token]))
    messages.success(request, f"Share link created: {url}")


@require_POST
@login_required
def image_share(request, public_id):
    image = access.image_read(request, public_id)
    try:
        share = services.share_create(
            user=request.user, image=image, expires_in=share_expiry(request)
        )
    except (NotAllowed, ShareRefused) as error:
        messages.error(request, error.message)
    else:
        _created(request, share)
    return redirect("image-detail", public_id=image.public_id)


@require_POST
@login_required
def collection_share(request, public_id):
    collection = access.collection_write(request, public_id)
    share = services.share_create(
        user=request.user, collection=collection, expires_in=share_expiry(request)
    )
    _created(request, share)
    return redirect("collection-detail", public_id=collection.public_id)


@require_POST
@login_required
def share_revoke(request, public_id):
    share = access.share_write(request, public_id)
    services.share_revoke(user=request.user, share=share)
    messages.success(request, "Share link revoked: it no longer opens.")
    default = (
        reverse("image-detail", args=[share.image.public_id])
        if share.image_id
        else reverse("collection-detail", args=[share.collection.public_id])
    )
    return redirect(safe_next(request, default))


# --- The pages behind a link (anonymous) ---------------------------------------------------


def _share_context(request, share: ShareLink) -> dict:
    """The shared image, or a page of the shared collection, with what link previews read."""
    context = {
        "share": share,
        "page_url": request.build_absolute_uri(reverse("share", args=[share.token])),
    }
    if share.image_id:
        image = access.share_image(share, message=access.LINK_GONE)
        return {
            **context,
            "image": image,
            "title": image.job.prompt,
            "og_image": request.build_absolute_uri(reverse("share-file", args=[share.token])),
            "og_width": image.width,
            "og_height": image.height,
        }
    try:
        page = selectors.share_images_page(share=share, cursor=request.GET.get("cursor") or None)
    except FilterError:  # a cursor that is not ours
        raise Http404("No such page.") from None
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
    if page.images:
        cover = page.images[0]
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
    share = access.share_by_token(token)
    context = _share_context(request, share)
    if not request.GET.get("cursor"):  # one view per visit, not per page of a collection
        services.share_record_view(share=share)
    context["embed_url"] = request.build_absolute_uri(reverse("share-embed", args=[share.token]))
    context["report_url"] = reverse("share-report", args=[share.token])
    if share.image_id:
        context.update(report_context(request, context["image"]))
    return render(request, "gallery/share.html", context)


@xframe_options_exempt
@csp_replace({"frame-ancestors": ["*"]})
@require_GET
def share_embed(request, token):
    """A bare page other sites may put in an iframe (X-Frame-Options off, frame-ancestors *)."""
    share = access.share_by_token(token)
    context = _share_context(request, share)
    services.share_record_view(share=share)
    return render(request, "gallery/share_embed.html", context)


@require_http_methods(["GET", "POST"])
def share_report(request, token):
    """Report an image seen through a share link, with or without an account. GET: the form
    (for one image of a shared collection); POST: file it and say so."""
    share = access.share_by_token(token)
    image_id = request.POST.get("image") or request.GET.get("image") or None
    image = access.share_image(share, image_id)
    context = {
        "share": share,
        "image": image,
        "report_url": reverse("share-report", args=[share.token]),
        "report_image_id": image_id or "",
        **report_context(request, image),
    }
    status = 200
    if request.method == "POST" and not context["my_report"]:
        filed, status = report_file(request, image)
        if filed:
            context["filed"] = True
            context["still_shown"] = selectors.share_shows_image(share=share, image=image)
    return render(request, "gallery/share_report.html", context, status=status)


def _share_file(token: str, field: str, image_id=None) -> HttpResponse:
    image = access.share_image(access.share_by_token(token), image_id)
    response = image_file_response(image, field)
    # Short cache: revoking a link should take effect soon even for browsers that saw it.
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
