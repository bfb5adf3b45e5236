"""/v1 endpoints owned by the gallery app: images (list, detail, delete, visibility, reseed,
favorite, share), collections and share links. Thin: parse, call a selector or service, shape."""

import datetime as dt
import uuid

from django.http import Http404
from django.urls import reverse
from ninja import Query, Router, Status

from accounts.auth import api_auth
from core.errors import ApiError, ErrorOut, optional_body_object
from core.http import get_or_404
from gallery import selectors, services
from gallery.models import Collection, ShareLink
from gallery.schemas import (
    CollectionIn,
    CollectionOut,
    FavoriteIn,
    FavoriteOut,
    GalleryImageDetailOut,
    GalleryImageListOut,
    GalleryImageOut,
    ImageQuery,
    ProvenanceOut,
    ReportIn,
    ReportOut,
    ReseedIn,
    ShareIn,
    ShareOut,
    TrashOut,
    VisibilityIn,
)
from gallery.selectors import FilterError
from gallery.services import NotAllowed, ReseedMode, ShareRefused
from generation.edits.selectors import edit_lineage
from generation.models import Image, Job, Report
from generation.moderation import ReportRefused, image_report
from generation.presenters import api_job_payload, image_payload
from generation.provenance import image_provenance
from generation.retention import LegalHoldActive
from generation.schemas import JobOut
from generation.selectors import image_get_for_user
from generation.signed_urls import image_signed_urls

router = Router(tags=["gallery"], auth=api_auth)


# --- Helpers -------------------------------------------------------------------------------


def _image(request, image_id) -> Image:
    return get_or_404(
        lambda: image_get_for_user(user=request.auth, public_id=image_id), "No such image."
    )


def _image_out(image: Image, request, favorite_ids: set[int]) -> dict:
    # Lists annotate the parent's public id (gallery.selectors.images_list); one image loads it.
    parent = getattr(image, "parent_public_id", None)
    if parent is None and image.job.parent_image_id:
        parent = image.job.parent_image.public_id
    return {
        # Signed URLs: an API client has no session to fetch the pages' file URLs with.
        **image_payload(image, request, urls=image_signed_urls),
        "prompt": image.job.prompt,
        "favorite": image.pk in favorite_ids,
        "parent_image_id": str(parent) if parent else None,
    }


def _share_out(share: ShareLink, request) -> dict:
    return {
        "id": str(share.public_id),
        "url": request.build_absolute_uri(reverse("share", args=[share.token])),
        "token": share.token,
        "image_id": str(share.image.public_id) if share.image_id else None,
        "collection_id": str(share.collection.public_id) if share.collection_id else None,
        "created_at": share.created_at.isoformat(),
        "expires_at": share.expires_at.isoformat() if share.expires_at else None,
        "view_count": share.view_count,
    }


def _collection_out(collection: Collection) -> dict:
    cover = getattr(collection, "cover_public_id", None)
    return {
        "id": str(collection.public_id),
        "name": collection.name,
        "visibility": collection.visibility,
        "owner": collection.user.get_username(),
        "cover_image_id": str(cover) if cover else None,
        "image_count": getattr(collection, "visible_count", 0),
        "created_at": collection.created_at.isoformat(),
    }


# --- Images --------------------------------------------------------------------------------


@router.get(
    "/images",
    response={200: GalleryImageListOut, 400: ErrorOut, 404: ErrorOut},
    summary="List images (scopes, filters, full-text search, cursor pages)",
)
def list_images(request, filters: Query[ImageQuery]):
    data = filters.model_dump(by_alias=True, exclude_none=True)
    data["flagged"] = "1" if filters.flagged else ""
    try:
        parsed = selectors.image_filters_parse(user=request.auth, data=data)
        page = selectors.images_list(
            user=request.auth, filters=parsed, cursor=filters.cursor, limit=filters.limit
        )
    except FilterError as error:
        if error.field == "collection":
            raise Http404("No such collection.") from None
        raise ApiError(400, error.message, code="invalid_parameter", param=error.field) from None
    return {
        "data": [_image_out(image, request, page.favorite_ids) for image in page.images],
        "next_cursor": page.next_cursor,
    }


@router.get("/images/{image_id}", response={200: GalleryImageDetailOut, 404: ErrorOut})
def get_image(request, image_id: uuid.UUID):
    image = _image(request, image_id)
    lineage = selectors.image_lineage(user=request.auth, image=image)
    edits = edit_lineage(user=request.auth, image=image)
    sources = [source.image for source in edits.sources if source.image is not None]
    related = [image, *lineage.children, *sources, *edits.edits]
    related += [lineage.parent] if lineage.parent else []
    favorites = selectors.favorite_image_ids(user=request.auth, images=related)
    reproduction = selectors.image_reproduction(image=image, parent=lineage.parent)
    return {
        **_image_out(image, request, favorites),
        "params": selectors.image_params(image),
        "reseeded_from": (
            _image_out(lineage.parent, request, favorites) if lineage.parent else None
        ),
        "reseeds": [_image_out(child, request, favorites) for child in lineage.children],
        "edited_from": [_image_out(source, request, favorites) for source in sources],
        "edits": [_image_out(child, request, favorites) for child in edits.edits],
        "reproduction": (
            {
                "original_id": str(reproduction.original.public_id),
                "pixels_match": reproduction.matches,
                "same_backend": reproduction.same_backend,
            }
            if reproduction
            else None
        ),
    }


