"""The generation request fields shared by every body that makes images, and the
OpenAI-compatible /v1/images/generations body."""

from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictStr

from core.http import JsonInt, json_int
from generation.params import (
    SEED_MAX,
    GenerationParams,
)
from generation.sizes import PRESETS


def example_body(body: dict) -> dict:
    """A request body that works as is, for /v1/docs' "Try it out" (Swagger UI reads
    `example`; OpenAPI 3.1 readers `examples`). tests/config/test_api_docs.py sends each one."""
    return {"example": body, "examples": [body]}


def _doc(text: str, name: str) -> str:
    return f"{text} Default: `{GenerationParams.default(name)!r}`."


# Types are strict (a number is not a string, "1" is not a number, 1 is not true), so the
# server accepts exactly what the OpenAPI document says; the limits that come from settings
# are written into the document by openapi.openapi_constraints() and enforced by
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
    output_compression: json_int(ge=0, le=100) | None = Field(
        None, description="JPEG/WebP quality, 0-100 (OpenAI's). Default 100."
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
