"""The local backend's configuration, and the checks that need no GPU and no model load.

Everything here runs before any job is claimed (`manage.py run_gpu_worker` calls `preflight`)
and again before the first load: a missing or half-downloaded model, a LoRA setting that names
no file or several, or a corrupt LoRA file is reported in seconds, not after minutes of loading.
No torch import at module level: the web process reads the settings too.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings

from generation.backends.base import BackendError
from generation.backends.local.plan import ADAPTER_4, ADAPTER_8, POSITIVE_MAGIC_CHOICES

DTYPES = {"bfloat16": 2, "float16": 2, "float32": 4}
# The pipeline's model components: each needs weights in its folder.
WEIGHT_COMPONENTS = ("transformer", "text_encoder", "vae")
_SAFETENSORS_SIZES = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2}
_MAX_HEADER = 100 * 1024 * 1024


@dataclass(frozen=True)
class LocalConfig:
    model: str
    allow_download: bool = False
    # "" → the first CUDA device, and no CPU fallback; "cpu" only when the operator says so.
    device: str = ""
    dtype: str = ""  # "" → bfloat16 on CUDA (refused where the GPU lacks it), float32 on CPU
    cpu_offload: bool = False
    lightning_lora: str = ""  # 8-step Lightning weights: one .safetensors file, or a folder of one
    lightning_lora_4steps: str = ""  # optional 4-step weights for acceleration "high"
    positive_magic: str = ""  # "", "en", "zh" or "auto" (zh when the prompt has CJK)
    keepalive_seconds: float = 30.0  # renew the job's lease this often while it waits
    vae_tile_pixels: int = 1328 * 1328  # decode tiled above this many pixels per image
    denoise_bytes_per_pixel: int = 512  # working memory of the transformer, bf16 (memory.py)
    memory_margin_bytes: int = 1 << 30  # kept free on the device beyond the estimate
    reload_after_seconds: float = 600.0  # a failed load is not retried before this

    @classmethod
    def from_settings(cls, *, model: str = "") -> LocalConfig:
        """The settings' configuration; `model` in place of QWEN_IMAGE_LOCAL_MODEL (the edit
        pipelines load their own model with everything else the same)."""
        model = model or (settings.QWEN_IMAGE_LOCAL_MODEL or "").strip()
        if not model:
            raise not_configured(
                "QWEN_IMAGE_LOCAL_MODEL is not set: give the local backend a model folder "
                "or a Hugging Face id such as Qwen/Qwen-Image."
            )
        magic = (settings.QWEN_IMAGE_POSITIVE_MAGIC or "").strip().lower()
        if magic not in POSITIVE_MAGIC_CHOICES:
            raise not_configured(
                f"QWEN_IMAGE_POSITIVE_MAGIC must be empty, en, zh or auto, not {magic!r}."
            )
        dtype = (settings.QWEN_IMAGE_LOCAL_DTYPE or "").strip().lower()
        if dtype and dtype not in DTYPES:
            raise not_configured(
                "QWEN_IMAGE_LOCAL_DTYPE must be empty, bfloat16, float16 or float32, "
                f"not {dtype!r}."
            )
        lease = float(settings.GENERATION_LEASE_SECONDS)
        return cls(
            model=model,
            allow_download=settings.QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD,
            device=settings.QWEN_IMAGE_LOCAL_DEVICE.strip().lower(),
            dtype=dtype,
            cpu_offload=settings.QWEN_IMAGE_LOCAL_CPU_OFFLOAD,
            lightning_lora=settings.QWEN_IMAGE_LIGHTNING_LORA.strip(),
            lightning_lora_4steps=settings.QWEN_IMAGE_LIGHTNING_LORA_4STEPS.strip(),
            positive_magic=magic,
            keepalive_seconds=max(0.05, min(30.0, lease / 4)),
            vae_tile_pixels=settings.QWEN_IMAGE_LOCAL_VAE_TILE_PIXELS,
            denoise_bytes_per_pixel=settings.QWEN_IMAGE_LOCAL_DENOISE_BYTES_PER_PIXEL,
            memory_margin_bytes=settings.QWEN_IMAGE_LOCAL_MEMORY_MARGIN_MB * 1024 * 1024,
            reload_after_seconds=settings.QWEN_IMAGE_LOCAL_RELOAD_AFTER,
        )

    def lightning_locations(self) -> dict[str, str]:
        """{adapter name: the setting's value} for the Lightning weights that are configured."""
        found = {}
        if self.lightning_lora:
            found[ADAPTER_8] = self.lightning_lora
            if self.lightning_lora_4steps:
                found[ADAPTER_4] = self.lightning_lora_4steps
        return found


def not_configured(message: str) -> BackendError:
    return BackendError(message, code="not_configured", retryable=False)


def unavailable(message: str) -> BackendError:
    return BackendError(message, code="local_model_unavailable", retryable=False)


# --- The model's files ------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelFiles:
    source: str  # what from_pretrained is given: a folder, or a hub id to download
    local_only: bool
    folder: Path | None  # the files on disk (None: a hub id that will be downloaded first)
    parameters: int  # weights in the model components (0 when unknown)

    def weight_bytes(self, dtype_size: int) -> int:
        return self.parameters * dtype_size


def model_files(config: LocalConfig) -> ModelFiles:
    """Where the model is and whether every file it needs is there; raises with what is missing."""
    model = config.model
    path = Path(model).expanduser()
    if path.is_dir():
        return ModelFiles(str(path), True, path, _check_folder(path))
    if model.startswith(("/", ".", "~")) or model.count("/") > 1:
        raise unavailable(f"QWEN_IMAGE_LOCAL_MODEL {model!r} is not a folder.")
    folder = _cached_snapshot(model)
    if folder is None:
        if config.allow_download:
            return ModelFiles(model, False, None, 0)
        raise unavailable(
            f"Could not load the local model {model!r}: it is not in the local Hugging Face "
            f"cache. Download it once with `hf download {model}`, or set "
            "QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD=true."
        )
    return ModelFiles(model, not config.allow_download, folder, _check_folder(folder, hub_id=model))


def _cached_snapshot(repo_id: str) -> Path | None:
    try:
        from huggingface_hub import snapshot_download
        from huggingface_hub.errors import LocalEntryNotFoundError
    except ImportError:  # pragma: no cover - comes with diffusers
        return None
    try:
        return Path(snapshot_download(repo_id, local_files_only=True))
    except (LocalEntryNotFoundError, OSError, ValueError):
        return None


def _check_folder(folder: Path, *, hub_id: str = "") -> int:
    """Check a pipeline folder is complete; the number of weights of its model components."""
    again = f" Run `hf download {hub_id}` again." if hub_id else ""
    index = folder / "model_index.json"
    try:
        components = json.loads(index.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise unavailable(
            f"The local model folder {str(folder)!r} has no model_index.json: it is not a "
            f"diffusers pipeline folder.{again}"
        ) from None
    except (OSError, ValueError) as error:
        raise unavailable(f"{index} cannot be read: {error}.{again}") from None
    parameters = 0
    for name in WEIGHT_COMPONENTS:
        if not isinstance(components.get(name), list):
            raise unavailable(f"{index} names no {name}: this is not a Qwen-Image pipeline.")
        parameters += _component_parameters(folder / name, again)
    if not (folder / "tokenizer").is_dir():
        raise unavailable(f"The local model has no tokenizer/ folder in {folder}.{again}")
    return parameters


def _component_parameters(component: Path, again: str) -> int:
    if not component.is_dir():
        raise unavailable(f"The local model is missing its {component.name}/ folder.{again}")
    files = sorted(component.glob("*.safetensors"))
    for index in component.glob("*.safetensors.index.json"):
        try:
            shards = set(json.loads(index.read_text(encoding="utf-8"))["weight_map"].values())
        except (OSError, ValueError, KeyError, AttributeError) as error:
            raise unavailable(f"{index} cannot be read: {error}.{again}") from None
        missing = sorted(shard for shard in shards if not (component / shard).is_file())
        if missing:
            raise unavailable(
                f"The local model's {component.name} is incomplete: {len(missing)} of "
                f"{len(shards)} weight files are missing ({', '.join(missing[:3])}"
                f"{', …' if len(missing) > 3 else ''}), an interrupted download?{again}"
            )
    if not files:
        if list(component.glob("*.bin")):
            return 0  # pickled weights: loadable, size unknown without unpickling
        raise unavailable(f"The local model has no weights in {component}.{again}")
    return sum(_safetensors_parameters(file, again) for file in files)


def safetensors_header(file: Path) -> dict:
    """The JSON header of a .safetensors file, checked against the file's length."""
    size = file.stat().st_size
    with file.open("rb") as handle:
        raw = handle.read(8)
        if len(raw) < 8:
            raise ValueError("the file is shorter than a safetensors header")
        (length,) = struct.unpack("<Q", raw)
        if length > min(size - 8, _MAX_HEADER):
            raise ValueError(
                "its header length is larger than the file (corrupt or not safetensors)"
            )
        header = json.loads(handle.read(length))
    if not isinstance(header, dict):
        raise ValueError("its header is not a JSON object")
    end = max(
        (entry["data_offsets"][1] for key, entry in header.items() if key != "__metadata__"),
        default=0,
    )
    if 8 + length + end > size:
        raise ValueError(f"it is truncated ({size} bytes, {8 + length + end} expected)")
    return header


def _safetensors_parameters(file: Path, again: str) -> int:
    try:
        header = safetensors_header(file)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise unavailable(f"The weight file {file} is unreadable: {error}.{again}") from None
    count = 0
    for key, entry in header.items():
        if key == "__metadata__":
            continue
        numel = 1
        for side in entry.get("shape", []):
            numel *= side
        count += numel
    return count


# --- Lightning LoRA files -----------------------------------------------------------------------


def lightning_file(adapter: str, location: str) -> Path:
    """The one .safetensors file a Lightning setting names; raises naming what is wrong."""
    setting = "QWEN_IMAGE_LIGHTNING_LORA" + ("_4STEPS" if adapter == ADAPTER_4 else "")
    path = Path(location).expanduser()
    if path.is_dir():
        files = sorted(path.glob("*.safetensors"))
        if len(files) != 1:
            listed = ", ".join(file.name for file in files) or "none"
            raise lightning_error(
                f"{setting} is the folder {location!r}, which must hold exactly one "
                f".safetensors file (it holds {len(files)}: {listed}). Point it at the file."
            )
        path = files[0]
    elif not path.is_file():
        raise lightning_error(f"{setting}: no Lightning LoRA weights at {location!r}.")
    if path.suffix != ".safetensors":
        raise lightning_error(f"{setting} must name a .safetensors file, not {path.name!r}.")
    try:
        header = safetensors_header(path)
    except (OSError, ValueError, KeyError, TypeError, IndexError) as error:
        raise lightning_error(f"{setting}: {path.name} is not a usable file: {error}.") from None
    if not any("lora" in key.lower() for key in header):
        raise lightning_error(f"{setting}: {path.name} holds no LoRA weights.")
    return path


def lightning_error(message: str) -> BackendError:
    return BackendError(
        message + " Jobs without acceleration are not affected.",
        code="lightning_unavailable",
        retryable=False,
    )