PERMANENT_DOC = (
    "false (default): move to the trash for TRASH_DAYS days (hidden everywhere, its share "
    "links stop; POST .../restore brings it back). true: delete now, for good (rows and "
    "files); where a legal hold applies only staff may (403 legal_hold)."
)


@router.delete(
    "/images/{image_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    summary="Delete an image (to the trash, or for good)",
)
def delete_image(
    request, image_id: uuid.UUID, permanent: bool = Query(False, description=PERMANENT_DOC)
):
    """Owner only; staff may delete any image for good. Once in the trash the image is a 404
    to this call unless `permanent`."""
    image = None
    if permanent:  # the caller's own, trashed ones included (any image for staff)
        image = _image_owned_or_staff(request).filter(public_id=image_id).first()
    if image is None:
        image = _image(request, image_id)
    try:
        services.image_delete(user=request.auth, image=image, permanent=permanent)
    except NotAllowed as error:
        raise ApiError(403, error.message, code="not_owner") from None
    except LegalHoldActive as error:
        raise ApiError(403, error.message, code="legal_hold") from None
    return Status(204, None)


def _image_owned_or_staff(request):
    """Live or trashed: the caller's own images, or any for staff."""
    if request.auth.is_staff:
        return Image.objects.all()
    return Image.objects.filter(user=request.auth)


@router.post(
    "/images/{image_id}/restore",
    response={200: GalleryImageOut, 404: ErrorOut},
    summary="Bring an image back from the trash",
)
def restore_image(request, image_id: uuid.UUID):
    if not services.trash_restore(user=request.auth, kind="images", ids=[image_id]):
        raise ApiError(404, "No such image in your trash.", code="not_found")
    image = _image(request, image_id)
    favorites = selectors.favorite_image_ids(user=request.auth, images=[image])
    return _image_out(image, request, favorites)


@router.get(
    "/images/{image_id}/provenance",
    response={200: ProvenanceOut, 404: ErrorOut},
    summary="What a C2PA verifier reads from the image's stored file",
)
def image_provenance_get(request, image_id: uuid.UUID):
    """Read back from the stored PNG with c2pa-python: `state` is `valid` (trusted signer,
    intact), `untrusted` (intact, signer on no trust list, e.g. the install's development
    certificate), `tampered` (changed after signing), `unsigned` or `unreadable`."""
    image = _image(request, image_id)
    return {"image_id": str(image.public_id), **image_provenance(image=image).as_dict()}


@router.get("/trash", response=TrashOut, summary="Your trash")
def trash_list(request):
    """What waits in your trash (newest first, at most 200 of each kind) and when it goes."""
    trash = selectors.trash_for(user=request.auth)
    return {
        "days": trash.days,
        "legal_hold": trash.held,
        "images": [_trashed(i.public_id, i.deleted_at) for i in trash.images],
        "jobs": [_trashed(j.public_id, j.deleted_at) for j in trash.jobs],
        "collections": [_trashed(c.public_id, c.deleted_at) for c in trash.collections],
    }


def _trashed(public_id, deleted_at) -> dict:
    return {
        "id": str(public_id),
        "deleted_at": deleted_at.isoformat(),
        "purge_after": selectors.purge_date(deleted_at).isoformat(),
    }


@router.patch(
    "/images/{image_id}",
    response={200: GalleryImageOut, 400: ErrorOut, 403: ErrorOut, 404: ErrorOut},
    summary="Change an image's visibility (owner only)",
)
def update_image(request, image_id: uuid.UUID, payload: VisibilityIn):
    image = _image(request, image_id)
    try:
        image = services.image_set_visibility(
            user=request.auth, image=image, visibility=payload.visibility
        )
    except NotAllowed as error:
        raise ApiError(403, error.message, code="not_owner") from None
    favorites = selectors.favorite_image_ids(user=request.auth, images=[image])
    return _image_out(image, request, favorites)


@router.post(
    "/images/{image_id}/reseed",
    response={202: JobOut, 404: ErrorOut, 409: ErrorOut, 429: ErrorOut},
    summary="Reseed, make variations of, or regenerate an image exactly (a new job)",
)
def reseed_image(request, image_id: uuid.UUID, payload: ReseedIn | None = None):
    optional_body_object(request)
    image = _image(request, image_id)
    mode = payload.mode if payload else ReseedMode.RESEED
    # QuotaExceeded becomes the API's 429 with Retry-After (config.api).
    try:
        job = services.image_reseed(
            user=request.auth,
            image=image,
            mode=mode,
            source=Job.Source.API,
            api_key=getattr(request, "api_key", None),
        )
    except services.ReseedRefused as error:
        raise ApiError(409, error.message, code="params_no_longer_allowed") from None
    return Status(202, api_job_payload(job, request))


