"""The worker's side of an edit: the backend request from the stored inputs, the safety check
of uploads (moderation applies to inputs as well as outputs), the mask applied to every
result, and the sources handed to provenance."""

import dataclasses
import io

from django.conf import settings
from PIL import Image as PILImage
from PIL import ImageChops, ImageFilter

from generation.backends import BackendError, GeneratedImage, GenerationRequest
from generation.edits.signed import edit_input_signed_urls
from generation.edits.store import EditInputsMissing, edit_inputs_of, edit_inputs_read
from generation.imaging import decode
from generation.models import Job
from generation.params import GenerationParams
from generation.safety import get_safety_checker

# How far (pixels) the edge of a mask is softened, inside the mask only.
FEATHER = 3


def edit_request(job: Job, params: GenerationParams) -> GenerationRequest:
    """The backend request of an edit job, with its stored sources (and signed URLs of them
    when the remote backend is told to send URLs)."""
    try:
        sources, mask = edit_inputs_read(job)
    except EditInputsMissing as exc:
        raise BackendError(
            f"{exc} The edit cannot run; submit it again.",
            code="edit_inputs_missing",
            retryable=False,
        ) from None
    _check_uploads(job, sources)
    request = params.backend_request(model=job.model, sources=sources, mask=mask)
    if job.backend == "remote" and settings.QWEN_IMAGE_EDIT_SOURCES == "signed_url":
        urls, mask_url = edit_input_signed_urls(job)
        request = dataclasses.replace(
            request, edit=dataclasses.replace(request.edit, urls=urls, mask_url=mask_url)
        )
    return request


def _check_uploads(job: Job, sources: list[bytes]) -> None:
    """Uploads meet the safety checker before any backend sees them (gallery picks were
    checked when they were made, and only showable ones can be picked)."""
    checker = get_safety_checker()
    score = getattr(checker, "score", None)
    if score is None:  # the provider-signals checker has nothing to say about an input
        return
    images, _ = edit_inputs_of(job)
    for row, data in zip(images, sources, strict=True):
        if row.source_image_id is not None:
            continue
        try:
            value = score(decode(data))
        except Exception as exc:  # fail closed, like the output check
            raise BackendError(
                f"The safety checker could not check a source image ({type(exc).__name__}).",
                code="safety_unavailable",
                retryable=True,
            ) from None
        if value >= settings.SAFETY_NSFW_THRESHOLD:
            raise BackendError(
                f"Source image {row.position + 1} was refused by the safety checker.",
                code="source_flagged",
                retryable=False,
            )


def edit_result_finish(request: GenerationRequest, result: GeneratedImage) -> GeneratedImage:
    """With a mask, every pixel outside it is the first source's own (at the result's size)."""
    edit = request.edit
    if edit is None or edit.mask is None:
        return result
    source = PILImage.open(io.BytesIO(edit.images[0])).convert("RGB")
    mask = PILImage.open(io.BytesIO(edit.mask)).convert("L")
    return dataclasses.replace(result, data=mask_composite(result.data, source, mask))


def mask_composite(data: bytes, source: PILImage.Image, mask: PILImage.Image) -> bytes:
    """The result inside the mask, the source outside it; the mask's edge is feathered inward
    only, so no pixel outside the mask changes."""
    result = decode(data)
    size = result.size
    if source.size != size:
        source = source.resize(size, PILImage.Resampling.LANCZOS)
    if mask.size != size:
        mask = mask.resize(size, PILImage.Resampling.NEAREST)
    soft = ImageChops.multiply(mask.filter(ImageFilter.GaussianBlur(FEATHER)), mask)
    soft = soft.point(lambda value: min(255, value * 2))
    combined = PILImage.composite(result, source, soft)
    buffer = io.BytesIO()
    combined.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def edit_provenance_sources(job: Job) -> list[tuple[bytes, str]]:
    """(bytes, title) of each source image, first the one edited, for the provenance step
    (generation.provenance.Source(data=..., title=...)): an edit is signed as c2pa.edited
    with these as ingredients."""
    if not job.edit:
        return []
    images, _ = edit_inputs_of(job)
    sources, _ = edit_inputs_read(job)
    return [(data, f"source-{row.position}.png") for row, data in zip(images, sources, strict=True)]
