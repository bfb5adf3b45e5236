"""The generate form: collects fields, validates them through GenerationParams."""

from django import forms
from django.conf import settings
from pydantic import ValidationError

from generation.models import Job, Preset, Visibility
from generation.params import CUSTOM_SIZE, SEED_MAX, GenerationParams
from generation.sizes import AUTO, PRESETS

_DEFAULT = GenerationParams.default


def _size_choices() -> list[tuple[str, str]]:
    return [(p.name, f"{p.label} · {p.width}×{p.height}") for p in PRESETS.values()] + [
        (AUTO, "Auto · from the prompt"),
        (CUSTOM_SIZE, "Custom size"),
    ]


# Controls only the hosted provider honours: hidden (their default sent) on other backends.
PROVIDER_ONLY = ("enable_safety_checker",)
# The fields inside the Create page's "Advanced" section (open only when one has an error).
ADVANCED = ("negative_prompt", "num_inference_steps", "guidance_scale", "acceleration")
# Not shown again after Generate: a revision belongs to the prompt it was made from.
_NOT_KEPT = ("revised_prompt", "revision", "preset_applied")


class GenerationForm(forms.Form):
    # No max_length on purpose: it would add a maxlength attribute, and browsers silently cut
    # a longer paste mid-word. The page counts characters; clean_prompt refuses, saying why.
    prompt = forms.CharField(
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "placeholder": "A red fox reading a newspaper…",
                "aria-describedby": "prompt-counter",
            }
        ),
    )
    negative_prompt = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="What the image should not contain.",
    )
    size = forms.ChoiceField(
        choices=_size_choices, initial=_DEFAULT("size"), widget=forms.RadioSelect
    )
    width = forms.IntegerField(required=False, min_value=1, help_text="Multiple of 16.")
    height = forms.IntegerField(required=False, min_value=1, help_text="Multiple of 16.")
    num_inference_steps = forms.IntegerField(
        label="Steps",
        initial=_DEFAULT("num_inference_steps"),
        min_value=1,
        max_value=settings.GENERATION_MAX_STEPS,
    )
    guidance_scale = forms.FloatField(
        label="Guidance scale", initial=_DEFAULT("guidance_scale"), min_value=0, max_value=20
    )
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=SEED_MAX, help_text="Leave empty for a random seed."
    )
    acceleration = forms.ChoiceField(
        choices=[("none", "None"), ("regular", "Regular"), ("high", "High")],
        initial=_DEFAULT("acceleration"),
    )
    enable_safety_checker = forms.BooleanField(
        required=False,
        initial=_DEFAULT("enable_safety_checker"),
        label="Provider's safety checker",
        widget=forms.CheckboxInput(attrs={"aria-describedby": "safety-help"}),
        help_text="Asks the hosted model to filter its output. The portal checks every image "
        "itself either way; flagged images wait for a moderator.",
    )
    n = forms.TypedChoiceField(
        label="Images",
        coerce=int,
        initial=_DEFAULT("n"),
        choices=lambda: [(i, str(i)) for i in range(1, settings.GENERATION_MAX_IMAGES_PER_JOB + 1)],
    )

    # Prompt enhancement (templates/generation/_enhance.html) and presets (_presets.html).
    enhance = forms.BooleanField(
        required=False,
        label="Enhance the prompt when generating",
        help_text="A language model rewrites it by Qwen's rules first; quoted text stays as "
        "written. If it is slow or down, your prompt is used as it is.",
    )
    revised_prompt = forms.CharField(
        required=False,
        label="Revised prompt",
        # No max_length (no maxlength attribute cutting a paste): GenerationParams refuses.
        widget=forms.Textarea(attrs={"rows": 5}),
        help_text="What will be drawn. Edit it, or discard it to draw your own prompt.",
    )
    revision = forms.ChoiceField(
        required=False,
        choices=[(Job.Enhancement.ACCEPTED, "accepted"), (Job.Enhancement.EDITED, "edited")],
        widget=forms.HiddenInput,
    )
    preset = forms.ChoiceField(required=False, label="Preset")
    # Set by generate.js when it copied the preset's values into the fields: the fields are
    # then taken as they are. Without it, fields left at their defaults take the preset's.
    preset_applied = forms.BooleanField(required=False, widget=forms.HiddenInput)

    visibility = forms.ChoiceField(
        required=False,
        initial=Visibility.PRIVATE,
        widget=forms.RadioSelect,
        help_text="You can change this later in the gallery.",
    )

    def __init__(self, *args, team=None, presets=(), backend: str | None = None, **kwargs):
        """`team`: the user's current team; without one, "Team" visibility is not offered.
        `presets`: the presets the user may pick (their current versions are applied).
        `backend`: the active backend; provider-only controls are hidden unless it is remote."""
        super().__init__(*args, **kwargs)
        self.max_prompt_length = settings.GENERATION_MAX_PROMPT_LENGTH
        self.provider_controls = (backend or settings.QWEN_IMAGE_BACKEND) == "remote"
        if not self.provider_controls:
            for name in PROVIDER_ONLY:
                self.fields[name].widget = forms.HiddenInput()
        self.presets = {str(p.public_id): p for p in presets}
        self.fields["preset"].choices = [("", "No preset")] + [
            (key, f"{p.name} · team" if p.team_id else p.name) for key, p in self.presets.items()
        ]
        self.preset_version = None
        # The active backend's defaults (the local model's 50 steps and CFG 4.0), read per form.
        for name in ("num_inference_steps", "guidance_scale"):
            self.fields[name].initial = _DEFAULT(name)
        choices = [(Visibility.PRIVATE, "Private: only you")]
        if team is not None:
            choices.append((Visibility.TEAM, f"Team: members of {team.name}"))
        choices.append((Visibility.PUBLIC, "Public: anyone with the link"))
        self.fields["visibility"].choices = choices

    @property
    def advanced_has_errors(self) -> bool:
        return any(name in self.errors for name in (*ADVANCED, *PROVIDER_ONLY))

    def clean_prompt(self) -> str:
        prompt = self.cleaned_data["prompt"]
        over = len(prompt) - self.max_prompt_length
        if over > 0:
            raise forms.ValidationError(
                f"The prompt is {len(prompt):,} characters long; the limit is "
                f"{self.max_prompt_length:,}. Shorten it by {over:,} character{'s' * (over > 1)}."
            )
        return prompt

    def kept_values(self) -> dict:
        """What the form shows again after a job was made from it: the same prompt and
        settings (a random seed stays random)."""
        data = self.cleaned_data
        return {
            name: data[name]
            for name in self.fields
            if name not in _NOT_KEPT and data.get(name) not in (None, "")
        }

    def _default(self, name: str):
        if name == "negative_prompt":
            return " "
        if name == "revised_prompt":
            return ""
        field = self.fields.get(name)
        initial = field.initial if field is not None else None
        return GenerationParams.default(name) if initial is None else initial

    def clean_visibility(self) -> str:
        return self.cleaned_data.get("visibility") or Visibility.PRIVATE

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        size: object = data.get("size")
        if size == CUSTOM_SIZE:
            if not data.get("width") or not data.get("height"):
                self.add_error("width", "Give a width and a height for a custom size.")
                return data
            size = {"width": data["width"], "height": data["height"]}
        preset: Preset | None = self.presets.get(data.get("preset") or "")
        self.preset_version = preset.current if preset else None
        try:
            values = {name: data.get(name) for name in GenerationParams.input_names()}
            values.update(
                size=size,
                negative_prompt=data.get("negative_prompt") or " ",
                enable_safety_checker=data.get("enable_safety_checker", False),
                revised_prompt=data.get("revised_prompt") or "",
                enhance=bool(data.get("enhance")),
            )
            preset_values = self.preset_version.values() if self.preset_version else None
            if preset_values and not data.get("preset_applied"):
                # No script copied the preset in: its values replace fields left at default.
                values = {
                    name: value
                    for name, value in values.items()
                    if name == "prompt" or value != self._default(name)
                }
            self.params = GenerationParams.build(values, preset=preset_values)
        except ValidationError as exc:
            for error in exc.errors():
                field = error["loc"][0] if error["loc"] else None
                if field not in self.fields:
                    field = "width" if size and not isinstance(size, str) else None
                    field = field if field in self.fields else None
                message = error["msg"].removeprefix("Value error, ")
                self.add_error(field if field else None, message)
        return data


