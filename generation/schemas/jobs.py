"""A job: the /v1/jobs body, the job and its parts, the estimate, the webhook secret."""

import datetime as dt
import uuid
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StrictStr

from core.http import json_int
from generation.schemas.edits import EditIn, EditParamsOut
from generation.schemas.fields import GenerationFieldsIn, example_body
from generation.schemas.images import ImageOut
from usage.api import BudgetOut


class JobIn(GenerationFieldsIn):
    model_config = ConfigDict(
        json_schema_extra=example_body(
            {
                "prompt": "A brass owl reading a map, warm light",
                "size": {"width": 1024, "height": 768},
                "n": 2,
                "num_inference_steps": 30,
                "guidance_scale": 2.5,
                "visibility": "private",
            }
        )
    )

    model: StrictStr | None = Field(None, description="Model name. Default: the portal's model.")
    edit: EditIn | None = Field(
        None,
        description='Make the job an edit: {"images": [...], "mask": ...}. Size "auto" (the '
        "default for an edit) keeps the first image's size.",
    )
    visibility: Literal["private", "team", "public"] = Field(
        "private", description="Who may see the images in the gallery."
    )
    output_format: Literal["png", "jpeg", "webp"] | None = Field(
        None,
        description="File format of the images' signed URLs; stored originals stay PNG. "
        "Default png.",
    )
    output_compression: json_int(ge=0, le=100) | None = Field(
        None, description="JPEG/WebP quality, 0-100. Default 100."
    )
    user: str | None = Field(
        None, max_length=256, description="Your end user's id, kept on the job for auditing."
    )


class SizeOut(Schema):
    width: int
    height: int


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
    revised_prompt: str = Field("", description="The prompt drawn, when it differs.")
    enhance: bool = False
    size_auto: bool = Field(False, description='The size was "auto".')


class EnhancementOut(Schema):
    status: Literal["enhanced", "accepted", "edited", "fallback"]
    note: str


class PresetRefOut(Schema):
    id: uuid.UUID
    name: str
    version: int


class JobErrorOut(Schema):
    code: str
    message: str


class WebhookDeliveryOut(Schema):
    id: uuid.UUID
    event: Literal["job.succeeded", "job.failed", "job.canceled"]
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


class JobUsageOut(Schema):
    units: int = Field(
        description="Units of work that count: calls to the image service that were made (and "
        "billed), or images made on a local GPU; every attempt's."
    )
    calls_refused: int = Field(description="Calls the service refused (not billed).")
    in_flight: int = Field(description="Units started and not settled yet.")
    megapixels: float
    steps: int


class CostOut(Schema):
    amount: float = Field(
        description="Cost of the job's work so far, plus what is still reserved for images "
        "not started yet."
    )
    currency: str
    estimated: bool = Field(
        description="True while work is in flight or reserved, or for jobs from before the "
        "usage ledger."
    )


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
    enhancement: EnhancementOut | None = Field(
        None, description="What became of prompt enhancement (absent when none was asked)."
    )
    preset: PresetRefOut | None = Field(None, description="The preset version the job used.")
    output_format: Literal["png", "jpeg", "webp"] = "png"
    usage: JobUsageOut | None = None
    cost: CostOut | None = None


class EstimateUsageOut(Schema):
    images: int
    width: int
    height: int
    megapixels_per_image: float
    megapixels: float
    steps: int


class EstimateCostOut(Schema):
    amount: float
    per_image: float
    currency: str
    estimated: bool


class RefusalOut(Schema):
    status: int = Field(description="What POST /v1/jobs would answer: 429 or 402.")
    code: str
    message: str
    retry_after: int


class EstimateOut(Schema):
    object: Literal["estimate"]
    backend: str
    model: str
    usage: EstimateUsageOut
    cost: EstimateCostOut
    allowed: bool = Field(description="Whether your limits would accept the job now.")
    refusal: RefusalOut | None
    budgets: list[BudgetOut]


class JobListOut(Schema):
    data: list[JobOut]
    has_more: bool
    next_cursor: str | None = Field(description="Pass as ?cursor= for the next page.")


class WebhookSecretOut(Schema):
    secret: str = Field(description="HMAC-SHA256 key for the X-Studio-Signature header.")
