"""Loading the pipeline: once per process, in a thread, every failure named and remembered.

The load runs in a thread of its own so the job that waits for it keeps its lease (and sees a
cancel) meanwhile. Its outcome is kept: a failed load is not repeated for the next job (nor
for the runner's retry of the same job) until `reload_after_seconds` have passed (a GPU that
was busy: its retry_after), so four attempts never mean four 58 GB loads. Whatever a failed
attempt put on the device is released before the failure is reported: the exception (whose
traceback holds the half-built modules) is turned into a BackendError and dropped, then
gc + empty_cache run outside the handler.

| failure                                   | code                    | retried |
|-------------------------------------------|-------------------------|---------|
| no CUDA device / bad ordinal / no bf16    | not_configured          | no      |
| model folder or hub cache incomplete,     | local_model_unavailable | no      |
| corrupt or unreadable weights             |                         |         |
| tokenizer implausible                     | local_model_invalid     | no      |
| the weights do not fit on the device      | out_of_memory           | no      |
| they would, but other processes hold it   | gpu_busy                | yes     |
| Lightning file missing, several, corrupt, | lightning_unavailable   | no      |
| or no LoRA for this model (accelerated    |                         |         |
| jobs fail; the others run)                |                         |         |
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from typing import Any

from generation.backends.base import BackendError, CancelCheck
from generation.backends.local import device as devices
from generation.backends.local.config import (
    LocalConfig,
    ModelFiles,
    lightning_error,
    lightning_file,
    model_files,
    not_configured,
    unavailable,
)
from generation.backends.local.plan import LIGHTNING_SCHEDULER_CONFIG

logger = logging.getLogger(__name__)

# A byte-level BPE tokenizer holds at least its 256 byte symbols; the real Qwen one has ~151k.
# transformers 5 returns a one-token tokenizer (no error) when the files are missing.
MIN_TOKENIZER_TOKENS = 256
REQUIRED_SPECIAL_TOKENS = ("<|im_start|>", "<|im_end|>", "<|endoftext|>")
BUSY_RETRY_AFTER = 60.0


def import_stack():
    try:
        import diffusers
        import torch
    except ImportError as error:
        raise not_configured(
            "The local backend needs the [local] dependencies: "
            "pip install torch==2.13.0 && pip install -e '.[local]' "
            f"({error.name or error} is missing)."
        ) from None
    return torch, diffusers


@dataclass(frozen=True)
class Preflight:
    """What the worker found before loading anything: printed by run_gpu_worker --check."""

    device: Any
    dtype: Any
    description: str
    files: ModelFiles
    weight_bytes: int
    lightning: dict[str, str]  # adapter → file, for the usable ones
    lightning_errors: dict[str, BackendError]  # adapter → why it is unusable


def preflight(config: LocalConfig, *, memory: Callable | None = None) -> Preflight:
    """Every check that needs no load: device, dtype, files, memory for the weights, LoRA files.

    Raises the BackendError a job would fail with; Lightning problems are only reported (they
    fail accelerated jobs, not the worker).
    """
    torch, _ = import_stack()
    device = devices.resolve_device(torch, config)
    dtype = devices.resolve_dtype(torch, device, config)
    files = model_files(config)
    size = devices.dtype_size(dtype)
    weight_bytes = files.weight_bytes(size)
    lightning, errors = {}, {}
    for adapter, location in config.lightning_locations().items():
        try:
            lightning[adapter] = str(lightning_file(adapter, location))
        except BackendError as error:
            errors[adapter] = error
    report = Preflight(
        device, dtype, devices.describe(torch, device), files, weight_bytes, lightning, errors
    )
    check_room_for_weights(config, report, (memory or devices.memory_now)(torch, device))
    return report


def check_room_for_weights(config: LocalConfig, report: Preflight, memory) -> None:
    """Refuse a load that cannot fit before reading 58 GB: for good when the device is too
    small, for now when other processes hold what it needs."""
    resident = report.weight_bytes
    if config.cpu_offload and report.device.type == "cuda":
        resident = report.weight_bytes * 3 // 4  # the transformer alone, the largest module
    need = resident + config.memory_margin_bytes
    if not report.weight_bytes or need <= memory.free:
        return
    dtype = str(report.dtype).removeprefix("torch.")
    what = "GPU" if report.device.type == "cuda" else "machine"
    needs = f"The local model needs about {devices.gib(need)} in {dtype}"
    if need > memory.total:
        hint = (
            " Set QWEN_IMAGE_LOCAL_CPU_OFFLOAD=true to keep only the running part on the GPU."
            if report.device.type == "cuda" and not config.cpu_offload
            else ""
        )
        raise devices.out_of_memory(
            f"{needs}; this {what} has {devices.gib(memory.total)} in all.{hint}"
        )
    raise devices.out_of_memory(
        f"{needs}; this {what} has only {devices.gib(memory.free)} free now (other processes "
        "hold the rest).",
        retryable=True,
        retry_after=BUSY_RETRY_AFTER,
    )


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


def classify(torch, error: BaseException, *, stage: str, report: Preflight | None) -> BackendError:
    """A load failure as the BackendError a job reports (see the module's table)."""
    text = str(error).strip()[:500] or type(error).__name__
    where = str(report.device) if report else "the device"
    if torch is not None and devices.is_out_of_memory(torch, error):
        weights = report.weight_bytes / 2**30 if report else 0
        message = f"Out of memory while {stage} the local model onto {where}"
        if weights:
            message += f" (its weights take about {weights:.1f} GiB)"
        # Not retried by the job (it would only reload 58 GB to fail again); this worker tries
        # loading again after BUSY_RETRY_AFTER, in case another process held the memory.
        return devices.out_of_memory(
            message + ". Free the GPU or set QWEN_IMAGE_LOCAL_CPU_OFFLOAD=true.",
            retry_after=BUSY_RETRY_AFTER,
        )
    if "busy or unavailable" in text:
        return devices.out_of_memory(
            f"{where} is busy or unavailable (another process in exclusive mode?): {text}",
            retryable=True,
            retry_after=BUSY_RETRY_AFTER,
        )
    if isinstance(error, AssertionError) or any(
        marker in text
        for marker in ("invalid device ordinal", "no CUDA GPUs", "not compiled with CUDA")
    ):
        return not_configured(f"The local backend cannot use {where}: {text}")
    source = report.files.source if report else "the local model"
    return unavailable(
        f"Could not load the local model {source!r} while {stage} it "
        f"({type(error).__name__}: {text})."
    )


@dataclass
class _Failure:
    error: BackendError
    at: float  # time.time()

    def until(self, config: LocalConfig) -> float:
        wait = self.error.retry_after
        if wait is None:
            wait = config.reload_after_seconds
        return self.at + (wait or 0.0)


class PipelineHolder:
    """One QwenImagePipeline for one device in this process, loaded lazily in a thread."""

    name = "qwen-image text-to-image"

    def __init__(self, config: LocalConfig, *, memory: Callable | None = None) -> None:
        self.config = config
        self.memory = memory or devices.memory_now  # tests give the device a size
        self.report: Preflight | None = None
        self.lightning_errors: dict[str, BackendError] = {}
        self.schedulers: dict[str, Any] = {}
        self.loads = 0  # attempts that reached from_pretrained (tests count them)
        self._pipe = None
        self._pid: int | None = None
        self._done: threading.Event | None = None
        self._failure: _Failure | None = None
        self._guard = threading.Lock()

    @property
    def loaded(self):
        """The pipeline if this process has it, else None."""
        return self._pipe if self._pid == os.getpid() else None

    def get(self, *, keepalive: Callable[[], None], should_cancel: CancelCheck):
        """The loaded pipeline: loads it (in a thread, waiting with keepalives) on first use,
        or raises the remembered failure of a recent attempt."""
        with self._guard:
            if self.loaded is not None:
                return self._pipe
            if self._pid != os.getpid():  # inherited through fork: unusable on CUDA
                self._pipe, self._done = None, None
            failure = self._failure
            if failure and time.time() < failure.until(self.config) and self._done is None:
                raise _remembered(failure, self.config)
            if self._done is None:
                self._failure = None
                self._done = threading.Event()
                threading.Thread(
                    target=self._load, args=(self._done,), name="qwen-image-load", daemon=True
                ).start()
            done = self._done
        devices.wait_for(
            done,
            keepalive=keepalive,
            should_cancel=should_cancel,
            interval=self.config.keepalive_seconds,
        )
        with self._guard:
            if self._failure is not None:
                raise self._failure.error
            return self._pipe

    def _load(self, done: threading.Event) -> None:
        failure: BackendError | None = None
        torch = None
        report = None
        try:
            torch, _ = import_stack()
            # Another pipeline resident on this device goes first, so the room check below
            # counts the memory it held.
            devices.slot_for(devices.resolve_device(torch, self.config)).make_room(self)
            report = preflight(self.config, memory=self.memory)
            self.report = report
            pipe = self._build(torch, report)
        except BackendError as error:
            failure = error
        except BaseException as error:  # noqa: BLE001 - every failure becomes a BackendError
            failure = classify(torch, error, stage=self._stage, report=report)
        # Out of the handler: the exception and its frames are gone, so this frees their memory.
        if failure is not None:
            pipe = None
            if torch is not None:
                devices.release_memory(torch, report.device if report else None)
            logger.warning("local model load failed (%s): %s", failure.code, failure.message)
        with self._guard:
            if failure is None:
                self._pipe, self._pid = pipe, os.getpid()
            else:
                self._failure = _Failure(failure, time.time())
                self._done = None
            done.set()

    _stage = "checking"

    def _build(self, torch, report: Preflight):
        _, diffusers = import_stack()
        config, device = self.config, report.device
        started = time.monotonic()
        self.lightning_errors = dict(report.lightning_errors)
        self._stage = "reading"
        self.loads += 1
        options: dict[str, Any] = {
            "dtype": report.dtype,
            "local_files_only": report.files.local_only,
        }
        offload = config.cpu_offload and device.type == "cuda"
        if not offload:
            # Straight onto the device: no 58 GB copy in host RAM first.
            options["device_map"] = device.type
        context = torch.cuda.device(device) if device.type == "cuda" else nullcontext()
        with context:
            pipe = self._from_pretrained(diffusers, report.files.source, options)
        check_tokenizer(pipe)
        pipe.set_progress_bar_config(disable=True)
        self._stage = "moving"
        if offload:
            pipe.enable_model_cpu_offload(device=device)
        else:
            if config.cpu_offload:
                logger.warning(
                    "QWEN_IMAGE_LOCAL_CPU_OFFLOAD ignored: no accelerator, running on CPU"
                )
            pipe.to(device)
        pipe.vae.enable_slicing()  # the backend decodes image by image anyway (memory.py)
        self._stage = "adding Lightning to"
        self.schedulers = {"default": pipe.scheduler}
        for adapter, path in report.lightning.items():
            self._load_lightning(torch, pipe, adapter, path)
        if any(adapter in report.lightning for adapter in self._adapters(pipe)):
            self.schedulers["lightning"] = diffusers.FlowMatchEulerDiscreteScheduler.from_config(
                LIGHTNING_SCHEDULER_CONFIG
            )
        logger.info(
            "local backend loaded %s on %s (%s) in %.1fs",
            report.files.source,
            report.description,
            str(report.dtype).removeprefix("torch."),
            time.monotonic() - started,
        )
        return pipe

    def _from_pretrained(self, diffusers, source: str, options: dict):
        """The pipeline itself (the edit holder loads the edit pipeline here instead)."""
        return diffusers.QwenImagePipeline.from_pretrained(source, **options)

    def _load_lightning(self, torch, pipe, adapter: str, path: str) -> None:
        from pathlib import Path

        file = Path(path)
        problem = ""
        try:
            pipe.load_lora_weights(
                str(file.parent), weight_name=file.name, adapter_name=adapter, local_files_only=True
            )
            if adapter not in self._adapters(pipe):
                problem = f"{file.name} holds no LoRA weights for Qwen-Image's transformer"
        except Exception as error:  # noqa: BLE001 - a bad LoRA must not take the base model down
            detail = f"{type(error).__name__}: {str(error)[:300]}"
            problem = f"{file.name} does not load into this model ({detail})"
        if problem:
            # Whatever half of it was injected goes, so the base model's pixels stay the same.
            if adapter in self._adapters(pipe):
                pipe.delete_adapters(adapter)
            self.lightning_errors[adapter] = lightning_error(f"Lightning LoRA unusable: {problem}.")
            devices.release_memory(torch, self.report.device if self.report else None)
            logger.warning("Lightning adapter %s not loaded: %s", adapter, problem)

    @staticmethod
    def _adapters(pipe) -> list[str]:
        try:
            return list(pipe.get_list_adapters().get("transformer", []))
        except Exception:  # noqa: BLE001 - no peft: no adapters
            return []

    def unload(self) -> None:
        with self._guard:
            pipe, self._pipe, self._pid, self._done = self._pipe, None, None, None
            self.schedulers = {}
        if pipe is None:
            return
        report = self.report
        del pipe
        if report is not None:
            torch, _ = import_stack()
            devices.release_memory(torch, report.device)
            devices.slot_for(report.device).forget(self)


def _remembered(failure: _Failure, config: LocalConfig) -> BackendError:
    until = time.strftime("%H:%M:%S", time.localtime(failure.until(config)))
    at = time.strftime("%H:%M:%S", time.localtime(failure.at))
    retry_after = max(1.0, failure.until(config) - time.time()) if failure.error.retryable else None
    error = replace_error(
        failure.error,
        message=(
            f"{failure.error.message} (This worker's load at {at} failed this way; it tries "
            f"again after {until}, or when restarted.)"
        ),
        retry_after=retry_after,
    )
    return error


def replace_error(error: BackendError, **changes) -> BackendError:
    values = {
        "message": error.message,
        "code": error.code,
        "retryable": error.retryable,
        "retry_after": error.retry_after,
        "status": error.status,
    }
    values.update(changes)
    message = values.pop("message")
    return BackendError(message, **values)
