"""Local edit pipelines: Qwen-Image-Edit through diffusers on this worker's device.

`QwenImageEditPlusPipeline` (Edit-2509/2511: 1 to 3 source images) runs every edit, except a
masked edit of one image, which runs `QwenImageEditInpaintPipeline` built from the same loaded
components (no second copy of the weights). Lightning LoRAs (8 or 4 steps) switch on per job
when acceleration asks for them, as for text-to-image.

The pipelines load lazily, on the first edit a worker process runs, through the text-to-image
backend's own loader (generation/backends/local: preflight, load failures classified and
remembered, memory estimated before work) and its device slot (local/device.py, `slot_for`):
one job at a time on the device, and one resident model, so loading the edit model unloads the
text-to-image one first and the other way round. The registry builds this backend for edit
jobs of the `local` backend (get_backend("local", edit=True)); they travel on the GPU queue
like every local job.

transformers 5 builds a video processor (which needs torchvision) inside Qwen2VLProcessor;
edits never use it, so the processor is built here from the model's image processor and
tokenizer alone.

Faults are `BackendError`s with the text-to-image backend's codes (docs/local-gpu.md); only
gpu_busy is retried.
"""

from generation.backends.local_edit.backend import EditPipelineHolder, LocalEditBackend
from generation.backends.local_edit.plan import EditPlan, edit_config, edit_plan_for

__all__ = ["EditPipelineHolder", "EditPlan", "LocalEditBackend", "edit_config", "edit_plan_for"]
