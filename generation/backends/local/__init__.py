"""Local backend: Qwen-Image through diffusers' QwenImagePipeline on this worker's GPU.

The pipeline is loaded lazily, once per worker process, on the first job that process runs
(or when `manage.py run_gpu_worker` starts): the registry in generation/backends/__init__.py
builds backends on first use, so a consumer that forks never touches CUDA in the parent.
Local jobs travel on a queue of their own that only GPU workers read (generation/queues.py).

torch, diffusers and transformers come from the optional `[local]` dependency group and are
imported only when this backend runs. The parts:

- plan.py: request → pipeline arguments (steps, true CFG, Lightning adapter, magic suffix);
  the model's own defaults (50 steps, CFG 4.0).
- config.py: settings, model files (complete? how big?), Lightning files (exactly one each).
- device.py: which device and dtype, its job slot and resident pipeline, its free memory.
- loading.py: the load in a thread, its failures classified and remembered.
- prompt.py: prompt length in tokens (max_sequence_length 1024), refused, never cut.
- memory.py: a job's memory estimate, tiled VAE decode, the size cap.
- backend.py: LocalBackend.generate.

Every fault is a BackendError with a code (docs/local-gpu.md has the table); only `gpu_busy`
(memory another process holds) is retried.
"""

from generation.backends.local.backend import LocalBackend
from generation.backends.local.config import LocalConfig
from generation.backends.local.loading import Preflight, check_tokenizer, preflight
from generation.backends.local.plan import (
    ADAPTER_4,
    ADAPTER_8,
    DEFAULTS,
    LIGHTNING_SCHEDULER_CONFIG,
    POSITIVE_MAGIC,
    Plan,
    plan_for,
)

__all__ = [
    "ADAPTER_4",
    "ADAPTER_8",
    "DEFAULTS",
    "LIGHTNING_SCHEDULER_CONFIG",
    "POSITIVE_MAGIC",
    "LocalBackend",
    "LocalConfig",
    "Plan",
    "Preflight",
    "check_tokenizer",
    "plan_for",
    "preflight",
]
