"""Image files for signed-in pages (the one place is generation.files)."""

from django.views.decorators.http import require_GET

from generation.access import image_read
from generation.files import image_file_response


def _serve(request, public_id, field: str):
    return image_file_response(image_read(request, public_id), field)


@require_GET
def image_file(request, public_id):
    return _serve(request, public_id, "file")


@require_GET
def image_thumbnail(request, public_id):
    return _serve(request, public_id, "thumbnail")
