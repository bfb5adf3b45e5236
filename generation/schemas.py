"""API request and response shapes for generation (the rules stay in GenerationParams)."""

import datetime as dt
import uuid
from typing import Annotated, Literal

from django.conf import settings
from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictInt, StrictStr

from core.http import JsonInt
from core.webhook_urls import webhook_url_pattern
from generation.params import (
    NO_NUL_PATTERN,
    SEED_MAX,
    GenerationParams,
    presets_allowed,
    prompt_pattern,
    size_sides,
    size_string_pattern,
)
from generation.presets.services import MAX_TEMPLATE_LENGTH, TEMPLATE_PATTERN
from generation.sizes import PRESETS
from usage.api import BudgetOut


def example_body(body: dict) -> dict:
    """A request body that works as is, for /v1/docs' "Try it out" (Swagger UI reads
    `example`; OpenAPI 3.1 readers `examples`). tests/config/test_api_docs.py sends each one."""
    return {"example": body, "examples": [body]}


def _doc(text: str, name: str) -> str:
    return f"{text} Default: `{GenerationParams.default(name)!r}`."


# Types are strict (a number is not a string, "1" is not a number, 1 is not true), so the
# server accepts exactly what the OpenAPI document says; the limits that come from settings
# are written into the document by openapi_constraints() below and enforced by
# GenerationParams.


class SizeIn(Schema):
    width: JsonInt
    height: JsonInt


