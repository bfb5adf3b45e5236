"""GenerationParams: the one parameter schema shared by the form, the API and the CLI."""

import math
import re
from typing import Annotated, Literal

from django.conf import settings
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from generation.backends import backend_defaults, backend_prompt_problem
from generation.backends.base import EditRequest, GenerationRequest
from generation.edit_params import EditParams, EditSource, edit_auto_size
from generation.sizes import (
    AUTO,
    DEFAULT_PRESET,
    PRESETS,
    aspect_from_text,
    default_aspect,
    nearest_native,
    preset_for,
)

SEED_MAX = 2**32 - 1
# "WIDTHxHEIGHT": ASCII digits, optional spaces around, x, X or ×. What the sides may be is
# size_sides(); size_string_pattern() spells the whole rule as one regular expression for the
# OpenAPI document, and resolve_size() enforces exactly that.
_SIZE_STRING = re.compile(r"^ *([0-9]+) *[xX×] *([0-9]+) *$")
# What str.strip() removes: a prompt of only these is empty.
BLANK = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"


def prompt_pattern() -> str:
    """The prompt rule as a regular expression (ECMA and Python alike): no NUL, and at least
    one character that is not blank."""
    return f"^[^\\x00]*[^\\x00{BLANK}][^\\x00]*$"


NO_NUL_PATTERN = "^[^\\x00]*$"


def size_sides() -> list[int]:
    """Every allowed width or height: multiples of 16 within the configured bounds."""
    low, high = settings.GENERATION_MIN_SIDE, settings.GENERATION_MAX_SIDE
    return [side for side in range(16 * math.ceil(low / 16), high + 1, 16)]


def presets_allowed() -> list[str]:
    """The presets whose size is within the configured bounds."""
    sides = set(size_sides())
    return [name for name, p in PRESETS.items() if p.width in sides and p.height in sides]


