"""The one gate every stored byte of an image passes on its way out of the portal.

Pages, the API (URLs and b64_json, replays included), signed URLs, ZIP downloads, share
links and webhooks all read image files through `image_open` (or `image_file_response`,
built on it). Who may see an image is decided before, by the selectors of each path; the
gate re-reads the image's moderation state from the database at the moment the bytes leave,
so an image a moderator rejected is never served again, whatever a caller kept in memory or
which path it came by. Only staff (moderating) get a rejected image's bytes.

An edit's stored inputs (its copies of the sources and the mask) leave through the same gate
(`edit_input_file_response`): who may see one is decided before (generation.edits.selectors
for pages, the signed token for a provider); the gate re-reads, as the bytes leave, that the
input still exists, that its job is not in the trash, and that a source picked from the
gallery was not rejected since.
"""

from typing import IO

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect

from generation.imaging import DELIVERY_FORMATS, encode_delivery
from generation.models import EditInput, Image, Job

FIELDS = ("file", "thumbnail")


class ImageWithheld(Exception):
    """The image was rejected by a moderator (or deleted): its bytes do not leave."""


def image_may_leave(image: Image, *, staff: bool = False) -> bool:
    """The image still exists and is not rejected (staff: still exists), read now."""
    current = Image.objects.filter(pk=image.pk).values_list("moderation_state", flat=True).first()
    if current is None:
        return False
    return staff or current != Image.Moderation.REJECTED


def _staff(viewer) -> bool:
    return bool(viewer is not None and viewer.is_authenticated and viewer.is_staff)


def image_open(image: Image, field: str = "file", *, viewer=None) -> IO[bytes]:
    """The stored PNG (field "file") or WebP thumbnail, opened for reading; ImageWithheld
    when the gate refuses, FileNotFoundError when storage lost it."""
    if field not in FIELDS:
        raise ValueError(f"field must be one of {FIELDS}")
    if not image_may_leave(image, staff=_staff(viewer)):
        raise ImageWithheld(str(image.public_id))
    return default_storage.open(getattr(image, field).name, "rb")


def image_file_response(
    image: Image, field: str, *, viewer=None, fmt: str = "png", compression=None
):
    """The PNG (field "file") or WebP thumbnail; on S3 a redirect to a short-lived URL. With
    `fmt` jpeg or webp the PNG is converted on the way out (API deliveries).

    A withheld or missing image is a 404 (never a 403 that says it exists).
    """
    if not image_may_leave(image, staff=_staff(viewer)):
        raise Http404("No such image.")
    if field == "file" and fmt != "png":
        return _converted_response(image, fmt, compression)
    file = getattr(image, field)
    return stored_file_response(file.name, field, str(image.public_id))


def preview_thumbnail_name(job: Job, index: int) -> str:
    """Where the runner wrote a running job's thumbnail (generation.runner._write_files)."""
    return f"images/{job.public_id}/{index}.thumb.webp"


def stored_file_response(name: str, field: str, download_name: str, *, max_age: int = 3600):
    url = default_storage.url(name)
    if url.startswith("http"):  # S3: a short-lived signed URL, no HEAD request per thumbnail
        return HttpResponseRedirect(url)
    try:
        handle = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise Http404("File missing.") from None
    content_type = "image/png" if field == "file" else "image/webp"
    response = FileResponse(handle, content_type=content_type)
    extension = "png" if field == "file" else "webp"
    response["Content-Disposition"] = f'inline; filename="{download_name}.{extension}"'
    response["Cache-Control"] = f"private, max-age={max_age}"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def _converted_response(image: Image, fmt: str, compression) -> HttpResponse:
    try:
        with default_storage.open(image.file.name, "rb") as handle:
            data = encode_delivery(handle.read(), fmt=fmt, compression=compression)
    except FileNotFoundError:
        raise Http404("File missing.") from None
    response = HttpResponse(data, content_type=DELIVERY_FORMATS[fmt])
    extension = "jpg" if fmt == "jpeg" else fmt
    response["Content-Disposition"] = f'inline; filename="{image.public_id}.{extension}"'
    response["Cache-Control"] = "private, max-age=3600"
    response["X-Content-Type-Options"] = "nosniff"
    return response


# --- An edit's stored inputs ----------------------------------------------------------------


def edit_input_may_leave(row: EditInput, *, staff: bool = False) -> bool:
    """The input still exists, its job is not trashed and its gallery source (if any) is not
    rejected, read now (staff: still exists)."""
    current = (
        EditInput.objects.filter(pk=row.pk)
        .values_list("job__deleted_at", "source_image__moderation_state")
        .first()
    )
    if current is None:
        return False
    trashed, moderation = current
    return staff or (trashed is None and moderation != Image.Moderation.REJECTED)


def edit_input_file_response(row: EditInput, *, viewer=None, cache: str = "private, max-age=3600"):
    """The stored PNG of an edit's source or mask; a withheld or missing one is a 404."""
    if not edit_input_may_leave(row, staff=_staff(viewer)):
        raise Http404("No such file.")
    try:
        handle = default_storage.open(row.file.name, "rb")
    except FileNotFoundError:
        raise Http404("File missing.") from None
    response = FileResponse(handle, content_type="image/png")
    response["Content-Disposition"] = f'inline; filename="{row.public_id}.png"'
    response["Cache-Control"] = cache
    response["X-Content-Type-Options"] = "nosniff"
    return response
