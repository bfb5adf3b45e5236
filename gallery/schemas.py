"""API request and response shapes of the gallery (/v1/images, collections, shares). The
rules stay in gallery.services and selectors; types are strict, as the OpenAPI document says."""

import datetime as dt
from typing import Annotated, Literal

from ninja import Field, Schema
from pydantic import BeforeValidator, ConfigDict, StrictBool

from core.cursors import CURSOR_PATTERN
from core.http import CanonicalUUID, json_int
from core.time import iso_date
from generation.params import prompt_pattern
from generation.schemas import ImageOut, example_body


class GalleryImageOut(ImageOut):
    """An image as the API shows it everywhere, plus what the gallery knows about it."""

    prompt: str
    favorite: bool = Field(description="Starred by the caller.")
    parent_image_id: str | None = Field(None, description="Reseeded from this image.")


class GalleryImageListOut(Schema):
    data: list[GalleryImageOut]
    next_cursor: str | None = Field(
        None, description="Pass as `cursor` for the next page; null on the last page."
    )


class ReproductionOut(Schema):
    original_id: str
    pixels_match: bool
    same_backend: bool


class GalleryImageDetailOut(GalleryImageOut):
    params: dict
    reseeded_from: GalleryImageOut | None = None
    reseeds: list[GalleryImageOut]
    reproduction: ReproductionOut | None = None
    edited_from: list[GalleryImageOut] = Field(
        [], description="For an edit: the gallery images it was made from that you may see."
    )
    edits: list[GalleryImageOut] = Field([], description="Edits of this image you may see.")


QueryDate = Annotated[dt.date, BeforeValidator(iso_date)]


def _query_bool(value):
    # Exactly the two spellings the document's boolean has in a query string.
    if isinstance(value, bool):
        return value
    if value in ("true", "false"):
        return value == "true"
    raise ValueError("Use true or false.")


QueryBool = Annotated[bool, BeforeValidator(_query_bool)]


class ImageQuery(Schema):
    scope: Literal["mine", "team", "public", "favorites", "collection"] | None = Field(
        None, description="Default `mine`."
    )
    collection: CanonicalUUID | None = Field(
        None, description="A collection id (scope collection)."
    )
    q: str | None = Field(None, description="Words of the prompt (full-text, prefix match).")
    date_from: QueryDate | None = Field(None, alias="from", description="Created on or after.")
    date_to: QueryDate | None = Field(None, alias="to", description="Created on or before.")
    aspect: Literal["square", "landscape", "portrait"] | None = None
    size: str | None = Field(
        None, pattern=r"^[0-9]{2,5}[xX×][0-9]{2,5}$", description="Exact size, e.g. 1024x768."
    )
    backend: Literal["remote", "local", "demo"] | None = None
    model: str | None = None
    flagged: QueryBool = Field(
        False, description="Staff only: flagged or reported images (ignored for others)."
    )
    sort: Literal["newest", "oldest"] = "newest"
    cursor: str | None = Field(
        None, pattern=CURSOR_PATTERN, description="`next_cursor` of the previous page."
    )
    limit: int = Field(48, ge=1, le=200)


class VisibilityIn(Schema):
    model_config = ConfigDict(json_schema_extra=example_body({"visibility": "team"}))

    visibility: Literal["private", "team", "public"]


class ReseedIn(Schema):
    model_config = ConfigDict(json_schema_extra=example_body({"mode": "variations"}))

    mode: Literal["reseed", "variations", "exact"] = Field(
        "reseed",
        description=(
            "`reseed`: same parameters, new random seed. `variations`: seeds s+1…s+4 in one "
            "job. `exact`: the same seed (compare `pixel` hashes to check reproducibility)."
        ),
    )


class FavoriteIn(Schema):
    model_config = ConfigDict(json_schema_extra=example_body({"favorite": True}))

    favorite: StrictBool = True


class FavoriteOut(Schema):
    id: str
    favorite: bool


class ShareIn(Schema):
    model_config = ConfigDict(json_schema_extra=example_body({"expires_in": 86400}))

    expires_in: json_int(ge=60, le=366 * 86400) | None = Field(
        None, description="Seconds until the link stops working."
    )


class ReportIn(Schema):
    model_config = ConfigDict(
        json_schema_extra=example_body({"reason": "rights", "note": "Shows a trademarked logo."})
    )

    reason: Literal["sexual", "violence", "hate", "illegal", "rights", "other"] = Field(
        ...,
        description="sexual, violence, hate, illegal, rights (copyright, trademark, "
        "likeness) or other.",
    )
    note: str = Field("", max_length=1000, description="What moderators should know.")


class ReportOut(Schema):
    image_id: str
    reason: str
    note: str
    created_at: str
    image_hidden: bool = Field(
        description="Your report hid the image until a moderator decides (enough reports)."
    )


class ShareOut(Schema):
    id: str
    url: str
    token: str
    image_id: str | None
    collection_id: str | None
    created_at: str
    expires_at: str | None
    view_count: int


class CollectionIn(Schema):
    model_config = ConfigDict(
        json_schema_extra=example_body(
            {"name": "Moodboard", "visibility": "private", "image_ids": []}
        )
    )

    name: str = Field(
        ...,
        min_length=1,
        max_length=100,
        pattern=prompt_pattern(),
        description="Not blank, no NUL; runs of spaces are kept as one.",
    )
    visibility: Literal["private", "team", "public"] = "private"
    image_ids: list[CanonicalUUID] = Field(default_factory=list, max_length=500)


class CollectionOut(Schema):
    id: str
    name: str
    visibility: str
    owner: str
    cover_image_id: str | None
    image_count: int
    created_at: str


class ProvenanceActionOut(Schema):
    action: str
    software_agent: str
    digital_source_type: str


class ProvenanceOut(Schema):
    image_id: str
    state: Literal["valid", "untrusted", "tampered", "unsigned", "unreadable"]
    summary: str
    signer: str
    issuer: str
    signed_at: str | None
    claim_generator: str
    digital_source_type: str | None
    actions: list[ProvenanceActionOut]
    ingredients: list[dict]
    problems: list[dict]
    xmp_digital_source_type: str | None


class TrashedOut(Schema):
    id: str
    deleted_at: str
    purge_after: str


class TrashOut(Schema):
    days: int
    legal_hold: bool
    images: list[TrashedOut]
    jobs: list[TrashedOut]
    collections: list[TrashedOut]
