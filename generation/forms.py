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


# Controls only the hosted provider honours: hidden (their default sent) on other backends.
PROVIDER_ONLY = ("enable_safety_checker",)
# The fields inside the Create page's "Advanced" section (open only when one has an error).
ADVANCED = ("negative_prompt", "num_inference_steps", "guidance_scale", "acceleration")


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

    visibility = forms.ChoiceField(
        required=False,
        initial=Visibility.PRIVATE,
        widget=forms.RadioSelect,
        help_text="You can change this later in the gallery.",
    )

    def __init__(self, *args, team=None, backend: str | None = None, **kwargs):
        """`team`: the user's current team; without one, "Team" visibility is not offered.
        `backend`: the active backend; provider-only controls are hidden unless it is remote."""
        super().__init__(*args, **kwargs)
        self.max_prompt_length = settings.GENERATION_MAX_PROMPT_LENGTH
        self.provider_controls = (backend or settings.QWEN_IMAGE_BACKEND) == "remote"
        if not self.provider_controls:
            for name in PROVIDER_ONLY:
                self.fields[name].widget = forms.HiddenInput()
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
        return {name: data[name] for name in self.fields if data.get(name) not in (None, "")}

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
