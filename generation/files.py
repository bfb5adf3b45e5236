"""Serving stored image files: the one place a PNG or thumbnail leaves storage."""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponse, HttpResponseRedirect

from generation.imaging import DELIVERY_FORMATS, encode_delivery
from generation.models import Image


def image_file_response(image: Image, field: str, *, fmt: str = "png", compression=None):
    """The PNG (field "file") or WebP thumbnail; on S3 a redirect to a short-lived URL. With
    `fmt` jpeg or webp the PNG is converted on the way out (API deliveries)."""
    if field == "file" and fmt != "png":
        return _converted_response(image, fmt, compression)
    file = getattr(image, field)
    url = default_storage.url(file.name)
    if url.startswith("http"):  # S3: a short-lived signed URL, no HEAD request per thumbnail
        return HttpResponseRedirect(url)
    try:
        handle = default_storage.open(file.name, "rb")
    except FileNotFoundError:
        raise Http404("File missing.") from None
    content_type = "image/png" if field == "file" else "image/webp"
    response = FileResponse(handle, content_type=content_type)
    extension = "png" if field == "file" else "webp"
    response["Content-Disposition"] = f'inline; filename="{image.public_id}.{extension}"'
    response["Cache-Control"] = "private, max-age=3600"
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
