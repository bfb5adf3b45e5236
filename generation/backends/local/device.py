"""The device a local backend runs on: which one, in which dtype, its job slot and its memory.

One `DeviceSlot` per device per process, whoever asks for it: one job at a time on a device
(a lock), and one resident pipeline at a time unless told otherwise. A second pipeline (the
edit pipelines, say) asks the slot to make room before it loads, and the slot unloads the
other one first, so a small GPU never holds two 58 GB models.
"""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from generation.backends.base import BackendError, CancelCheck, Canceled
from generation.backends.local.config import DTYPES, LocalConfig, not_configured

logger = logging.getLogger(__name__)


def resolve_device(torch, config: LocalConfig):
    """The torch.device to run on. CPU only when the operator names it."""
    name = config.device
    if not name:
        if not torch.cuda.is_available():
            raise not_configured(
                "This worker sees no CUDA device, so it cannot run the local backend. Run it on "
                "a GPU host (manage.py run_gpu_worker), or set QWEN_IMAGE_LOCAL_DEVICE=cpu to "
                "run on the CPU on purpose (minutes per image, ~115 GB of RAM for Qwen-Image)."
            )
        name = "cuda"
    try:
        device = torch.device(name)
    except RuntimeError:
        raise not_configured(
            f"QWEN_IMAGE_LOCAL_DEVICE {name!r} is not a device: use cuda, cuda:N or cpu."
        ) from None
    if device.type == "cpu":
        return device
    if device.type != "cuda":
        raise not_configured(f"QWEN_IMAGE_LOCAL_DEVICE {name!r}: only cuda and cpu are supported.")
    if not torch.cuda.is_available():
        raise not_configured(f"QWEN_IMAGE_LOCAL_DEVICE is {name!r} but torch sees no CUDA device.")
    count = torch.cuda.device_count()
    index = device.index if device.index is not None else torch.cuda.current_device()
    if index >= count:
        visible = os.environ.get("CUDA_VISIBLE_DEVICES")
        shown = f" (CUDA_VISIBLE_DEVICES={visible})" if visible is not None else ""
        raise not_configured(
            f"QWEN_IMAGE_LOCAL_DEVICE is {name!r} but this process sees {count} CUDA "
            f"device{'s' if count != 1 else ''}{shown}: devices are numbered from 0."
        )
    return torch.device("cuda", index)


def resolve_dtype(torch, device, config: LocalConfig):
    """bfloat16 on CUDA (Qwen-Image overflows in float16), float32 on CPU, unless set."""
    if config.dtype:
        return getattr(torch, config.dtype)
    if device.type != "cuda":
        return torch.float32
    if not _native_bf16(torch, device):
        major, minor = torch.cuda.get_device_capability(device)
        raise not_configured(
            f"{torch.cuda.get_device_name(device)} (compute capability {major}.{minor}) has no "
            "native bfloat16, which Qwen-Image needs (in float16 it overflows to black "
            "images). Use an Ampere or newer GPU, or set QWEN_IMAGE_LOCAL_DTYPE=float32 "
            "(twice the memory) or float16 at your own risk."
        )
    return torch.bfloat16


def _native_bf16(torch, device) -> bool:
    with torch.cuda.device(device):
        try:
            return bool(torch.cuda.is_bf16_supported(including_emulation=False))
        except TypeError:  # pragma: no cover - older torch without the argument
            return bool(torch.cuda.is_bf16_supported())


def dtype_size(dtype) -> int:
    return DTYPES.get(str(dtype).removeprefix("torch."), 4)


def describe(torch, device) -> str:
    if device.type != "cuda":
        return str(device)
    total = torch.cuda.get_device_properties(device).total_memory
    return f"{device} · {torch.cuda.get_device_name(device)} · {total / 2**30:.0f} GiB"


# --- Memory -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class DeviceMemory:
    free: int  # bytes a job may still use now (other processes' use already subtracted)
    total: int  # the device's size
    in_use: int  # held by this process's tensors (the resident pipeline)


