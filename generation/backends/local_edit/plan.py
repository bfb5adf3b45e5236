"""What an edit request becomes on the local edit pipelines, and the stack they need."""

from __future__ import annotations

from dataclasses import dataclass

from generation.backends.base import BackendError, GenerationRequest
from generation.backends.local import LIGHTNING_STEPS, MIN_REDUCED_STEPS, STEP_REDUCTION

SIDE_MULTIPLE = 16
ADAPTER_8 = "edit_lightning"
ADAPTER_4 = "edit_lightning_4steps"
PLUS, INPAINT = "plus", "inpaint"
# Room kept free beside a second resident pipeline ("auto"): activations, the VAE decode.
HEADROOM_BYTES = 6 * 2**30


@dataclass(frozen=True)
class EditConfig:
    model: str
    allow_download: bool = False
    device: str = ""  # "" → cuda when available, else cpu (the text-to-image setting)
    cpu_offload: bool = False
    lightning_lora: str = ""
    lightning_lora_4steps: str = ""


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


def edit_plan_for(request: GenerationRequest, config: EditConfig) -> EditPlan:
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


def import_stack():
    try:
        import diffusers
        import torch
        import transformers
    except ImportError as error:
        raise BackendError(
            "The local backend needs the [local] dependencies: "
            "pip install torch==2.13.0 && pip install -e '.[local]' "
            f"({error.name or error} is missing).",
            code="not_configured",
            retryable=False,
        ) from None
    return torch, diffusers, transformers


def image_only_processor(transformers, *, image_processor, tokenizer):
    """A Qwen2VLProcessor without the video processor (and so without torchvision)."""

    class ImageOnlyQwen2VLProcessor(transformers.Qwen2VLProcessor):
        @classmethod
        def get_attributes(cls):
            return ["image_processor", "tokenizer"]

    return ImageOnlyQwen2VLProcessor(image_processor=image_processor, tokenizer=tokenizer)
