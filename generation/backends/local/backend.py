"""LocalBackend: one job at a time on this process's device, from request to PIL images.

The order of a job: the device slot (waiting with keepalives), the Lightning check for an
accelerated job, the pipeline (loaded on first use), the prompt's length in tokens, the
memory estimate (refused before any work when it cannot fit), the denoising loop with
progress and cancel per step, then the VAE decode image by image (tiled when planned, or
when an untiled decode runs out of memory). Without `on_image` PNG encoding happens outside
the slot; with it each image is encoded and handed over as soon as it is decoded (the pages
show it while the next one decodes; the GPU consumer runs one job at a time either way).
"""

from __future__ import annotations

import contextlib
import io
import logging
import time
from collections.abc import Callable

from generation.backends.base import (
    BackendError,
    CancelCheck,
    Canceled,
    GeneratedImage,
    GenerationRequest,
    ImageCallback,
    ProgressCallback,
)
from generation.backends.local import device as devices
from generation.backends.local import memory, prompt
from generation.backends.local.config import LocalConfig, lightning_file
from generation.backends.local.loading import PipelineHolder, import_stack
from generation.backends.local.plan import SIDE_MULTIPLE, Plan, plan_for

logger = logging.getLogger(__name__)


class _StopRequested(Exception):
    """Raised from the step callback: leaves the loop before the VAE decodes a half image."""


class _Progress:
    """The job's progress callback, plus a keepalive that repeats the last value (which renews
    the job's lease) while the job waits for the device or the model."""

    def __init__(self, report: ProgressCallback) -> None:
        self.report = report
        self.last = 0.0

    def __call__(self, fraction: float) -> None:
        self.last = fraction
        self.report(fraction)

    def keepalive(self) -> None:
        self.report(self.last)


