"""Local edit pipelines: Qwen-Image-Edit through diffusers on this worker's device.

`QwenImageEditPlusPipeline` (Edit-2509/2511: 1 to 3 source images) runs every edit, except a
masked edit of one image, which runs `QwenImageEditInpaintPipeline` built from the same loaded
components (no second copy of the weights). Lightning LoRAs (8 or 4 steps) switch on per job
when acceleration asks for them, as for text-to-image.

The pipelines load lazily, on the first edit a worker process runs, beside the text-to-image
pipeline of generation/backends/local.py: both share the device's slot (residency.py), which
runs one job at a time and, on a device without room for both, unloads one before the other
loads. The registry builds this backend for edit jobs of the `local` backend
(get_backend("local", edit=True)).

transformers 5 builds a video processor (which needs torchvision) inside Qwen2VLProcessor;
edits never use it, so the processor is built here from the model's image processor and
tokenizer alone.

Faults are `BackendError`s with the text-to-image backend's codes (docs/local-gpu.md), none
retried: not_configured, local_model_unavailable, local_model_invalid, out_of_memory,
invalid_size, invalid_request.
"""

from generation.backends.local_edit.backend import LocalEditBackend
from generation.backends.local_edit.plan import EditConfig, EditPlan, edit_plan_for

__all__ = ["EditConfig", "EditPlan", "LocalEditBackend", "edit_plan_for"]