class GenerationFieldsIn(Schema):
    """The hosted Qwen-Image request body. Unset fields take GenerationParams' defaults."""

    prompt: StrictStr = Field(description="What to draw.")
    negative_prompt: StrictStr | None = Field(
        None, description=_doc("What to avoid.", "negative_prompt")
    )
    size: StrictStr | SizeIn | None = Field(
        None,
        description=_doc(
            "A preset name ("
            + ", ".join(PRESETS)
            + '), "WIDTHxHEIGHT", {"width", "height"} (sides are multiples of 16), or '
            '"auto": the native Qwen size closest to the aspect the preset or the (revised) '
            "prompt asks for.",
            "size",
        ),
    )
    num_inference_steps: JsonInt | None = Field(
        None, description=_doc("Steps.", "num_inference_steps")
    )
    guidance_scale: StrictFloat | None = Field(
        None, description=_doc("CFG scale.", "guidance_scale")
    )
    seed: JsonInt | None = Field(
        None,
        description=(
            "Seed of the first image (image i uses seed + i, wrapping past "
            f"{SEED_MAX} to 0). Default: random."
        ),
    )
    acceleration: Literal["none", "regular", "high"] | None = Field(
        None, description=_doc("Fewer steps, faster.", "acceleration")
    )
    enable_safety_checker: StrictBool | None = Field(
        None,
        description=_doc(
            "Ask the provider to run its safety checker. The portal's own checker runs on "
            "every image regardless.",
            "enable_safety_checker",
        ),
    )
    n: JsonInt | None = Field(None, description=_doc("Number of images.", "n"))
    enhance: StrictBool | None = Field(
        None,
        description=_doc(
            "Rewrite the prompt with the portal's prompt enhancer before drawing (bounded in "
            "time; when it is slow, down or off the original prompt is used and the job says "
            "why). Ignored when `revised_prompt` is given.",
            "enhance",
        ),
    )
    revised_prompt: str | None = Field(
        None,
        description="Draw this instead of `prompt` (e.g. a revision from POST "
        "/v1/prompts/enhance, accepted or edited); the job keeps both.",
    )
    preset: str | None = Field(
        None,
        description="A preset's id or name (GET /v1/presets): its settings apply where this "
        "request sets none, and its template wraps the prompt.",
    )
    quality: Literal["low", "medium", "high", "standard", "hd", "auto"] | None = Field(
        None,
        description="OpenAI's quality, mapped to steps and acceleration (docs/api.md); "
        "explicit `num_inference_steps` or `acceleration` win.",
    )
    webhook_url: StrictStr | None = Field(
        None,
        description=(
            "Where to POST job.succeeded / job.failed / job.canceled (hosts allowed by the "
            "operator)."
        ),
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
        return values


class ImageGenerationIn(GenerationFieldsIn):
    """Hosted endpoint body plus OpenAI's spellings (`size: "1024x768"`, `response_format`)."""

    model_config = ConfigDict(
        json_schema_extra=example_body(
            {
                "prompt": "A red fox reading a newspaper, watercolor",
                "size": "landscape_4_3",
                "n": 1,
                "seed": 42,
                "response_format": "url",
            }
        )
    )

    model: StrictStr | None = Field(None, description="Model name. Default: the portal's model.")
    output_format: Literal["url", "b64_json", "png", "jpeg", "webp"] | None = Field(
        None,
        description="The hosted endpoint's spelling of response_format (url, b64_json), or "
        "OpenAI's file format (png, jpeg, webp) of the delivered images; stored originals "
        "stay PNG. Default png.",
    )
    output_compression: StrictInt | None = Field(
        None, ge=0, le=100, description="JPEG/WebP quality, 0-100 (OpenAI's). Default 100."
    )
    response_format: Literal["url", "b64_json"] | None = Field(
        None, description="OpenAI's spelling: url (signed, expiring) or b64_json. Default url."
    )
    background: Literal["auto", "opaque"] | None = Field(
        None,
        description="OpenAI's background. Qwen-Image draws opaque images: auto and opaque are "
        "accepted, transparent is refused (400).",
    )
    moderation: Literal["auto", "low"] | None = Field(
        None,
        description="OpenAI's moderation level, accepted; the portal's own checks apply to "
        "every image either way.",
    )
    style: Literal["vivid", "natural"] | None = Field(
        None, description="OpenAI's (DALL·E 3) style: accepted, no effect on Qwen-Image."
    )
    user: StrictStr | None = Field(
        None,
        max_length=256,
        description="Your end user's id (OpenAI's), kept on the job for auditing.",
    )


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
    output_compression: StrictInt | None = Field(
        None, ge=0, le=100, description="JPEG/WebP quality, 0-100. Default 100."
    )
    user: str | None = Field(
        None, max_length=256, description="Your end user's id, kept on the job for auditing."
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


# --- Prompt previews and presets --------------------------------------------------------------


class EnhanceIn(Schema):
    model_config = ConfigDict(
        json_schema_extra=example_body({"prompt": 'a brass owl reading a map, "OPEN" on the sign'})
    )

    prompt: StrictStr = Field(description="The prompt to rewrite.")
    preset: StrictStr | None = Field(
        None, description="A preset's id or name: its template wraps the prompt first."
    )


class EnhanceOut(Schema):
    prompt: str = Field(description="The prompt that was rewritten (after a preset's template).")
    revised_prompt: str = Field(description="The revision, or the prompt itself on fallback.")
    status: Literal["enhanced", "fallback"]
    note: str
    language: Literal["en", "zh"]
    seconds: float


class PresetValues(Schema):
    size: StrictStr | None = Field(None, description='Preset name, "WxH" or "auto".')
    num_inference_steps: JsonInt | None = None
    guidance_scale: StrictFloat | None = None
    negative_prompt: StrictStr | None = None
    acceleration: Literal["none", "regular", "high"] | None = None
    prompt_template: StrictStr | None = Field(
        None,
        max_length=MAX_TEMPLATE_LENGTH,
        description="The prompt sent, with {prompt} where yours goes. Empty or unset: {prompt}.",
    )
    enhance: StrictBool | None = Field(
        None, description="Enhancement on or off; empty: per request."
    )


class PresetIn(PresetValues):
    model_config = ConfigDict(
        json_schema_extra=example_body(
            {
                "name": "Studio photo",
                "prompt_template": "studio photo of {prompt}, softbox light",
                "size": "square_hd",
                "num_inference_steps": 30,
            }
        )
    )

    name: StrictStr = Field(min_length=1, max_length=80)
    description: StrictStr | None = Field(None, max_length=300)
    team: StrictBool = Field(
        False,
        description="Share with your current team (a team owner or admin approves it first, "
        "unless you are one).",
    )


class PresetUpdateIn(PresetValues):
    model_config = ConfigDict(
        json_schema_extra=example_body(
            {"prompt_template": "studio photo of {prompt}, rim light", "guidance_scale": 4.0}
        )
    )

    name: StrictStr | None = Field(None, min_length=1, max_length=80)
    description: StrictStr | None = Field(None, max_length=300)


class PresetOut(Schema):
    id: uuid.UUID
    name: str
    description: str
    scope: Literal["personal", "team"]
    team: str | None
    status: Literal["approved", "pending"]
    author: str
    version: int
    values: PresetValues
    use_count: int
    last_used_at: dt.datetime | None
    created_at: dt.datetime
    updated_at: dt.datetime
    can_manage: bool
    can_approve: bool


class PresetListOut(Schema):
    data: list[PresetOut]


# --- The limits of GenerationParams, written into the OpenAPI document ----------------------

GENERATION_BODIES = ("ImageGenerationIn", "JobIn", "PresetIn", "PresetUpdateIn", "EnhanceIn")


def _nullable(schema: dict) -> dict:
    return {"anyOf": [schema, {"type": "null"}]}


def generation_field_schemas() -> dict[str, dict]:
    """JSON Schema of each generation field, from the same settings and functions
    GenerationParams validates with: what the document calls valid, the server accepts."""
    sides = size_sides()
    side = {"type": "integer", "minimum": sides[0], "maximum": sides[-1], "multipleOf": 16}
    max_length = settings.GENERATION_MAX_PROMPT_LENGTH
    webhook = webhook_url_pattern()
    return {
        "prompt": {
            "type": "string",
            "minLength": 1,
            "maxLength": max_length,
            "pattern": prompt_pattern(),
        },
        "negative_prompt": _nullable(
            {"type": "string", "maxLength": max_length, "pattern": NO_NUL_PATTERN}
        ),
        "size": _nullable(
            {
                "anyOf": [
                    {"type": "string", "enum": [*presets_allowed(), "auto"]},
                    {"type": "string", "pattern": size_string_pattern()},
                    {
                        "type": "object",
                        "properties": {"width": side, "height": side},
                        "required": ["width", "height"],
                        "title": "SizeIn",
                    },
                ]
            }
        ),
        "num_inference_steps": _nullable(
            {"type": "integer", "minimum": 1, "maximum": settings.GENERATION_MAX_STEPS}
        ),
        "guidance_scale": _nullable({"type": "number", "minimum": 0, "maximum": 20}),
        "seed": _nullable({"type": "integer", "minimum": 0, "maximum": SEED_MAX}),
        "n": _nullable(
            {"type": "integer", "minimum": 1, "maximum": settings.GENERATION_MAX_IMAGES_PER_JOB}
        ),
        "webhook_url": (
            _nullable({"type": "string", "maxLength": 2000, "pattern": webhook})
            if webhook
            else {"type": "null"}
        ),
        "model": _nullable({"type": "string", "enum": [settings.QWEN_IMAGE_MODEL]}),
    }


def openapi_constraints(components: dict) -> None:
    """Write the generation limits into the request bodies of the OpenAPI document."""
    fields = generation_field_schemas()
    for name in GENERATION_BODIES:
        properties = components.get(name, {}).get("properties", {})
        for field, schema in fields.items():
            if field in properties:
                if field == "size" and name.startswith("Preset"):
                    schema = _string_sizes_only(schema)  # a preset stores its size as text
                keep = {k: v for k, v in properties[field].items() if k in ("description", "title")}
                properties[field] = {**schema, **keep}
    # The preset rules (presets.services words their refusals; the document states them).
    for name in ("PresetIn", "PresetUpdateIn"):
        properties = components.get(name, {}).get("properties", {})
        _add_pattern(properties.get("name"), prompt_pattern())
        _add_pattern(properties.get("prompt_template"), TEMPLATE_PATTERN)


def _add_pattern(schema: dict | None, pattern: str) -> None:
    """Add `pattern` to the string form of a (possibly nullable) property schema."""
    if schema is None:
        return
    for option in schema.get("anyOf", [schema]):
        if option.get("type") == "string":
            option["pattern"] = pattern


def _string_sizes_only(schema: dict) -> dict:
    """The size schema without its {width, height} form; empty means unset, as null does."""
    sized, null = schema["anyOf"]
    strings = [option for option in sized["anyOf"] if option.get("type") == "string"]
    return {"anyOf": [{"anyOf": [*strings, {"type": "string", "enum": [""]}]}, null]}
