"""Local backend: Qwen-Image through diffusers' QwenImagePipeline on this worker's GPU (or CPU).

The pipeline is loaded lazily, once per worker process, on the first job that process runs: the
registry in generation/backends/__init__.py builds backends on first use, so a consumer that
forks its workers never touches CUDA in the parent. One lock per backend instance runs one job
at a time on its device; run one worker process per GPU (see docs/local-gpu.md).

torch, diffusers and transformers come from the optional `[local]` dependency group and are
imported only here, only when this backend is used.

Faults become `BackendError`s, none of them retried (retrying would fail the same way):

| code                    | when                                                              |
|-------------------------|-------------------------------------------------------------------|
| not_configured          | QWEN_IMAGE_LOCAL_MODEL unset, a bad setting, the [local] extra    |
|                         | missing, or a CUDA device asked for where torch sees none         |
| local_model_unavailable | the folder is missing, the hub id is not in the local cache, the  |
|                         | files do not load, or the Lightning weights are missing           |
| local_model_invalid     | the tokenizer is implausible (transformers 5 returns an empty one |
|                         | without raising when its files are missing)                       |
| out_of_memory           | the GPU ran out of memory for this size and number of images      |
| invalid_size            | width or height not a multiple of 16                              |
"""

from __future__ import annotations

import gc
import io
import logging
import math
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from django.conf import settings

from generation.backends.base import (
    BackendError,
    CancelCheck,
    Canceled,
    GeneratedImage,
    GenerationRequest,
    ProgressCallback,
)
from generation.backends.residency import slot_for

if TYPE_CHECKING:
    from diffusers import QwenImagePipeline

logger = logging.getLogger(__name__)

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

# A byte-level BPE tokenizer holds at least its 256 byte symbols; the real Qwen one has ~151k.
# transformers 5 returns a one-token tokenizer (no error) when the files are missing.
MIN_TOKENIZER_TOKENS = 256
REQUIRED_SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
SIDE_MULTIPLE = 16
ADAPTER_8 = "lightning"
ADAPTER_4 = "lightning_4steps"
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")


@dataclass(frozen=True)
class LocalConfig:
    model: str
    allow_download: bool = False
    device: str = ""  # "" → cuda when available, else cpu
    cpu_offload: bool = False
    lightning_lora: str = ""  # 8-step Lightning weights (.safetensors file or folder)
    lightning_lora_4steps: str = ""  # optional 4-step weights for acceleration "high"
    positive_magic: str = ""  # "", "en", "zh" or "auto" (zh when the prompt has CJK)


@dataclass(frozen=True)
class Plan:
    """What one request becomes on the pipeline: the whole parameter mapping, in one place."""

    prompt: str
    negative_prompt: str | None
    num_inference_steps: int
    true_cfg_scale: float
    adapter: str | None  # the Lightning adapter to activate, None for the base model


def plan_for(request: GenerationRequest, config: LocalConfig) -> Plan:
    """Map portal parameters to QwenImagePipeline arguments.

    `guidance_scale` becomes `true_cfg_scale` (the pipeline ignores `guidance_scale` for
    Qwen-Image); CFG needs a negative prompt, so an empty one becomes " ".
    """
    prompt = _with_magic(request.prompt, config.positive_magic)
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
    )


def _with_magic(prompt: str, magic: str) -> str:
    if not magic:
        return prompt
    if magic == "auto":
        magic = "zh" if _CJK.search(prompt) else "en"
    suffix = POSITIVE_MAGIC[magic]
    return prompt if prompt.endswith(suffix) else prompt + suffix


def check_tokenizer(pipe: Any) -> None:
    """Refuse a tokenizer that cannot be the real one, before it fails later as a reshape error."""
    tokenizer = pipe.tokenizer
    size = len(tokenizer) if tokenizer is not None else 0
    problem = ""
    if size < MIN_TOKENIZER_TOKENS:
        problem = f"it has {size} tokens (at least {MIN_TOKENIZER_TOKENS} expected)"
    else:
        unknown = [
            token
            for token in REQUIRED_SPECIAL_TOKENS
            if tokenizer.convert_tokens_to_ids(token) in (None, tokenizer.unk_token_id)
            and token != tokenizer.unk_token
        ]
        template = getattr(pipe, "prompt_template_encode", "{}")
        drop = getattr(pipe, "prompt_template_encode_start_idx", 0)
        embeddings = pipe.text_encoder.get_input_embeddings().num_embeddings
        if unknown:
            problem = f"it lacks the special tokens {', '.join(unknown)}"
        elif len(tokenizer(template.format("a cat")).input_ids) <= drop:
            problem = f"the prompt template encodes to {drop} tokens or fewer"
        elif size > embeddings:
            problem = f"it has {size} tokens but the text encoder only {embeddings} embeddings"
    if problem:
        raise BackendError(
            f"The local model's tokenizer looks broken: {problem}. Check that the model folder "
            "has a complete tokenizer/ (vocab.json, merges.txt or tokenizer.json).",
            code="local_model_invalid",
            retryable=False,
        )


