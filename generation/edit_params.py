"""An edit's parameters (generation.edits): the sources it works from, as GenerationParams
holds them (`edit`), and the size "auto" of an edit. Kept beside params.py, which imports
them; nothing else of the app is imported here."""

import math
from typing import Annotated

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class EditSource(BaseModel):
    """One input picture of an edit: the stored, normalised PNG named by its hash, and the
    gallery image it was picked from (None for an upload)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    sha256: Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
    width: Annotated[int, Field(ge=1)]
    height: Annotated[int, Field(ge=1)]
    image: str | None = None


class EditParams(BaseModel):
    """What an edit works from: 1 to EDIT_MAX_IMAGES source images (the first is the one
    edited, the others are references) and an optional mask over the first (white = edit here),
    with how freely the masked area may be repainted."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    images: list[EditSource]
    mask: EditSource | None = None
    strength: float = 1.0

    @field_validator("images")
    @classmethod
    def _images(cls, value: list[EditSource]) -> list[EditSource]:
        limit = settings.EDIT_MAX_IMAGES
        if not 1 <= len(value) <= limit:
            raise ValueError(f"An edit takes 1 to {limit} source images.")
        return value

    @field_validator("strength")
    @classmethod
    def _strength(cls, value: float) -> float:
        if not math.isfinite(value) or not 0 < value <= 1:
            raise ValueError("Strength must be a number above 0 and at most 1.")
        return value

    @model_validator(mode="after")
    def _mask_fits(self) -> "EditParams":
        first, mask = self.images[0], self.mask
        if mask is not None and (mask.width, mask.height) != (first.width, first.height):
            raise ValueError("The mask must have the size of the first source image.")
        return self

    def as_api(self) -> dict:
        """The public spelling (job params, PNG text, the image page): the sources by hash and
        size only. Which gallery image one came from is shown by the lineage, to those who may
        see that image; an id here would follow a public result everywhere."""
        return self.model_dump(
            mode="json", exclude={"images": {"__all__": {"image"}}, "mask": {"image"}}
        )

    def stored(self) -> dict:
        """The job row's spelling: with the gallery ids the sources were picked from."""
        return self.model_dump(mode="json")

    @classmethod
    def from_stored(cls, data: dict) -> "EditParams":
        """A job's stored edit, trusted like the rest of its row (older limits still read)."""
        return cls.model_construct(
            images=[EditSource.model_construct(**item) for item in data.get("images", [])],
            mask=EditSource.model_construct(**data["mask"]) if data.get("mask") else None,
            strength=data.get("strength", 1.0),
        )


def edit_auto_size(width: int, height: int) -> tuple[int, int]:
    """Size "auto" of an edit: the source's own size when it fits the portal's limits, else
    the nearest size that does (same aspect, at most EDIT_AUTO_MAX_PIXELS), in multiples of 16."""
    low, high = settings.GENERATION_MIN_SIDE, settings.GENERATION_MAX_SIDE
    scale = min(1.0, high / max(width, height))
    scale = min(scale, math.sqrt(settings.EDIT_AUTO_MAX_PIXELS / (width * height)))
    scale = max(scale, low / min(width, height))
    sides = []
    for side in (width * scale, height * scale):
        rounded = max(16, round(side / 16) * 16)
        sides.append(min(max(rounded, -(-low // 16) * 16), high // 16 * 16))
    return sides[0], sides[1]
