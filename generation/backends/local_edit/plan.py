"""What an edit request becomes on the local edit pipelines, and the configuration they load
with. The step and Lightning rules are the text-to-image backend's (local/plan.py)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from django.conf import settings

from generation.backends.base import BackendError, GenerationRequest
from generation.backends.local.config import LocalConfig, not_configured
from generation.backends.local.plan import (
    ADAPTER_4,
    ADAPTER_8,
    LIGHTNING_STEPS,
    MIN_REDUCED_STEPS,
    SIDE_MULTIPLE,
    STEP_REDUCTION,
)

__all__ = ["ADAPTER_4", "ADAPTER_8", "INPAINT", "PLUS", "SIDE_MULTIPLE", "EditPlan"]

PLUS, INPAINT = "plus", "inpaint"
# The edit pipelines work on about 1 MP of every source (diffusers' CONDITION/VAE image size):
# each source adds that many pixels' worth of tokens to the transformer's sequence.
SOURCE_WORKING_PIXELS = 1024 * 1024


def edit_config() -> LocalConfig:
    """The local backend's configuration with the edit model and its Lightning weights: the
    same device, dtype, offload, memory margins and reload rule as text-to-image."""
    model = (settings.QWEN_IMAGE_LOCAL_EDIT_MODEL or "").strip()
    if not model:
        raise not_configured(
            "QWEN_IMAGE_LOCAL_EDIT_MODEL is not set: give the local backend the edit model's "
            "folder or a Hugging Face id such as Qwen/Qwen-Image-Edit-2511."
        )
    base = LocalConfig.from_settings(model=model)
    return dataclasses.replace(
        base,
        model=model,
        lightning_lora=settings.QWEN_IMAGE_EDIT_LIGHTNING_LORA.strip(),
        lightning_lora_4steps=settings.QWEN_IMAGE_EDIT_LIGHTNING_LORA_4STEPS.strip(),
        positive_magic="",  # Qwen's magic suffix is for text-to-image prompts
    )


@dataclass(frozen=True)
class EditPlan:
    """What one edit request becomes on the pipelines."""

    pipeline: str  # PLUS, or INPAINT for a masked edit of a single image
    prompt: str
    negative_prompt: str | None
    num_inference_steps: int
    true_cfg_scale: float
    strength: float
    adapter: str | None


def edit_plan_for(request: GenerationRequest, config: LocalConfig) -> EditPlan:
    """`guidance_scale` is the true CFG scale (Edit-2511: 4.0 with negative prompt " ");
    acceleration takes the Lightning LoRA (8 or 4 steps, CFG 1) when there is one, else fewer
    steps; a mask over a single source runs the inpaint pipeline."""
    edit = request.edit
    if edit is None or not edit.images:
        raise BackendError("An edit needs a source image.", code="invalid_request", retryable=False)
    steps = request.num_inference_steps
    cfg = float(request.guidance_scale)
    adapter = None
    accel = request.acceleration if request.acceleration in LIGHTNING_STEPS else "none"
    if accel != "none" and config.lightning_lora:
        steps, cfg = LIGHTNING_STEPS[accel], 1.0
        adapter = ADAPTER_4 if accel == "high" and config.lightning_lora_4steps else ADAPTER_8
    elif accel != "none":
        steps = max(min(steps, MIN_REDUCED_STEPS), round(steps * STEP_REDUCTION[accel]))
    negative = (request.negative_prompt or "").strip() or " "
    inpaint = edit.mask is not None and len(edit.images) == 1
    return EditPlan(
        pipeline=INPAINT if inpaint else PLUS,
        prompt=request.prompt,
        negative_prompt=negative if cfg > 1 else None,
        num_inference_steps=steps,
        true_cfg_scale=cfg,
        strength=edit.strength,
        adapter=adapter,
    )


def image_only_processor(transformers, *, image_processor, tokenizer):
    """A Qwen2VLProcessor without the video processor (and so without torchvision)."""

    class ImageOnlyQwen2VLProcessor(transformers.Qwen2VLProcessor):
        @classmethod
        def get_attributes(cls):
            return ["image_processor", "tokenizer"]

    return ImageOnlyQwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer)
