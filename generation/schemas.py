"""API request and response shapes for generation (the rules stay in GenerationParams)."""

import datetime as dt
import uuid
from typing import Literal

from ninja import Schema
from pydantic import Field

from generation.params import GenerationParams
from generation.sizes import PRESETS


def _doc(text: str, name: str) -> str:
    return f"{text} Default: `{GenerationParams.default(name)!r}`."


class SizeIn(Schema):
    width: int
    height: int


class GenerationFieldsIn(Schema):
    """The hosted Qwen-Image request body. Unset fields take GenerationParams' defaults."""

    prompt: str = Field(description="What to draw.")
    negative_prompt: str | None = Field(None, description=_doc("What to avoid.", "negative_prompt"))
    size: str | SizeIn | None = Field(
        None,
        description=_doc(
            "A preset name ("
            + ", ".join(PRESETS)
            + '), "WIDTHxHEIGHT" or {"width", "height"}; sides are multiples of 16.',
            "size",
        ),
    )
    num_inference_steps: int | None = Field(None, description=_doc("Steps.", "num_inference_steps"))
    guidance_scale: float | None = Field(None, description=_doc("CFG scale.", "guidance_scale"))
    seed: int | None = Field(
        None, description="Seed of the first image (image i uses seed + i). Default: random."
    )
    acceleration: Literal["none", "regular", "high"] | None = Field(
        None, description=_doc("Fewer steps, faster.", "acceleration")
    )
    enable_safety_checker: bool | None = Field(
        None,
        description=_doc(
            "Ask the provider to run its safety checker. The portal's own checker runs on "
            "every image regardless.",
            "enable_safety_checker",
        ),
    )
    n: int | None = Field(None, description=_doc("Number of images.", "n"))
    webhook_url: str | None = Field(
        None,
        description="Where to POST job.succeeded / job.failed (hosts allowed by the operator).",
    )

    def generation_fields(self) -> dict:
        """The fields GenerationParams validates, only those the caller set."""
        values = {
            name: getattr(self, name)
            for name in GenerationParams.input_names()
            if name != "edit" and getattr(self, name) is not None
        }
        if isinstance(values.get("size"), SizeIn):
            values["size"] = values["size"].model_dump()
        if values.get("size") == "auto":  # OpenAI's spelling of "your default"
            del values["size"]
        return values


class ImageGenerationIn(GenerationFieldsIn):
    """Hosted endpoint body plus OpenAI's spellings (`size: "1024x768"`, `response_format`)."""

    model: str | None = Field(None, description="Model name. Default: the portal's model.")
    output_format: Literal["url", "b64_json", "png"] | None = Field(
        None, description='Hosted spelling of response_format; "png" (OpenAI\'s) is accepted.'
    )
    response_format: Literal["url", "b64_json"] | None = Field(
        None, description="OpenAI's spelling: url (signed, expiring) or b64_json. Default url."
    )
    user: str | None = Field(None, description="Accepted for OpenAI compatibility; ignored.")
    quality: str | None = Field(None, description="Accepted for OpenAI compatibility; ignored.")
    style: str | None = Field(None, description="Accepted for OpenAI compatibility; ignored.")


class EditIn(Schema):
    """What a job edits: images you may see, or uploads."""

    images: list[str] = Field(
        description="1 to 3 sources, the first is edited and the others are references: each "
        "an id of a gallery image you may see, a data URI (data:image/png;base64,…) or base64.",
    )
    mask: str | None = Field(
        None,
        description="A PNG over the first image (data URI or base64): transparent pixels, or "
        "without alpha white ones, may change; all others stay the source's.",
    )
    strength: float | None = Field(
        None, description="With a mask: how freely the masked area is repainted, (0, 1]. Default 1."
    )


class JobIn(GenerationFieldsIn):
    model: str | None = Field(None, description="Model name. Default: the portal's model.")
    edit: EditIn | None = Field(
        None,
        description='Make the job an edit: {"images": [...], "mask": ...}. Size "auto" (the '
        "default for an edit) keeps the first image's size.",
    )
    visibility: Literal["private", "team", "public"] = Field(
        "private", description="Who may see the images in the gallery."
    )


class ImageDataOut(Schema):
    url: str | None = Field(None, description="Absolute, signed, expiring PNG URL.")
    b64_json: str | None = Field(None, description="The PNG, base64-encoded.")
    revised_prompt: str


class ImagesResponseOut(Schema):
    created: int
    data: list[ImageDataOut]
    job_id: uuid.UUID = Field(description="The job that made these images (GET /v1/jobs/{id}).")


class SizeOut(Schema):
    width: int
    height: int


class EditSourceOut(Schema):
    sha256: str = Field(description="SHA-256 of the stored, normalised PNG.")
    width: int
    height: int


class EditParamsOut(Schema):
    images: list[EditSourceOut]
    mask: EditSourceOut | None
    strength: float


class JobParamsOut(Schema):
    model: str
    prompt: str
    negative_prompt: str
    size: SizeOut
    size_preset: str
    num_inference_steps: int
    guidance_scale: float
    seed: int
    acceleration: str
    enable_safety_checker: bool
    n: int
    edit: EditParamsOut | None = Field(None, description="Set for an edit: its sources.")
    backend: str


class JobErrorOut(Schema):
    code: str
    message: str


class ImageOut(Schema):
    id: uuid.UUID
    job_id: uuid.UUID
    index: int
    seed: int
    width: int
    height: int
    byte_size: int
    sha256: str
    visibility: str
    moderation_state: str
    revised_prompt: str
    created_at: dt.datetime
    url: str = Field(description="Absolute, signed, expiring PNG URL (no session needed).")
    thumbnail_url: str = Field(description="Absolute, signed, expiring WebP thumbnail URL.")


class WebhookDeliveryOut(Schema):
    id: uuid.UUID
    event: Literal["job.succeeded", "job.failed"]
    status: Literal["pending", "succeeded", "failed"]
    attempts: int
    last_status_code: int | None
    last_error: str
    created_at: dt.datetime
    last_attempt_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None


class WebhookOut(Schema):
    url: str
    deliveries: list[WebhookDeliveryOut]


class JobOut(Schema):
    id: uuid.UUID
    status: Literal["queued", "running", "succeeded", "failed", "canceled"]
    progress: float
    params: JobParamsOut
    error: JobErrorOut | None
    attempts: int
    source: str
    created_at: dt.datetime
    started_at: dt.datetime | None
    finished_at: dt.datetime | None
    wait_seconds: float | None
    run_seconds: float | None
    images: list[ImageOut]
    webhook: WebhookOut | None = None


class JobListOut(Schema):
    data: list[JobOut]
    has_more: bool
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class WebhookSecretOut(Schema):
    secret: str = Field(description="HMAC-SHA256 key for the X-Studio-Signature header.")
