"""What an edit job takes (its sources and mask) and what it reports back."""

from typing import Annotated

from ninja import Schema
from pydantic import Field, StrictFloat, StrictStr

# An edit's source in JSON: a gallery image id, a data URI of a PNG, JPEG or WebP, or bare
# base64 (the same rule as generation.edits.sources; the bytes must still decode to an image).
EDIT_IMAGE_ID = "[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
EDIT_IMAGE_DATA = "(?:data:image/(?:png|jpeg|webp);base64,)?[A-Za-z0-9+/]+={0,2}"
EDIT_SOURCE_PATTERN = f"^(?:{EDIT_IMAGE_ID}|{EDIT_IMAGE_DATA})$"
EDIT_MASK_PATTERN = f"^{EDIT_IMAGE_DATA}$"
_ONE_ID = "00000000-0000-4000-8000-000000000000"


class EditIn(Schema):
    """What a job edits: images you may see, or uploads."""

    images: list[Annotated[StrictStr, Field(pattern=EDIT_SOURCE_PATTERN)]] = Field(
        min_length=1,
        description="1 to EDIT_MAX_IMAGES (3) sources, the first is edited and the others are "
        "references: each an id of a gallery image you may see (an unknown one is a 404), a "
        "data URI (data:image/png;base64,…) or base64.",
        examples=[[_ONE_ID]],
    )
    mask: Annotated[StrictStr, Field(pattern=EDIT_MASK_PATTERN)] | None = Field(
        None,
        description="A PNG over the first image (data URI or base64): transparent pixels, or "
        "without alpha white ones, may change; all others stay the source's.",
    )
    strength: StrictFloat | None = Field(
        None,
        gt=0,
        le=1,
        description="With a mask: how freely the masked area is repainted, (0, 1]. Default 1.",
    )


class EditSourceOut(Schema):
    sha256: str = Field(description="SHA-256 of the stored, normalised PNG.")
    width: int
    height: int


class EditParamsOut(Schema):
    images: list[EditSourceOut]
    mask: EditSourceOut | None
    strength: float