def size_string_pattern() -> str:
    """ "WIDTHxHEIGHT" with both sides allowed (leading zeros and spaces tolerated)."""
    sides = "|".join(str(side) for side in size_sides()) or "(?!)"
    return f"^ *0*(?:{sides}) *[xX×] *0*(?:{sides}) *$"


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
    # The active backend's own: the hosted endpoint's 30 / 2.5, the local model's 50 / 4.0.
    num_inference_steps: int = Field(
        default_factory=lambda: backend_defaults()["num_inference_steps"]
    )
    guidance_scale: float = Field(default_factory=lambda: backend_defaults()["guidance_scale"])
    seed: int | None = None
    acceleration: Literal["none", "regular", "high"] = "none"
    enable_safety_checker: bool = True
    n: int = 1
    # The prompt drawn instead of `prompt` (an accepted or edited enhancement); "" for none.
    revised_prompt: str = ""
    # Revise the prompt with the enhancer before drawing (in the worker), unless revised_prompt
    # is already given.
    enhance: bool = False
    # Set for an edit (generation.edits): the sources it works from. Size "auto" (the default
    # for an edit) keeps the first source's size and aspect.
    edit: EditParams | None = None

    # Resolved by the validator below.
    width: int = 0
    height: int = 0
    size_preset: str = ""
    size_auto: bool = False

    @field_validator("prompt")
    @classmethod
    def _prompt(cls, value: str) -> str:
        # The length counts what was sent (as the OpenAPI document's maxLength does); the
        # prompt kept is stripped.
        if len(value) > settings.GENERATION_MAX_PROMPT_LENGTH:
            raise ValueError(
                f"Prompt is too long: at most {settings.GENERATION_MAX_PROMPT_LENGTH} characters."
            )
        if "\x00" in value:
            raise ValueError("Prompt must not contain NUL characters.")
        value = value.strip()
        if not value:
            raise ValueError("Prompt must not be empty.")
        problem = backend_prompt_problem(value, what="prompt")
        if problem:  # the model would cut it: refuse rather than drop words silently
            raise ValueError(problem)
        return value

    @field_validator("revised_prompt")
    @classmethod
    def _revised_prompt(cls, value: str) -> str:
        value = value.strip()
        if len(value) > settings.GENERATION_MAX_PROMPT_LENGTH:
            raise ValueError(
                "Revised prompt is too long: "
                f"at most {settings.GENERATION_MAX_PROMPT_LENGTH} characters."
            )
        if "\x00" in value:
            raise ValueError("Revised prompt must not contain NUL characters.")
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
        problem = backend_prompt_problem(value, what="negative prompt")
        if problem:
            raise ValueError(problem)
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

    @model_validator(mode="before")
    @classmethod
    def _edit_size(cls, data):
        """An edit without a size, or with "auto", takes its first source's size."""
        if not isinstance(data, dict) or not data.get("edit"):
            return data
        if data.get("size") not in (None, "", "auto"):
            return data
        edit = data["edit"]
        first = (edit.images if isinstance(edit, EditParams) else edit.get("images") or [None])[0]
        if isinstance(first, dict):
            first = EditSource(**first)
        if isinstance(first, EditSource):
            width, height = edit_auto_size(first.width, first.height)
            data = {**data, "size": {"width": width, "height": height}}
        return data

    @model_validator(mode="after")
    def _resolve_size(self) -> "GenerationParams":
        if self.revised_prompt == self.prompt:
            self.revised_prompt = ""
        width, height, preset = resolve_size(self.size, text=self.drawn_prompt)
        self.width, self.height, self.size_preset = width, height, preset
        self.size_auto = self.size == AUTO
        return self

    # --- The one owner of the parameter set: every other spelling derives from here. ---

    @classmethod
    def input_names(cls) -> tuple[str, ...]:
        """The fields a caller sets (the rest are resolved from `size`)."""
        return tuple(name for name in cls.model_fields if name not in _RESOLVED)

    @classmethod
    def default(cls, name: str):
        """The value a caller who leaves `name` out gets (the active backend's, for steps and
        guidance)."""
        return cls.model_fields[name].get_default(call_default_factory=True)

    @classmethod
    def build(
        cls, fields: dict, *, preset: dict | None = None, quality: str | None = None
    ) -> "GenerationParams":
        """Validate a caller's fields on top of a preset's values and a quality's mapping:
        explicit fields win over the quality, which wins over the preset, which wins over the
        defaults. The preset's template wraps the prompt ({prompt} stands for it); size "auto"
        with a preset of a fixed size takes the native size closest to that preset's aspect."""
        values: dict = {}
        if preset:
            values.update({k: v for k, v in preset.items() if k != "prompt_template"})
        if quality:
            values.update(quality_fields(quality))
        values.update(fields)
        if preset and preset.get("size") not in (None, AUTO) and fields.get("size") == AUTO:
            width, height, _ = resolve_size(preset["size"])
            values["size"] = nearest_native(width / height, _allowed_natives()).name
        template = (preset or {}).get("prompt_template") or "{prompt}"
        if isinstance(values.get("prompt"), str) and template != "{prompt}":
            values["prompt"] = apply_template(template, values["prompt"])
        return cls(**values)

    @property
    def drawn_prompt(self) -> str:
        """The prompt the backend is asked to draw: the revision when there is one."""
        return self.revised_prompt or self.prompt

    @classmethod
    def from_job(cls, job) -> "GenerationParams":
        """The parameters a stored job ran with (trusted: not validated again, so a job made
        under older limits still reads back)."""
        return cls.model_construct(
            **{name: getattr(job, name) for name in _JOB_FIELDS},
            size=AUTO if job.size_auto else Size(width=job.width, height=job.height),
            edit=EditParams.from_stored(job.edit) if job.edit else None,
        )

    def revalidated(self, **changes) -> "GenerationParams":
        """A validated copy with `changes` (e.g. a new seed and n for a reseed)."""
        values = {name: getattr(self, name) for name in self.input_names()}
        values["size"] = {"width": self.width, "height": self.height}
        return GenerationParams(**{**values, **changes})

    def for_image(self, seed: int) -> "GenerationParams":
        """The parameters that reproduce one image of the job: its own seed, n = 1."""
        return self.model_copy(update={"seed": seed, "n": 1})

    def job_fields(self) -> dict:
        """Column values of a Job row (the seed filled in by the caller when random)."""
        return {
            **{name: getattr(self, name) for name in _JOB_FIELDS},
            "edit": self.edit.stored() if self.edit else None,
        }

    def as_api(self) -> dict:
        """API spelling (job `params`, webhooks, PNG text, "Use these settings")."""
        return {
            "prompt": self.prompt,
            "negative_prompt": self.negative_prompt,
            "size": {"width": self.width, "height": self.height},
            "size_preset": self.size_preset,
            "num_inference_steps": self.num_inference_steps,
            "guidance_scale": self.guidance_scale,
            "seed": self.seed,
            "acceleration": self.acceleration,
            "enable_safety_checker": self.enable_safety_checker,
            "n": self.n,
            "revised_prompt": self.revised_prompt,
            "enhance": self.enhance,
            "size_auto": self.size_auto,
            **({"edit": self.edit.as_api()} if self.edit else {}),
        }

    def backend_request(
        self, *, model: str, sources: list[bytes] | None = None, mask: bytes | None = None
    ) -> GenerationRequest:
        """What a backend is asked for: one seed per image, seed + i for image i (wrapping
        past SEED_MAX to 0, so any seed goes with any n); for an edit, the stored PNGs of its
        sources (and mask), in order."""
        seed = self.seed or 0
        edit = None
        if self.edit is not None:
            if not sources or len(sources) != len(self.edit.images):
                raise ValueError("An edit needs the bytes of each of its source images.")
            edit = EditRequest(images=list(sources), mask=mask, strength=self.edit.strength)
        return GenerationRequest(
            model=model,
            prompt=self.drawn_prompt,
            negative_prompt=self.negative_prompt,
            width=self.width,
            height=self.height,
            num_inference_steps=self.num_inference_steps,
            guidance_scale=self.guidance_scale,
            acceleration=self.acceleration,
            enable_safety_checker=self.enable_safety_checker,
            seeds=[image_seed(seed, i) for i in range(self.n)],
            edit=edit,
        )

    def form_initial(self) -> dict:
        """Generate-form values ("Use these settings"): a preset by name, else a custom size."""
        initial = {
            name: getattr(self, name) for name in self.input_names() if name not in ("size", "edit")
        }
        initial["size"] = AUTO if self.size_auto else (self.size_preset or CUSTOM_SIZE)
        if not self.size_preset and not self.size_auto:
            initial["width"], initial["height"] = self.width, self.height
        return initial

    def draws_like(self, other: "GenerationParams") -> bool:
        """Same pixels expected from the same seed: everything but seed, n and the provider's
        safety flag agrees."""
        ignored = {"seed", "n", "enable_safety_checker", "size", "enhance"}
        names = [name for name in self.input_names() if name not in ignored]
        return all(getattr(self, n) == getattr(other, n) for n in [*names, "width", "height"])


