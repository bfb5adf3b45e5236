"""The generate form: collects fields, validates them through GenerationParams."""

from django import forms
from django.conf import settings
from pydantic import ValidationError

from generation.models import Visibility
from generation.params import CUSTOM_SIZE, SEED_MAX, GenerationParams
from generation.sizes import PRESETS

_DEFAULT = GenerationParams.default


def _size_choices() -> list[tuple[str, str]]:
    return [(p.name, f"{p.label} · {p.width}×{p.height}") for p in PRESETS.values()] + [
        (CUSTOM_SIZE, "Custom size")
    ]


class GenerationForm(forms.Form):
    prompt = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 4, "placeholder": "A red fox reading a newspaper…"}),
        max_length=settings.GENERATION_MAX_PROMPT_LENGTH,
    )
    negative_prompt = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
        max_length=settings.GENERATION_MAX_PROMPT_LENGTH,
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

    visibility = forms.ChoiceField(
        required=False,
        initial=Visibility.PRIVATE,
        widget=forms.RadioSelect,
        help_text="You can change this later in the gallery.",
    )

    def __init__(self, *args, team=None, **kwargs):
        """`team`: the user's current team; without one, "Team" visibility is not offered."""
        super().__init__(*args, **kwargs)
        # The active backend's defaults (the local model's 50 steps and CFG 4.0), read per form.
        for name in ("num_inference_steps", "guidance_scale"):
            self.fields[name].initial = _DEFAULT(name)
        choices = [(Visibility.PRIVATE, "Private: only you")]
        if team is not None:
            choices.append((Visibility.TEAM, f"Team: members of {team.name}"))
        choices.append((Visibility.PUBLIC, "Public: anyone with the link"))
        self.fields["visibility"].choices = choices

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
        try:
            values = {name: data.get(name) for name in GenerationParams.input_names()}
            values.update(
                size=size,
                negative_prompt=data.get("negative_prompt") or " ",
                enable_safety_checker=data.get("enable_safety_checker", False),
            )
            self.params = GenerationParams(**values)
        except ValidationError as exc:
            for error in exc.errors():
                field = error["loc"][0] if error["loc"] else None
                if field not in self.fields:
                    field = "width" if size and not isinstance(size, str) else None
                    field = field if field in self.fields else None
                message = error["msg"].removeprefix("Value error, ")
                self.add_error(field if field else None, message)
        return data
