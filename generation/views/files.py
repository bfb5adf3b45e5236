"""Image files for signed-in pages (the one place is generation.files), and the thumbnails of
a running job's images stored before the job ends (the Create feed's early previews)."""

from django.http import Http404
from django.views.decorators.http import require_GET

from generation.access import image_read, job_read
from generation.files import image_file_response, preview_thumbnail_name, stored_file_response
from generation.models import Job


def _serve(request, public_id, field: str):
    return image_file_response(image_read(request, public_id), field, viewer=request.user)


@require_GET
def image_file(request, public_id):
    return _serve(request, public_id, "file")


@require_GET
def image_thumbnail(request, public_id):
    return _serve(request, public_id, "thumbnail")


@require_GET
def job_preview(request, public_id, index: int):
    """The thumbnail of image `index` of a running job, once stored and not held by the
    safety checker; the job's owner (and staff) only, like the job itself."""
    job = job_read(request, public_id)
    if job.status != Job.Status.RUNNING or index not in (job.ready_images or []):
        raise Http404("Not ready.")
    return stored_file_response(
        preview_thumbnail_name(job, index), "thumbnail", f"{job.public_id}-{index}", max_age=60
    )