# Filled in by the size validator, never set by a caller.
_RESOLVED = ("width", "height", "size_preset", "size_auto")
# Stored on Job under the same names.
_JOB_FIELDS = (
    "prompt",
    "negative_prompt",
    "size_preset",
    "width",
    "height",
    "num_inference_steps",
    "guidance_scale",
    "seed",
    "acceleration",
    "enable_safety_checker",
    "n",
    "revised_prompt",
    "enhance",
    "size_auto",
)
# The generate form's choice for a size that is not a preset.
CUSTOM_SIZE = "custom"


# OpenAI's `quality` in our terms (docs/api.md has the table). "auto" leaves the defaults (or
# the preset's) alone; explicit steps or acceleration in the same request win.
QUALITY: dict[str, dict] = {
    "low": {"num_inference_steps": 20, "acceleration": "high"},
    "medium": {"num_inference_steps": 30, "acceleration": "regular"},
    "standard": {"num_inference_steps": 30, "acceleration": "none"},
    "high": {"num_inference_steps": 50, "acceleration": "none"},
    "hd": {"num_inference_steps": 50, "acceleration": "none"},
    "auto": {},
}


def quality_fields(quality: str) -> dict:
    """The steps and acceleration a quality stands for (ValueError for an unknown one)."""
    if quality not in QUALITY:
        raise ValueError(f"Unknown quality {quality!r}: use one of {', '.join(QUALITY)}.")
    fields = dict(QUALITY[quality])
    if "num_inference_steps" in fields:
        fields["num_inference_steps"] = min(
            fields["num_inference_steps"], settings.GENERATION_MAX_STEPS
        )
    return fields


def apply_template(template: str, prompt: str) -> str:
    """A preset's template with the prompt in place of every {prompt} (nothing else is
    interpreted: braces in the prompt stay as they are)."""
    return template.replace("{prompt}", prompt).strip()


def _allowed_natives() -> list:
    """The native sizes this portal's side limits allow (or, when none, every preset that
    fits)."""
    low, high = settings.GENERATION_MIN_SIDE, settings.GENERATION_MAX_SIDE
    fits = [
        p
        for p in PRESETS.values()
        if low <= min(p.width, p.height) <= max(p.width, p.height) <= high
    ]
    return [p for p in fits if p.group == "native"] or fits or list(PRESETS.values())


def auto_size(text: str) -> tuple[int, int, str]:
    """size "auto": the native size closest to the aspect the text asks for, or to the default
    preset's when it asks for none."""
    preset = nearest_native(aspect_from_text(text) or default_aspect(), _allowed_natives())
    return preset.width, preset.height, preset.name


def image_seed(seed: int, index: int) -> int:
    """The seed of image `index` of a job whose first image has `seed`."""
    return (seed + index) % (SEED_MAX + 1)


def _side(digits: str) -> int:
    digits = digits.lstrip("0") or "0"
    return int(digits) if len(digits) <= 6 else 10**6  # no int() of a 5000-digit string


def resolve_size(size: "str | Size | dict", *, text: str = "") -> tuple[int, int, str]:
    """(width, height, preset name or "") for a preset name, "WxH" string, {width, height} or
    "auto" (chosen from `text`).

    Presets obey the same bounds as any size (the OpenAPI document lists only those that do).
    """
    if isinstance(size, dict):
        size = Size(**size)
    if size == AUTO:
        return auto_size(text)
    if isinstance(size, str):
        match = _SIZE_STRING.match(size)
        if size in PRESETS:
            width, height = PRESETS[size].width, PRESETS[size].height
        elif match:
            width, height = _side(match.group(1)), _side(match.group(2))
        else:
            names = ", ".join(presets_allowed())
            raise ValueError(
                f"Unknown size {size[:40]!r}: use one of {names}, auto, or WIDTHxHEIGHT."
            )
    else:
        width, height = size.width, size.height
    low, high = settings.GENERATION_MIN_SIDE, settings.GENERATION_MAX_SIDE
    if not (low <= width <= high and low <= height <= high):
        raise ValueError(f"Width and height must be between {low} and {high} pixels.")
    if width % 16 or height % 16:
        raise ValueError("Width and height must be multiples of 16.")
    return width, height, preset_for(width, height)
