"""An image's Content Credentials: what a C2PA verifier reads from its stored file."""

from django.shortcuts import render
from django.views.decorators.http import require_GET

from gallery.views import access
from generation.provenance import image_provenance


@require_GET
def image_provenance_page(request, public_id):
    image = access.image_read(request, public_id)
    return render(
        request,
        "gallery/provenance.html",
        {"image": image, "provenance": image_provenance(image=image)},
    )
