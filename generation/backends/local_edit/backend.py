"""LocalEditBackend: the edit pipelines on the text-to-image backend's machinery.

Everything but the pipeline call is the local backend's (generation/backends/local): the
device and dtype rules, the preflight (files, room for the weights), the load in a thread with
its failures classified and remembered (`EditPipelineHolder` only loads another class), the
device slot (one job at a time, one resident model: loading the edit model unloads the
text-to-image one and the other way round), the memory estimate before any work, the
keepalives while waiting, and the out-of-memory handling.
"""

from __future__ import annotations

import dataclasses
import io
import logging
import time

from PIL import Image

from generation.backends.base import (
    BackendError,
    CancelCheck,
    Canceled,
    GeneratedImage,
    GenerationRequest,
    ProgressCallback,
)
from generation.backends.local import device as devices
from generation.backends.local import memory
from generation.backends.local.backend import LocalBackend, _free_hooks, _png, _Progress
from generation.backends.local.config import LocalConfig
from generation.backends.local.loading import PipelineHolder, import_stack
from generation.backends.local_edit.plan import (
    INPAINT,
    SIDE_MULTIPLE,
    SOURCE_WORKING_PIXELS,
    EditPlan,
    edit_config,
    edit_plan_for,
    image_only_processor,
)

logger = logging.getLogger("generation.backends.local_edit")


class _StopRequested(Exception):
    pass


class EditPipelineHolder(PipelineHolder):
    """The edit model (QwenImageEditPlusPipeline) loaded as the text-to-image one is, plus the
    inpaint pipeline built from the same modules on first need (no second copy)."""

    name = "qwen-image edit"

    def __init__(self, config: LocalConfig, **options) -> None:
        super().__init__(config, **options)
        self._inpaint = None

    def _from_pretrained(self, diffusers, source: str, options: dict):
        import transformers

        local_only = options["local_files_only"]
        processor = image_only_processor(
            transformers,
            image_processor=transformers.Qwen2VLImageProcessorPil.from_pretrained(
                source, subfolder="processor", local_files_only=local_only
            ),
            tokenizer=transformers.Qwen2Tokenizer.from_pretrained(
                source, subfolder="tokenizer", local_files_only=local_only
            ),
        )
        return diffusers.QwenImageEditPlusPipeline.from_pretrained(
            source, processor=processor, **options
        )

    def pipeline_for(self, pipe, kind: str):
        if kind != INPAINT:
            return pipe
        if self._inpaint is None or self._inpaint.transformer is not pipe.transformer:
            _, diffusers = import_stack()
            self._inpaint = diffusers.QwenImageEditInpaintPipeline(**pipe.components)
            self._inpaint.set_progress_bar_config(disable=True)
        return self._inpaint

    def unload(self) -> None:
        self._inpaint = None  # it holds the same modules: they go only when both are dropped
        super().unload()


class LocalEditBackend(LocalBackend):
    name = "local edit"

    def __init__(self, config: LocalConfig, *, memory_probe=None) -> None:
        super().__init__(config, memory_probe=memory_probe)
        self.holder = EditPipelineHolder(config, memory=memory_probe)

    @classmethod
    def from_settings(cls) -> LocalEditBackend:
        config = edit_config()
        import_stack()
        return cls(config)

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
        progress = _Progress(on_progress)
        slot = devices.slot_for(self.device())
        with slot.job(
            keepalive=progress.keepalive,
            should_cancel=should_cancel,
            interval=self.config.keepalive_seconds,
        ):
            pipe = self._pipeline_for(plan, progress, should_cancel)
            job_memory = self._edit_memory_plan(request, len(sources))
            if should_cancel():
                raise Canceled()
            pipe = self.holder.pipeline_for(pipe, plan.pipeline)
            pictures = self._edit(
                pipe, plan, request, sources, mask, job_memory, progress, should_cancel
            )
        size = (request.width, request.height)
        results = []
        for picture, seed in zip(pictures, request.seeds, strict=True):
            if picture.size != size:  # the inpaint pipeline works at ~1 MP of the source
                picture = picture.resize(size, Image.Resampling.LANCZOS)
            results.append(GeneratedImage(data=_png(picture), seed=seed))
        on_progress(1.0)
        return results

    def _edit_memory_plan(self, request: GenerationRequest, sources: int) -> memory.JobMemory:
        """The text-to-image estimate with the sources' tokens counted: the transformer's
        sequence is the output's plus about 1 MP of each source."""
        pixels = request.width * request.height
        factor = (pixels + sources * SOURCE_WORKING_PIXELS) / pixels
        config = dataclasses.replace(
            self.config,
            denoise_bytes_per_pixel=int(self.config.denoise_bytes_per_pixel * factor),
        )
        return self._memory_plan(request, config=config)

    def _edit(
        self, pipe, plan: EditPlan, request, sources, mask, job_memory, progress, should_cancel
    ):
        torch, _ = import_stack()
        self._activate(pipe, plan)  # Lightning on or off (the inpaint pipeline shares it)

        def on_step_end(pipeline, step: int, _timestep, _tensors) -> dict:
            total = getattr(pipeline, "num_timesteps", None) or plan.num_inference_steps
            progress((step + 1) / (total + 1))
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
        if job_memory.tiled:
            pipe.vae.enable_tiling()
        started = time.monotonic()
        failure: BaseException | None = None
        output = None
        try:
            output = pipe(**arguments)
        except _StopRequested:
            failure = Canceled()
        except BaseException as error:
            if not devices.is_out_of_memory(torch, error):
                _free_hooks(pipe)
                raise
            failure = devices.out_of_memory(
                f"Out of GPU memory editing at {request.width}×{request.height} with "
                f"{len(sources)} source image(s) and {len(request.seeds)} result(s) (about "
                f"{job_memory.peak / 2**30:.1f} GiB was expected to be enough): try a smaller "
                "size, fewer references or fewer images."
            )
        finally:
            pipe.vae.disable_tiling()
        if failure is not None:
            # Outside the handler, so the traceback's tensors are gone before the cache empties.
            _free_hooks(pipe)
            output = None
            devices.release_memory(torch, self.holder.report.device)
            raise failure
        logger.info(
            "local edit (%s) made %d image(s) %dx%d from %d source(s) in %d steps on %s in %.2fs",
            plan.pipeline,
            len(request.seeds),
            request.width,
            request.height,
            len(sources),
            plan.num_inference_steps,
            self.holder.report.description,
            time.monotonic() - started,
        )
        return output.images