@router.post("/images/{image_id}/favorite", response={200: FavoriteOut, 404: ErrorOut})
def favorite_image(request, image_id: uuid.UUID, payload: FavoriteIn | None = None):
    optional_body_object(request)
    image = _image(request, image_id)
    state = services.favorite_set(
        user=request.auth, image=image, favorite=payload.favorite if payload else True
    )
    return {"id": str(image.public_id), "favorite": state}


@router.post(
    "/images/{image_id}/share",
    response={201: ShareOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut},
    summary="Create a share link for your image",
)
def share_image(request, image_id: uuid.UUID, payload: ShareIn | None = None):
    optional_body_object(request)
    image = _image(request, image_id)
    expires = payload.expires_in if payload else None
    try:
        share = services.share_create(
            user=request.auth,
            image=image,
            expires_in=dt.timedelta(seconds=expires) if expires else None,
        )
    except NotAllowed as error:
        raise ApiError(403, error.message, code="not_owner") from None
    except ShareRefused as error:
        raise ApiError(409, error.message, code="image_held_for_review") from None
    return Status(201, _share_out(share, request))


@router.post(
    "/images/{image_id}/report",
    response={201: ReportOut, 403: ErrorOut, 404: ErrorOut, 409: ErrorOut, 429: ErrorOut},
    summary="Report an image you can see to the moderators",
)
def report_image(request, image_id: uuid.UUID, payload: ReportIn):
    """One report per user and image; not your own images. Enough open reports hide the
    image until a moderator decides (MODERATION_AUTO_HIDE_REPORTS)."""
    image = _image(request, image_id)
    try:
        result = image_report(
            image=image, reporter=request.auth, reason=payload.reason, note=payload.note
        )
    except ReportRefused as error:
        status = {"own_image": 403, "already_reported": 409, "rate_limited": 429}[error.code]
        headers = {"Retry-After": str(error.retry_after)} if error.retry_after else None
        raise ApiError(status, error.message, code=error.code, headers=headers) from None
    report: Report = result.report
    return Status(
        201,
        {
            "image_id": str(image.public_id),
            "reason": report.reason,
            "note": report.note,
            "created_at": report.created_at.isoformat(),
            "image_hidden": result.hidden,
        },
    )


# --- Collections and share links -----------------------------------------------------------


@router.get("/collections", response={200: list[CollectionOut]})
def list_collections(request):
    return [_collection_out(c) for c in selectors.collections_list(user=request.auth)]


@router.post("/collections", response={201: CollectionOut, 400: ErrorOut})
def create_collection(request, payload: CollectionIn):
    try:
        collection = services.collection_create(
            user=request.auth, name=payload.name, visibility=payload.visibility
        )
    except ValueError as error:
        raise ApiError(400, str(error), code="invalid_parameter", param="name") from None
    added = 0
    if payload.image_ids:
        added = services.collection_add_images(
            user=request.auth, collection=collection, image_ids=payload.image_ids
        )
    collection.visible_count = added
    return Status(201, _collection_out(collection))


@router.delete(
    "/collections/{collection_id}",
    response={204: None, 403: ErrorOut, 404: ErrorOut},
    summary="Delete a collection (to the trash, or for good); its images stay",
)
def delete_collection(
    request,
    collection_id: uuid.UUID,
    permanent: bool = Query(False, description=PERMANENT_DOC),
):
    """Owner only; staff may delete any collection for good. Once in the trash the collection
    is a 404 to this call unless `permanent`."""
    collection = get_or_404(
        lambda: selectors.collection_get_deletable(
            user=request.auth, public_id=collection_id, permanent=permanent
        ),
        "No such collection.",
    )
    try:
        services.collection_delete(user=request.auth, collection=collection, permanent=permanent)
    except LegalHoldActive as error:
        raise ApiError(403, error.message, code="legal_hold") from None
    return Status(204, None)


@router.post(
    "/collections/{collection_id}/restore",
    response={200: CollectionOut, 404: ErrorOut},
    summary="Bring a collection back from the trash",
)
def restore_collection(request, collection_id: uuid.UUID):
    if not services.trash_restore(user=request.auth, kind="collections", ids=[collection_id]):
        raise ApiError(404, "No such collection in your trash.", code="not_found")
    collection = Collection.objects.get(public_id=collection_id)
    collection.visible_count = collection.items.filter(image__deleted_at__isnull=True).count()
    return _collection_out(collection)


@router.delete("/shares/{share_id}", response={204: None, 404: ErrorOut})
def revoke_share(request, share_id: uuid.UUID):
    share = get_or_404(
        lambda: selectors.share_get_for_owner(user=request.auth, public_id=share_id),
        "No such share link.",
    )
    services.share_revoke(user=request.auth, share=share)
    return Status(204, None)
