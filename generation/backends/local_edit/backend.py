"""LocalEditBackend: loading the edit pipelines and running one edit on them."""

from __future__ import annotations

import contextlib
import gc
import io
import logging
import os
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from PIL import Image

from generation.backends.base import (
    BackendError,
    CancelCheck,
    Canceled,
    GeneratedImage,
    GenerationRequest,
    ProgressCallback,
)
from generation.backends.local import LIGHTNING_SCHEDULER_CONFIG, check_tokenizer
from generation.backends.local_edit.plan import (
    ADAPTER_4,
    ADAPTER_8,
    HEADROOM_BYTES,
    INPAINT,
    PLUS,
    SIDE_MULTIPLE,
    EditConfig,
    EditPlan,
    edit_plan_for,
    image_only_processor,
    import_stack,
)
from generation.backends.residency import slot_for

logger = logging.getLogger("generation.backends.local_edit")


class _StopRequested(Exception):
    pass


class LocalEditBackend:
    name = "local edit pipelines"

    def __init__(self, config: EditConfig) -> None:
        self.config = config
        self._slot = slot_for(config.device)
        self._lock = self._slot.lock  # the device's one-job lock, shared with text-to-image
        self._pipes: dict[str, Any] = {}
        self._pid: int | None = None
        self._device: Any = None
        self._schedulers: dict[str, Any] = {}

    @classmethod
    def from_settings(cls) -> LocalEditBackend:
        model = (settings.QWEN_IMAGE_LOCAL_EDIT_MODEL or "").strip()
        if not model:
            raise BackendError(
                "QWEN_IMAGE_LOCAL_EDIT_MODEL is not set: give the local backend the edit "
                "model's folder or a Hugging Face id such as Qwen/Qwen-Image-Edit-2511.",
                code="not_configured",
                retryable=False,
            )
        import_stack()
        return cls(
            EditConfig(
                model=model,
                allow_download=settings.QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD,
                device=settings.QWEN_IMAGE_LOCAL_DEVICE.strip(),
                cpu_offload=settings.QWEN_IMAGE_LOCAL_CPU_OFFLOAD,
                lightning_lora=settings.QWEN_IMAGE_EDIT_LIGHTNING_LORA.strip(),
                lightning_lora_4steps=settings.QWEN_IMAGE_EDIT_LIGHTNING_LORA_4STEPS.strip(),
            )
        )

    # --- Editing ----------------------------------------------------------------------------

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
        plan = edit_plan_for(request, self.config)
        sources = [Image.open(io.BytesIO(data)).convert("RGB") for data in request.edit.images]
        mask = Image.open(io.BytesIO(request.edit.mask)).convert("L") if request.edit.mask else None
        with self._lock:
            if should_cancel():
                raise Canceled()
            fresh = not self._pipes or self._pid != os.getpid()
            pipe = self.pipeline(plan.pipeline)
            if fresh:
                on_progress(0.0)  # a model load takes minutes: this renews the job's lease
            pictures = self._run(pipe, plan, request, sources, mask, on_progress, should_cancel)
        size = (request.width, request.height)
        results = []
        for picture, seed in zip(pictures, request.seeds, strict=True):
            if picture.size != size:  # the inpaint pipeline works at ~1 MP of the source
                picture = picture.resize(size, Image.Resampling.LANCZOS)
            results.append(GeneratedImage(data=_png(picture), seed=seed))
        on_progress(1.0)
        return results

    def _run(self, pipe, plan: EditPlan, request, sources, mask, on_progress, should_cancel):
        torch, _, _ = import_stack()
        self._activate(plan)

        def on_step_end(pipeline, step: int, _timestep, _tensors) -> dict:
            total = getattr(pipeline, "num_timesteps", None) or plan.num_inference_steps
            on_progress((step + 1) / (total + 1))
            if should_cancel():
                raise _StopRequested()
            return {}

        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in request.seeds]
        arguments = {
            "prompt": plan.prompt,
            "negative_prompt": plan.negative_prompt,
            "true_cfg_scale": plan.true_cfg_scale,
            "num_inference_steps": plan.num_inference_steps,
            "num_images_per_prompt": len(request.seeds),
            "generator": generators,
            "callback_on_step_end": on_step_end,
            "output_type": "pil",
        }
        if plan.pipeline == INPAINT:
            arguments.update(image=sources[0], mask_image=mask, strength=plan.strength)
        else:
            arguments.update(image=sources, width=request.width, height=request.height)
        oom = getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError)
        started = time.monotonic()
        try:
            output = pipe(**arguments)
        except _StopRequested:
            pipe.maybe_free_model_hooks()
            raise Canceled() from None
        except oom:
            pipe.maybe_free_model_hooks()
            if torch.cuda.is_available():
                torch.cuda.empty_cache()
            raise BackendError(
                f"Out of GPU memory editing at {request.width}×{request.height} with "
                f"{len(sources)} source image(s) and {len(request.seeds)} result(s): try a "
                "smaller size, fewer references or fewer images.",
                code="out_of_memory",
                retryable=False,
            ) from None
        logger.info(
            "local edit (%s) made %d image(s) %dx%d from %d source(s) in %d steps on %s in %.2fs",
            plan.pipeline,
            len(request.seeds),
            request.width,
            request.height,
            len(sources),
            plan.num_inference_steps,
            self._device,
            time.monotonic() - started,
        )
        return output.images

    def _activate(self, plan: EditPlan) -> None:
        if not self._schedulers.get("lightning"):
            return
        for pipe in self._pipes.values():
            if plan.adapter:
                pipe.enable_lora()
                pipe.set_adapters([plan.adapter])
                pipe.scheduler = self._schedulers["lightning"]
            else:
                pipe.disable_lora()
                pipe.scheduler = self._schedulers["default"]

    # --- Loading ----------------------------------------------------------------------------

    def pipeline(self, kind: str = PLUS):
        """The pipeline of `kind`, loading the edit model on first use in this process."""
        if not self._pipes or self._pid != os.getpid():
            self._pipes = {}
            self._slot.make_room(self, fits=self._fits())
            self._pipes[PLUS] = self._load()
            self._pid = os.getpid()
        if kind == INPAINT and INPAINT not in self._pipes:
            _, diffusers, _ = import_stack()
            # The same loaded modules: no second copy of the weights.
            self._pipes[INPAINT] = diffusers.QwenImageEditInpaintPipeline(
                **self._pipes[PLUS].components
            )
            self._pipes[INPAINT].set_progress_bar_config(disable=True)
        return self._pipes[kind]

    def _load(self):
        torch, diffusers, transformers = import_stack()
        device = self._pick_device(torch)
        dtype = torch.bfloat16 if device.type == "cuda" else torch.float32
        source, local_only = self._source()
        started = time.monotonic()
        try:
            processor = self._processor(transformers, source, local_only)
            pipe = diffusers.QwenImageEditPlusPipeline.from_pretrained(
                source, processor=processor, dtype=dtype, local_files_only=local_only
            )
        except (OSError, ValueError) as error:
            hint = ""
            if local_only and not Path(source).exists():
                hint = (
                    f" It is not in the local Hugging Face cache: download it once with "
                    f"`hf download {source}`, or set QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD=true."
                )
            raise BackendError(
                f"Could not load the local edit model {source!r}: {error}.{hint}",
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
            pipe.to(device)
        self._device = device
        logger.info(
            "local edit model %s loaded on %s in %.1fs", source, device, time.monotonic() - started
        )
        return pipe

    def _processor(self, transformers, source: str, local_only: bool):
        image_processor = transformers.Qwen2VLImageProcessorPil.from_pretrained(
            source, subfolder="processor", local_files_only=local_only
        )
        tokenizer = transformers.Qwen2Tokenizer.from_pretrained(
            source, subfolder="tokenizer", local_files_only=local_only
        )
        return image_only_processor(
            transformers, image_processor=image_processor, tokenizer=tokenizer
        )

    def _load_lightning(self, pipe, diffusers) -> None:
        weights = [(ADAPTER_8, self.config.lightning_lora)]
        if self.config.lightning_lora_4steps:
            weights.append((ADAPTER_4, self.config.lightning_lora_4steps))
        for adapter, location in weights:
            path = Path(location).expanduser()
            if not path.exists():
                raise BackendError(
                    f"Edit Lightning LoRA weights not found at {location!r}.",
                    code="local_model_unavailable",
                    retryable=False,
                )
            folder, name = (str(path.parent), path.name) if path.is_file() else (str(path), None)
            options = {"weight_name": name} if name else {}
            pipe.load_lora_weights(folder, adapter_name=adapter, local_files_only=True, **options)
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
        model = self.config.model
        path = Path(model).expanduser()
        if path.is_dir():
            return str(path), True
        if model.startswith(("/", ".", "~")) or model.count("/") > 1:
            raise BackendError(
                f"QWEN_IMAGE_LOCAL_EDIT_MODEL {model!r} is not a folder.",
                code="local_model_unavailable",
                retryable=False,
            )
        return model, not self.config.allow_download

    def _fits(self) -> bool:
        """Whether the edit model fits on the device beside what is loaded there now (for
        QWEN_IMAGE_LOCAL_KEEP_BOTH=auto): free memory against the size of its weights."""
        path = Path(self.config.model).expanduser()
        if not path.is_dir():
            return False  # a hub id: its size is not known here; play safe
        weights = sum(f.stat().st_size for f in path.rglob("*.safetensors"))
        try:
            torch, _, _ = import_stack()
            device = self._pick_device(torch)
            cuda = device.type == "cuda"
            free = torch.cuda.mem_get_info(device)[0] if cuda else _mem_available()
        except Exception:  # any doubt: one pipeline at a time
            return False
        return free >= weights + HEADROOM_BYTES

    # --- Residency --------------------------------------------------------------------------

    def unload(self) -> None:
        """Drop the pipelines (the device slot asks, holding the device's lock)."""
        self._pipes = {}
        self._schedulers = {}
        gc.collect()
        with contextlib.suppress(ImportError):
            import torch

            if torch.cuda.is_available():
                torch.cuda.empty_cache()

    @property
    def loaded(self) -> bool:
        return bool(self._pipes)

    def close(self) -> None:
        with self._lock:
            self._slot.forget(self)
            self.unload()


def _mem_available() -> int:
    with contextlib.suppress(OSError), open("/proc/meminfo") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    return 0


def _png(picture) -> bytes:
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
