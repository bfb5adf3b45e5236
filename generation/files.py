"""Serving stored image files: the one place a PNG or thumbnail leaves storage."""

from django.core.files.storage import default_storage
from django.http import FileResponse, Http404, HttpResponseRedirect

from generation.models import Image, Job


def image_file_response(image: Image, field: str):
    """The PNG (field "file") or WebP thumbnail; on S3 a redirect to a short-lived URL."""
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