def memory_now(torch, device) -> DeviceMemory:
    """What the device has free now. On CPU: MemAvailable and MemTotal from /proc/meminfo."""
    if device.type == "cuda":
        free, total = torch.cuda.mem_get_info(device)
        allocated = torch.cuda.memory_allocated(device)
        # torch's cache is free for this process's tensors even though CUDA counts it as used.
        cached = torch.cuda.memory_reserved(device) - allocated
        return DeviceMemory(free=free + cached, total=total, in_use=allocated)
    info = _meminfo()
    return DeviceMemory(
        free=info.get("MemAvailable", 1 << 50), total=info.get("MemTotal", 1 << 50), in_use=0
    )


def _meminfo() -> dict[str, int]:
    found = {}
    with contextlib.suppress(OSError), open("/proc/meminfo") as handle:
        for line in handle:
            name, _, rest = line.partition(":")
            parts = rest.split()
            if parts and parts[0].isdigit():
                found[name] = int(parts[0]) * 1024
    return found


def release_memory(torch, device) -> None:
    """Give a failed or finished attempt's memory back: collect, then empty torch's cache.

    Call it outside any `except` block: a live traceback holds the frames, and the frames the
    tensors, so empty_cache() there frees nothing.
    """
    gc.collect()
    if device is not None and device.type == "cuda":
        torch.cuda.empty_cache()


def is_out_of_memory(torch, error: BaseException) -> bool:
    oom = getattr(torch, "OutOfMemoryError", None) or torch.cuda.OutOfMemoryError
    if isinstance(error, oom):
        return True
    # Allocations made outside torch's caching allocator (cuBLAS, cuDNN, NCCL) raise these.
    text = str(error)
    return isinstance(error, RuntimeError) and (
        "CUDA out of memory" in text or "CUDA error: out of memory" in text
    )


# --- The slot: one job and one resident pipeline per device -------------------------------------


class Resident(Protocol):
    name: str

    def unload(self) -> None: ...


class DeviceSlot:
    def __init__(self, key: str) -> None:
        self.key = key
        self.lock = threading.Lock()
        self._residents: list[Resident] = []

    @contextlib.contextmanager
    def job(
        self,
        *,
        keepalive: Callable[[], None],
        should_cancel: CancelCheck,
        interval: float,
    ) -> Iterator[None]:
        """Hold the device for one job. A job that waits keeps its lease (keepalive) and
        notices a cancel meanwhile."""
        while not self.lock.acquire(timeout=interval):
            keepalive()
            if should_cancel():
                raise Canceled()
        try:
            yield
        finally:
            self.lock.release()

    def make_room(self, newcomer: Resident) -> None:
        """Unload every other pipeline resident on this device before `newcomer` loads."""
        for other in [r for r in self._residents if r is not newcomer]:
            logger.info(
                "unloading %s from %s to make room for %s", other.name, self.key, newcomer.name
            )
            other.unload()
            self.forget(other)
        if newcomer not in self._residents:
            self._residents.append(newcomer)

    def forget(self, resident: Resident) -> None:
        if resident in self._residents:
            self._residents.remove(resident)


_slots: dict[str, DeviceSlot] = {}
_slots_lock = threading.Lock()


def slot_for(device: Any) -> DeviceSlot:
    """The process-wide slot of a device ("cuda:0", "cpu", or the unresolved setting)."""
    key = str(device) or "cuda"
    with _slots_lock:
        if key not in _slots:
            _slots[key] = DeviceSlot(key)
        return _slots[key]


def wait_for(
    event: threading.Event,
    *,
    keepalive: Callable[[], None],
    should_cancel: CancelCheck,
    interval: float,
) -> None:
    """Wait for `event`, renewing the job's lease and watching for a cancel meanwhile."""
    started = time.monotonic()
    while not event.wait(timeout=interval):
        keepalive()
        if should_cancel():
            logger.info(
                "job canceled after waiting %.0fs for the model", time.monotonic() - started
            )
            raise Canceled()


def out_of_memory(message: str, *, retryable: bool = False, retry_after: float | None = None):
    """`gpu_busy` (retried) when other processes hold the memory, else `out_of_memory`.
    A retry_after on the latter only says when this worker may try loading again."""
    return BackendError(
        message,
        code="gpu_busy" if retryable else "out_of_memory",
        retryable=retryable,
        retry_after=retry_after,
    )


def gib(value: int) -> str:
    """Bytes for people: "12.3 GiB", or "5 MiB" below a tenth of a GiB."""
    if value >= 2**30 / 10:
        return f"{value / 2**30:.1f} GiB"
    return f"{max(0, -(-value // 2**20))} MiB"
