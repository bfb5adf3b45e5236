"""The edit form: the instruction and settings; the sources (picks, uploads, mask) are read by
the view and checked by generation.edits.sources."""

from django import forms
from django.conf import settings

from generation.forms import GenerationForm
from generation.models import Visibility
from generation.params import SEED_MAX, GenerationParams

_DEFAULT = GenerationParams.default


class EditForm(forms.Form):
    prompt = forms.CharField(
        label="What should change?",
        widget=forms.Textarea(
            attrs={"rows": 3, "placeholder": "Make the sky a stormy sunset; keep the boat."}
        ),
        max_length=settings.GENERATION_MAX_PROMPT_LENGTH,
    )
    negative_prompt = GenerationForm.base_fields["negative_prompt"]
    size = forms.CharField(
        required=False,
        initial="auto",
        help_text='"auto" keeps the image\'s own size; or WIDTHxHEIGHT (multiples of 16).',
        max_length=20,
    )
    strength = forms.FloatField(
        required=False,
        initial=1.0,
        min_value=0.05,
        max_value=1.0,
        help_text="With a mask: how freely the painted area is repainted (1 = freely).",
        widget=forms.NumberInput(attrs={"step": "0.05"}),
    )
    num_inference_steps = GenerationForm.base_fields["num_inference_steps"]
    guidance_scale = forms.FloatField(
        label="Guidance scale", initial=4.0, min_value=0, max_value=20
    )
    seed = forms.IntegerField(
        required=False, min_value=0, max_value=SEED_MAX, help_text="Leave empty for a random seed."
    )
    acceleration = GenerationForm.base_fields["acceleration"]
    n = GenerationForm.base_fields["n"]
    visibility = forms.ChoiceField(
        required=False,
        initial=Visibility.PRIVATE,
        choices=Visibility.choices,
        help_text="Who may see the result. Your sources keep their own visibility.",
    )

    def clean_visibility(self) -> str:
        return self.cleaned_data.get("visibility") or Visibility.PRIVATE

    def clean_size(self) -> str:
        return (self.cleaned_data.get("size") or "auto").strip() or "auto"

    def generation_fields(self) -> dict:
        """GenerationParams' fields from the form (the edit itself is added by the view)."""
        data = self.cleaned_data
        fields = {
            "prompt": data["prompt"],
            "negative_prompt": data.get("negative_prompt") or " ",
            "num_inference_steps": data["num_inference_steps"],
            "guidance_scale": data["guidance_scale"],
            "seed": data.get("seed"),
            "acceleration": data["acceleration"],
            "n": data["n"],
        }
        if data["size"] != "auto":
            fields["size"] = data["size"]
        return fields