class PresetForm(forms.Form):
    """A preset's name and settings; empty settings are left to each request."""

    name = forms.CharField(max_length=80)
    description = forms.CharField(max_length=300, required=False)
    share_with_team = forms.BooleanField(
        required=False,
        label="Share with my current team",
        help_text="A team owner or admin approves it before the team can use it (unless you "
        "are one).",
    )
    prompt_template = forms.CharField(
        initial="{prompt}",
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=1000,
        help_text="{prompt} stands for the prompt you write, e.g. “studio photo of {prompt}, "
        "softbox light”.",
    )
    size = forms.ChoiceField(
        required=False,
        choices=lambda: [("", "Not set")] + _size_choices()[:-1],
        help_text="Auto: the native size closest to the prompt's aspect.",
    )
    num_inference_steps = forms.IntegerField(
        required=False, label="Steps", min_value=1, max_value=settings.GENERATION_MAX_STEPS
    )
    guidance_scale = forms.FloatField(
        required=False, label="Guidance scale", min_value=0, max_value=20
    )
    negative_prompt = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=settings.GENERATION_MAX_PROMPT_LENGTH,
    )
    acceleration = forms.ChoiceField(
        required=False,
        choices=[("", "Not set"), ("none", "None"), ("regular", "Regular"), ("high", "High")],
    )
    enhance = forms.TypedChoiceField(
        required=False,
        label="Prompt enhancement",
        choices=[("", "Not set"), ("on", "On"), ("off", "Off")],
        coerce=lambda value: {"on": True, "off": False}.get(value),
        empty_value=None,
    )

    VALUE_NAMES = (
        "size",
        "num_inference_steps",
        "guidance_scale",
        "negative_prompt",
        "acceleration",
        "prompt_template",
        "enhance",
    )

    def values(self) -> dict:
        return {name: self.cleaned_data.get(name) for name in self.VALUE_NAMES}

    @classmethod
    def initial_for(cls, preset) -> dict:
        version = preset.current
        initial = {name: getattr(version, name) for name in cls.VALUE_NAMES}
        initial["enhance"] = {True: "on", False: "off"}.get(version.enhance, "")
        return {"name": preset.name, "description": preset.description, **initial}


class TeamPromptsForm(forms.Form):
    system_prompt_en = forms.CharField(
        required=False,
        label="System prompt for English and other prompts",
        widget=forms.Textarea(attrs={"rows": 10}),
        max_length=8000,
        help_text="Empty: the portal's own (shown below).",
    )
    system_prompt_zh = forms.CharField(
        required=False,
        label="System prompt for Chinese prompts",
        widget=forms.Textarea(attrs={"rows": 10}),
        max_length=8000,
        help_text="Empty: the portal's own (shown below).",
    )
