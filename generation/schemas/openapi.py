"""The limits of GenerationParams, written into the OpenAPI document."""

from django.conf import settings

from core.webhook_urls import webhook_url_pattern
from generation.params import (
    NO_NUL_PATTERN,
    SEED_MAX,
    presets_allowed,
    prompt_pattern,
    size_sides,
    size_string_pattern,
)
from generation.presets.services import TEMPLATE_PATTERN

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
