"""What one request becomes on QwenImagePipeline: steps, guidance, adapter, prompt suffix.

No torch here: the web process reads DEFAULTS (the form shows them) without the [local] extra.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from generation.backends.base import GenerationRequest

# The model's own recommended settings (QwenLM/Qwen-Image README): 50 steps, true CFG 4.0,
# negative prompt " ". The hosted endpoint's defaults (30 steps, 2.5) are for another sampler.
DEFAULTS = {"num_inference_steps": 50, "guidance_scale": 4.0}

# Qwen-Image's own "positive magic" suffixes (QwenLM/Qwen-Image README).
POSITIVE_MAGIC = {
    "en": ", Ultra HD, 4K, cinematic composition.",
    "zh": ", 超清，4K，电影级构图.",
}
POSITIVE_MAGIC_CHOICES = ("", "en", "zh", "auto")

# Lightning LoRA (lightx2v/Qwen-Image-Lightning) was distilled with shift 3: this is the
# scheduler its authors publish for diffusers.
LIGHTNING_SCHEDULER_CONFIG = {
    "base_image_seq_len": 256,
    "base_shift": math.log(3),
    "invert_sigmas": False,
    "max_image_seq_len": 8192,
    "max_shift": math.log(3),
    "num_train_timesteps": 1000,
    "shift": 1.0,
    "shift_terminal": None,
    "stochastic_sampling": False,
    "time_shift_type": "exponential",
    "use_beta_sigmas": False,
    "use_dynamic_shifting": True,
    "use_exponential_sigmas": False,
    "use_karras_sigmas": False,
}
LIGHTNING_STEPS = {"regular": 8, "high": 4}
# Without Lightning weights, acceleration only cuts steps: this share of the requested
# steps, never below MIN_REDUCED_STEPS (or the request itself, when it asked for fewer).
STEP_REDUCTION = {"regular": 0.5, "high": 0.25}
MIN_REDUCED_STEPS = 4
ADAPTER_8 = "lightning"
ADAPTER_4 = "lightning_4steps"
SIDE_MULTIPLE = 16
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class Plan:
    """What one request becomes on the pipeline: the whole parameter mapping, in one place."""

    prompt: str
    negative_prompt: str | None
    num_inference_steps: int
    true_cfg_scale: float
    adapter: str | None  # the Lightning adapter to activate, None for the base model
    prompt_suffix: str = ""  # the positive-magic suffix appended to the prompt, if any


def plan_for(request: GenerationRequest, config) -> Plan:
    """Map portal parameters to QwenImagePipeline arguments.

    `guidance_scale` becomes `true_cfg_scale` (the pipeline ignores `guidance_scale` for
    Qwen-Image); CFG needs a negative prompt, so an empty one becomes " ".
    """
    prompt = with_magic(request.prompt, config.positive_magic)
    suffix = prompt[len(request.prompt) :]
    steps = request.num_inference_steps
    cfg = float(request.guidance_scale)
    adapter = None
    accel = request.acceleration if request.acceleration in LIGHTNING_STEPS else "none"
    if accel != "none" and config.lightning_lora:
        steps = LIGHTNING_STEPS[accel]
        cfg = 1.0
        adapter = ADAPTER_4 if accel == "high" and config.lightning_lora_4steps else ADAPTER_8
    elif accel != "none":
        steps = max(min(steps, MIN_REDUCED_STEPS), round(steps * STEP_REDUCTION[accel]))
    negative = (request.negative_prompt or "").strip() or " "
    return Plan(
        prompt=prompt,
        # With true_cfg_scale <= 1 the pipeline does no CFG: don't encode a negative prompt.
        negative_prompt=negative if cfg > 1 else None,
        num_inference_steps=steps,
        true_cfg_scale=cfg,
        adapter=adapter,
        prompt_suffix=suffix,
    )


def with_magic(prompt: str, magic: str) -> str:
    if not magic:
        return prompt
    if magic == "auto":
        magic = "zh" if _CJK.search(prompt) else "en"
    suffix = POSITIVE_MAGIC[magic]
    return prompt if prompt.endswith(suffix) else prompt + suffix