class LocalBackend:
    name = "local"

    def __init__(self, config: LocalConfig, *, memory_probe: Callable | None = None) -> None:
        self.config = config
        self.holder = PipelineHolder(config, memory=memory_probe)
        self._device = None

    @classmethod
    def from_settings(cls) -> LocalBackend:
        config = LocalConfig.from_settings()
        import_stack()
        return cls(config)

    # --- Generation -------------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
        on_image: ImageCallback | None = None,
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
        progress = _Progress(on_progress)
        slot = devices.slot_for(self.device())
        with slot.job(
            keepalive=progress.keepalive,
            should_cancel=should_cancel,
            interval=self.config.keepalive_seconds,
        ):
            pipe = self._pipeline_for(plan, progress, should_cancel)
            prompt.check_plan(pipe, plan)
            job_memory = self._memory_plan(request)
            if should_cancel():
                raise Canceled()
            delivered: dict[int, GeneratedImage] = {}

            def hand_over(index: int, picture) -> None:
                delivered[index] = GeneratedImage(data=_png(picture), seed=request.seeds[index])
                on_image(index, delivered[index])

            pictures = self._run(
                pipe,
                plan,
                request,
                job_memory,
                progress,
                should_cancel,
                on_picture=hand_over if on_image is not None else None,
            )
        # Without on_image, encoding happens outside the slot so the next job can start.
        results = [
            delivered.get(index) or GeneratedImage(data=_png(picture), seed=seed)
            for index, (picture, seed) in enumerate(zip(pictures, request.seeds, strict=True))
        ]
        on_progress(1.0)
        return results

    def device(self):
        """The device this backend runs on (resolved once; not_configured when unusable)."""
        if self._device is None:
            torch, _ = import_stack()
            self._device = devices.resolve_device(torch, self.config)
        return self._device

    def _memory_plan(
        self, request: GenerationRequest, *, config: LocalConfig | None = None
    ) -> memory.JobMemory:
        """The job's memory plan (local_edit passes a config whose per-pixel figure counts its
        sources' tokens)."""
        config = config or self.config
        torch, _ = import_stack()
        report = self.holder.report
        now = self.holder.memory(torch, report.device)
        margin = config.memory_margin_bytes
        resident = now.in_use or report.weight_bytes
        if config.cpu_offload and report.device.type == "cuda":
            # Offloaded: the transformer comes onto the GPU for the denoising loop.
            resident = report.weight_bytes * 3 // 4
            now = devices.DeviceMemory(free=now.free - resident, total=now.total, in_use=resident)
        return memory.plan_memory(
            request.width,
            request.height,
            len(request.seeds),
            free=now.free - margin,
            capacity=now.total - resident - margin,
            dtype_size=devices.dtype_size(report.dtype),
            config=config,
        )

    def _run(
        self,
        pipe,
        plan: Plan,
        request: GenerationRequest,
        job_memory: memory.JobMemory,
        progress: _Progress,
        should_cancel: CancelCheck,
        on_picture: Callable[[int, object], None] | None = None,
    ):
        torch, _ = import_stack()
        self._activate(pipe, plan)
        total = plan.num_inference_steps
        done = []

        def on_step_end(_pipe, step: int, _timestep, _tensors) -> dict:
            # The last share of the bar is the VAE decode and PNG encoding.
            done.append(step)
            progress((step + 1) / (total + 1))
            if should_cancel():
                raise _StopRequested()
            return {}

        # One CPU generator per image: image i depends only on seeds[i], the same on any device.
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in request.seeds]
        started = time.monotonic()
        failure: BaseException | None = None
        latents = None
        try:
            latents = pipe(
                prompt=plan.prompt,
                negative_prompt=plan.negative_prompt,
                true_cfg_scale=plan.true_cfg_scale,
                width=request.width,
                height=request.height,
                num_inference_steps=total,
                num_images_per_prompt=len(request.seeds),
                generator=generators,
                callback_on_step_end=on_step_end,
                output_type="latent",
                max_sequence_length=prompt.MAX_SEQUENCE_LENGTH,
            ).images
        except _StopRequested:
            failure = Canceled()
        except BaseException as error:
            if not devices.is_out_of_memory(torch, error):
                _free_hooks(pipe)
                raise
            failure = devices.out_of_memory(
                f"Out of GPU memory at {request.width}×{request.height} with "
                f"{len(request.seeds)} image(s), after {len(done)} of {total} steps (about "
                f"{job_memory.peak / 2**30:.1f} GiB was expected to be enough): try a smaller "
                "size or fewer images."
            )
        if failure is not None:
            # Outside the handler, so the traceback's tensors are gone before the cache empties.
            _free_hooks(pipe)
            latents = None
            devices.release_memory(torch, self.holder.report.device)
            raise failure
        try:
            pictures = self._decode(
                pipe, latents, request, job_memory, progress, should_cancel, on_picture
            )
        finally:
            latents = None
            _free_hooks(pipe)
        logger.info(
            "local backend generated %d image(s) %dx%d in %d steps on %s in %.2fs%s",
            len(request.seeds),
            request.width,
            request.height,
            total,
            self.holder.report.description,
            time.monotonic() - started,
            " (tiled decode)" if job_memory.tiled else "",
        )
        return pictures

    def _decode(self, pipe, latents, request, job_memory, progress, should_cancel, on_picture=None):
        """The VAE decode, one image at a time (its memory never grows with n); each picture
        goes to `on_picture(index, picture)` as soon as it is decoded."""
        torch, _ = import_stack()
        vae = pipe.vae
        latents = pipe._unpack_latents(
            latents, request.height, request.width, pipe.vae_scale_factor
        )
        latents = latents.to(vae.dtype)
        shape = (1, vae.config.z_dim, 1, 1, 1)
        mean = torch.tensor(vae.config.latents_mean).view(shape).to(latents.device, latents.dtype)
        inverse = 1.0 / torch.tensor(vae.config.latents_std).view(shape)
        latents = latents / inverse.to(latents.device, latents.dtype) + mean  # as the pipeline
        count = latents.shape[0]
        done = progress.last
        pictures = []
        for index in range(count):
            pictures.append(self._decode_one(torch, pipe, latents[index : index + 1], job_memory))
            if on_picture is not None:
                on_picture(index, pictures[-1])
            if index < count - 1:
                progress(done + (1 - done) * (index + 1) / count)
                if should_cancel():
                    raise Canceled()
        return pictures

    def _decode_one(self, torch, pipe, latent, job_memory: memory.JobMemory):
        tiled = job_memory.tiled
        while True:
            pipe.vae.use_tiling = tiled
            out_of_memory = False
            try:
                with torch.no_grad():
                    frame = pipe.vae.decode(latent, return_dict=False)[0][:, :, 0]
                return pipe.image_processor.postprocess(frame, output_type="pil")[0]
            except BaseException as error:
                if not devices.is_out_of_memory(torch, error):
                    raise
                out_of_memory = True
            finally:
                pipe.vae.use_tiling = False
            if out_of_memory:
                devices.release_memory(torch, self.holder.report.device)
                if tiled:
                    raise devices.out_of_memory(
                        "Out of GPU memory decoding the image even in tiles: try a smaller size."
                    )
                logger.warning("VAE decode ran out of memory untiled: decoding in tiles")
                tiled = True

    def _pipeline_for(self, plan, progress, should_cancel):
        """Inside the device slot: the loaded pipeline for this plan (loading it if needed),
        or the reason it cannot run (canceled, a missing or failed Lightning adapter)."""
        if should_cancel():
            raise Canceled()
        if plan.adapter:  # a mistyped path fails the job now, before a 58 GB load
            lightning_file(plan.adapter, self.config.lightning_locations()[plan.adapter])
        fresh = self.holder.loaded is None
        pipe = self.holder.get(keepalive=progress.keepalive, should_cancel=should_cancel)
        if fresh:
            progress(0.0)  # the load took minutes: renew the lease now
        if plan.adapter and plan.adapter in self.holder.lightning_errors:
            raise self.holder.lightning_errors[plan.adapter]
        return pipe

    def _activate(self, pipe, plan: Plan) -> None:
        """Switch Lightning on or off for this job: adapter and matching scheduler."""
        schedulers = self.holder.schedulers
        if "lightning" not in schedulers:
            return
        if plan.adapter:
            pipe.enable_lora()
            pipe.set_adapters([plan.adapter])
            pipe.scheduler = schedulers["lightning"]
        else:
            pipe.disable_lora()
            pipe.scheduler = schedulers["default"]

    # --- Loading ----------------------------------------------------------------------------

    def pipeline(self):
        """The loaded pipeline, loading it on first use in this process (no job needed)."""
        if self.holder.loaded is not None:
            return self.holder.loaded
        with devices.slot_for(self.device()).lock:
            return self.holder.get(keepalive=lambda: None, should_cancel=lambda: False)

    def close(self) -> None:
        self.holder.unload()


def _free_hooks(pipe) -> None:
    # Offloaded models go back to the CPU even when the loop stopped early.
    with contextlib.suppress(Exception):
        pipe.maybe_free_model_hooks()


def _png(picture) -> bytes:
    # The service decodes, verifies and re-encodes every image: favour speed here.
    buffer = io.BytesIO()
    picture.save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()
