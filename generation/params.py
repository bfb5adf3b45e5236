"""GenerationParams: the one parameter schema shared by the form, the API and the CLI."""

import math
import re
from typing import Annotated, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from generation.sizes import DEFAULT_PRESET, PRESETS

SEED_MAX = 2**32 - 1
_SIZE_STRING = re.compile(r"^\s*(\d{1,5})\s*[xX×]\s*(\d{1,5})\s*$")


class Size(BaseModel):
    model_config = ConfigDict(extra="forbid")
    width: int
    height: int


class GenerationParams(BaseModel):
    """Validated request parameters. `size` accepts a preset name, "WxH" or {width, height}."""

    model_config = ConfigDict(extra="forbid")

    prompt: Annotated[str, Field(min_length=1)]
    negative_prompt: str = " "
    size: str | Size = DEFAULT_PRESET
    num_inference_steps: int = 30
    guidance_scale: float = 2.5
    seed: int | None = None
    acceleration: Literal["none", "regular", "high"] = "none"
    enable_safety_checker: bool = True
    n: int = 1

    # Resolved by the validator below.
    width: int = 0
    height: int = 0
    size_preset: str = ""

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        value = value.strip()
        if not value:
            raise ValueError("Prompt must not be empty.")
        if len(value) > settings.GENERATION_MAX_PROMPT_LENGTH:
            raise ValueError(
                f"Prompt is too long: at most {settings.GENERATION_MAX_PROMPT_LENGTH} characters."
            )
        if "\x00" in value:
            raise ValueError("Prompt must not contain NUL characters.")
        return value

    @field_validator("negative_prompt")
    @classmethod
    def _negative_prompt(cls, value: str) -> str:
        if len(value) > settings.GENERATION_MAX_PROMPT_LENGTH:
            raise ValueError(
                "Negative prompt is too long: "
                f"at most {settings.GENERATION_MAX_PROMPT_LENGTH} characters."
            )
        if "\x00" in value:
            raise ValueError("Negative prompt must not contain NUL characters.")
        return value or " "

    @field_validator("num_inference_steps")
    @classmethod
    def _steps(cls, value: int) -> int:
        if not 1 <= value <= settings.GENERATION_MAX_STEPS:
            raise ValueError(f"Steps must be between 1 and {settings.GENERATION_MAX_STEPS}.")
        return value

    @field_validator("guidance_scale")
    @classmethod
    def _guidance(cls, value: float) -> float:
        if not math.isfinite(value) or not 0 <= value <= 20:
            raise ValueError("Guidance scale must be a number between 0 and 20.")
        return value

    @field_validator("seed")
    @classmethod
    def _seed(cls, value: int | None) -> int | None:
        if value is not None and not 0 <= value <= SEED_MAX:
            raise ValueError(f"Seed must be between 0 and {SEED_MAX}.")
        return value

    @field_validator("n")
    @classmethod
    def _n(cls, value: int) -> int:
        limit = settings.GENERATION_MAX_IMAGES_PER_JOB
        if not 1 <= value <= limit:
            raise ValueError(f"Number of images must be between 1 and {limit}.")
        return value

    @model_validator(mode="after")
    def _resolve_size(self) -> "GenerationParams":
        width, height, preset = resolve_size(self.size)
        self.width, self.height, self.size_preset = width, height, preset
        if self.seed is not None and self.seed + self.n - 1 > SEED_MAX:
            raise ValueError(f"Seed plus the number of images must stay below {SEED_MAX}.")
        return self

    def reproducible(self) -> dict:
        """The parameters that reproduce a job, in API spelling."""
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "size": {"width": self.width, "height": self.height},
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "seed": self.seed,
            "acceleration": self.acceleration,
            "enable_safety_checker": self.enable_safety_checker,
            "n": self.n,
        }


def resolve_size(size: "str | Size | dict") -> tuple[int, int, str]:
    """(width, height, preset name or "") for a preset name, "WxH" string or {width, height}."""
    if isinstance(size, dict):
        size = Size(**size)
    if isinstance(size, str):
        if size in PRESETS:
            preset = PRESETS[size]
            return preset.width, preset.height, preset.name
        match = _SIZE_STRING.match(size)
        if not match:
            names = ", ".join(PRESETS)
            raise ValueError(f"Unknown size {size!r}: use one of {names}, or WIDTHxHEIGHT.")
        width, height = int(match.group(1)), int(match.group(2))
    else:
        width, height = size.width, size.height
    low, high = settings.GENERATION_MIN_SIDE, settings.GENERATION_MAX_SIDE
    if not (low <= width <= high and low <= height <= high):
        raise ValueError(f"Width and height must be between {low} and {high} pixels.")
    if width % 16 or height % 16:
        raise ValueError("Width and height must be multiples of 16.")
    for preset in PRESETS.values():
        if (preset.width, preset.height) == (width, height):
            return width, height, preset.name
    return width, height, ""
