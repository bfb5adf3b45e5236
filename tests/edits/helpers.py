"""Helpers for edit tests: source pictures, masks, and edit jobs made through the services."""

import io
import random

from django.core.files.storage import default_storage
from PIL import Image as PILImage
from PIL import ImageDraw

from generation import lifecycle, runner
from generation.edits.sources import edit_prepare
from generation.models import Job
from generation.params import GenerationParams


def photo(width: int = 256, height: int = 256, *, seed: int = 1, fmt: str = "PNG") -> bytes:
    """A busy picture (noise and shapes), so any change of pixels shows."""
    noise = random.Random(seed).randbytes(width * height * 3)
    image = PILImage.frombytes("RGB", (width, height), noise)
    draw = ImageDraw.Draw(image)
    draw.ellipse(
        [width // 4, height // 4, width * 3 // 4, height * 3 // 4], fill=(20 * seed, 90, 200)
    )
    buffer = io.BytesIO()
    image.save(buffer, fmt)
    return buffer.getvalue()


def box_mask(width: int = 256, height: int = 256, box=(64, 64, 192, 192), *, alpha=False) -> bytes:
    """White box on black (or, with alpha, OpenAI's spelling: transparent box on opaque)."""
    if alpha:
        image = PILImage.new("RGBA", (width, height), (0, 0, 0, 255))
        ImageDraw.Draw(image).rectangle(box, fill=(0, 0, 0, 0))
    else:
        image = PILImage.new("L", (width, height), 0)
        ImageDraw.Draw(image).rectangle(box, fill=255)
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    return buffer.getvalue()


def make_edit(
    user, *, images=None, mask=None, run: bool = True, visibility="private", **params
) -> Job:
    prepared = edit_prepare(user=user, images=images or [photo()], mask=mask)
    values = {"prompt": "make the circle gold", "seed": 5, "edit": prepared.params()}
    values.update(params)
    job = lifecycle.job_create(
        user=user,
        params=GenerationParams(**values),
        edit_inputs=prepared,
        visibility=visibility,
    )
    if run:
        runner.job_run(job_id=job.pk)
        job.refresh_from_db()
    return job


def pixels(image) -> PILImage.Image:
    with default_storage.open(image.file.name) as handle:
        return PILImage.open(io.BytesIO(handle.read())).convert("RGB")
