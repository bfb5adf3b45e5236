"""One image: its lineage, whether a regeneration reproduced it, its parameters."""

from dataclasses import dataclass

from generation.models import Image
from generation.params import GenerationParams
from generation.presenters import job_params
from generation.selectors import (
    images_visible_to,
)


@dataclass
class Lineage:
    parent: Image | None
    children: list[Image]


@dataclass
class Reproduction:
    """Whether "Regenerate exactly" gave the same pixels as the image it started from."""

    original: Image
    matches: bool
    same_backend: bool


def image_lineage(*, user, image: Image, limit: int = 24) -> Lineage:
    """Reseeded from (if the user may see it) and reseeds of, newest first."""
    parent = None
    if image.job.parent_image_id:
        parent = images_visible_to(user).filter(pk=image.job.parent_image_id).first()
    children = list(images_visible_to(user).filter(job__parent_image=image)[:limit])
    return Lineage(parent=parent, children=children)


def image_reproduction(*, image: Image, parent: Image | None) -> Reproduction | None:
    """A verdict when this image repeats its parent's seed and parameters, else None."""
    if parent is None or image.seed != parent.seed:
        return None
    job, original = image.job, parent.job
    same_setup = job.model == original.model and GenerationParams.from_job(job).draws_like(
        GenerationParams.from_job(original)
    )
    if not same_setup:
        return None
    return Reproduction(
        original=parent,
        matches=bool(image.pixel_sha256) and image.pixel_sha256 == parent.pixel_sha256,
        same_backend=job.backend == original.backend,
    )


def image_params(image: Image) -> dict:
    """Everything that reproduces this one image, in API spelling."""
    return job_params(image.job, params=_image_generation_params(image))


def image_generate_initial(image: Image) -> dict:
    """Generate-form values for "Use these settings"."""
    return _image_generation_params(image).form_initial()


def _image_generation_params(image: Image) -> GenerationParams:
    return GenerationParams.from_job(image.job).for_image(image.seed)