def _import_stack():
    try:
        import diffusers
        import torch
    except ImportError as error:
        raise BackendError(
            "The local backend needs the [local] dependencies: "
            "pip install torch==2.13.0 && pip install -e '.[local]' "
            f"({error.name or error} is missing).",
            code="not_configured",
            retryable=False,
        ) from None
    return torch, diffusers


class _StopRequested(Exception):
    """Raised from the step callback: leaves the loop before the VAE decodes a half image."""


class LocalBackend:
    name = "local"

    def __init__(self, config: LocalConfig) -> None:
        self.config = config
        # One job at a time on this process's device, edits (local_edit.py) included.
        self._slot = slot_for(config.device)
        self._lock = self._slot.lock
        self._pipe: QwenImagePipeline | None = None
        self._pid: int | None = None
        self._device: Any = None
        self._schedulers: dict[str, Any] = {}

    @classmethod
    def from_settings(cls) -> LocalBackend:
        model = (settings.QWEN_IMAGE_LOCAL_MODEL or "").strip()
        if not model:
            raise BackendError(
                "QWEN_IMAGE_LOCAL_MODEL is not set: give the local backend a model folder "
                "or a Hugging Face id such as Qwen/Qwen-Image.",
                code="not_configured",
                retryable=False,
            )
        magic = (settings.QWEN_IMAGE_POSITIVE_MAGIC or "").strip().lower()
        if magic not in POSITIVE_MAGIC_CHOICES:
            raise BackendError(
                f"QWEN_IMAGE_POSITIVE_MAGIC must be empty, en, zh or auto, not {magic!r}.",
                code="not_configured",
                retryable=False,
            )
        _import_stack()
        return cls(
            LocalConfig(
                model=model,
                allow_download=settings.QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD,
                device=settings.QWEN_IMAGE_LOCAL_DEVICE.strip(),
                cpu_offload=settings.QWEN_IMAGE_LOCAL_CPU_OFFLOAD,
                lightning_lora=settings.QWEN_IMAGE_LIGHTNING_LORA.strip(),
                lightning_lora_4steps=settings.QWEN_IMAGE_LIGHTNING_LORA_4STEPS.strip(),
                positive_magic=magic,
            )
        )

    # --- Generation -----------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
    ) -> list[GeneratedImage]:
        if request.width % SIDE_MULTIPLE or request.height % SIDE_MULTIPLE:
            raise BackendError(
                f"Width and height must be multiples of {SIDE_MULTIPLE} "
                f"(got {request.width}×{request.height}).",
                code="invalid_size",
                retryable=False,
            )
        if not request.seeds:
            raise BackendError("No seeds given.", code="invalid_request", retryable=False)
        plan = plan_for(request, self.config)
        with self._lock:
            if should_cancel():
                raise Canceled()
            fresh = self._pipe is None or self._pid != os.getpid()
            pipe = self.pipeline()
            if fresh:
                on_progress(0.0)  # a model load takes minutes: this renews the job's lease
            pictures = self._run(pipe, plan, request, on_progress, should_cancel)
        # Encoding happens outside the lock so the next job can start on the device.
        results = [
            GeneratedImage(data=_png(picture), seed=seed)
            for picture, seed in zip(pictures, request.seeds, strict=True)
        ]
        on_progress(1.0)
        return results

    def _run(self, pipe, plan: Plan, request: GenerationRequest, on_progress, should_cancel):
        torch, _ = _import_stack()
        self._activate(pipe, plan)
        total = plan.num_inference_steps

        def on_step_end(_pipe, step: int, _timestep, _tensors) -> dict:
            # The last share of the bar is the VAE decode and PNG encoding.
            on_progress((step + 1) / (total + 1))
            if should_cancel():
                raise _StopRequested()
            return {}

        # One CPU generator per image: image i depends only on seeds[i], the same on any device.
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in request.seeds]
        oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
        started = time.monotonic()
        try:
            output = pipe(
                prompt=plan.prompt,
                negative_prompt=plan.negative_prompt,
                true_cfg_scale=plan.true_cfg_scale,
                width=request.width,
                height=request.height,
                num_inference_steps=plan.num_inference_steps,
                num_images_per_prompt=len(request.seeds),
                generator=generators,
                callback_on_step_end=on_step_end,
                output_type="pil",
            )
        except _StopRequested:
            pipe.maybe_free_model_hooks()
            raise Canceled() from None
        except oom:
            pipe.maybe_free_model_hooks()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise BackendError(
                f"Out of GPU memory at {request.width}×{request.height} with "
                f"{len(request.seeds)} image(s): try a smaller size or fewer images.",
                code="out_of_memory",
                retryable=False,
            ) from None
        logger.info(
            "local backend generated %d image(s) %dx%d in %d steps on %s in %.2fs",
            len(request.seeds),
            request.width,
            request.height,
            total,
            self._device,
            time.monotonic() - started,
        )
        return output.images

    def _activate(self, pipe, plan: Plan) -> None:
        """Switch Lightning on or off for this job: adapter and matching scheduler."""
        if not self._schedulers.get("lightning"):
            return
        if plan.adapter:
            pipe.enable_lora()
            pipe.set_adapters([plan.adapter])
            pipe.scheduler = self._schedulers["lightning"]
        else:
            pipe.disable_lora()
            pipe.scheduler = self._schedulers["default"]

    # --- Loading ----------------------------------------------------------------------------

    def pipeline(self) -> QwenImagePipeline:
        """The loaded pipeline, loading it on first use in this process."""
        if self._pipe is None or self._pid != os.getpid():
            # A pipeline inherited through fork is unusable on CUDA: load this process's own.
            self._pipe = None
            self._slot.make_room(self)  # the edit pipelines leave a small GPU first
            self._pipe = self._load()
            self._pid = os.getpid()
        return self._pipe

    def _load(self) -> QwenImagePipeline:
        torch, diffusers = _import_stack()
        device = self._pick_device(torch)
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        source, local_only = self._source()
        started = time.monotonic()
        try:
            pipe = diffusers.QwenImagePipeline.from_pretrained(
                source, dtype=dtype, local_files_only=local_only
            )
        except (OSError, ValueError) as error:
            hint = ""
            if local_only and not Path(source).exists():
                hint = (
                    f" It is not in the local Hugging Face cache: download it once with "
                    f"`hf download {source}`, or set QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD=true."
                )
            raise BackendError(
                f"Could not load the local model {source!r}: {error}.{hint}",
                code="local_model_unavailable",
                retryable=False,
            ) from None
        check_tokenizer(pipe)
        pipe.set_progress_bar_config(disable=True)
        self._schedulers = {}
        if self.config.lightning_lora:
            self._load_lightning(pipe, diffusers)
        if self.config.cpu_offload and device.type != "cpu":
            pipe.enable_model_cpu_offload(device=device)
        else:
            if self.config.cpu_offload:
                logger.warning(
                    "QWEN_IMAGE_LOCAL_CPU_OFFLOAD ignored: no accelerator, running on CPU"
                )
            pipe.to(device)
        self._device = device
        logger.info(
            "local backend loaded %s on %s (%s) in %.1fs",
            source,
            device,
            str(dtype).removeprefix("torch."),
            time.monotonic() - started,
        )
        return pipe

    def _load_lightning(self, pipe, diffusers) -> None:
        weights = [(ADAPTER_8, self.config.lightning_lora)]
        if self.config.lightning_lora_4steps:
            weights.append((ADAPTER_4, self.config.lightning_lora_4steps))
        for adapter, location in weights:
            path = Path(location).expanduser()
            if not path.exists():
                raise BackendError(
                    f"Lightning LoRA weights not found at {location!r}.",
                    code="local_model_unavailable",
                    retryable=False,
                )
            if path.is_file():
                pipe.load_lora_weights(
                    str(path.parent),
                    weight_name=path.name,
                    adapter_name=adapter,
                    local_files_only=True,
                )
            else:
                pipe.load_lora_weights(str(path), adapter_name=adapter, local_files_only=True)
        self._schedulers = {
            "default": pipe.scheduler,
            "lightning": diffusers.FlowMatchEulerDiscreteScheduler.from_config(
                LIGHTNING_SCHEDULER_CONFIG
            ),
        }

    def _pick_device(self, torch):
        name = self.config.device or ("cuda" if torch.cuda.is_available() else "cpu")
        device = torch.device(name)
        if device.type == "cuda" and not torch.cuda.is_available():
            raise BackendError(
                f"QWEN_IMAGE_LOCAL_DEVICE is {name!r} but torch sees no CUDA device.",
                code="not_configured",
                retryable=False,
            )
        return device

    def _source(self) -> tuple[str, bool]:
        """(what to load, whether to stay off the network)."""
        model = self.config.model
        path = Path(model).expanduser()
        if path.is_dir():
            return str(path), True
        if model.startswith(("/", ".", "~")) or model.count("/") > 1:
            raise BackendError(
                f"QWEN_IMAGE_LOCAL_MODEL {model!r} is not a folder.",
                code="local_model_unavailable",
                retryable=False,
            )
        return model, not self.config.allow_download

    def unload(self) -> None:
        """Drop the pipeline (the device slot asks, holding the device's lock)."""
        self._pipe = None
        self._schedulers = {}
        _empty_cache()

    def close(self) -> None:
        with self._lock:
            self._slot.forget(self)
            had_pipe = self._pipe is not None
            self._pipe = None
            self._schedulers = {}
        if had_pipe:
            try:
                import torch
            except ImportError:  # pragma: no cover - the pipe could not have loaded
                return
            if torch.cuda.is_available():
                torch.cuda.empty_cache()


def _empty_cache() -> None:
    gc.collect()
    try:
        import torch
    except ImportError:  # pragma: no cover - nothing could have loaded
        return
    if torch.cuda.is_available():
        torch.cuda.empty_cache()


def _png(picture) -> bytes:
    # The service decodes, verifies and re-encodes every image: favour speed here.
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
