"""Prompt previews (enhancement) and presets."""

import datetime as dt
import uuid
from typing import Literal

from ninja import Schema
from pydantic import ConfigDict, Field, StrictBool, StrictFloat, StrictStr

from core.http import JsonInt
from generation.presets.services import MAX_TEMPLATE_LENGTH
from generation.schemas.fields import example_body


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
