"""How much device memory a job needs beyond the weights, and whether the VAE decodes in tiles.

A job's working memory peaks twice: in the denoising loop (the transformer's activations,
growing with n × pixels) and in the VAE decode afterwards. The backend decodes one image at a
time (VAE slicing, in its own loop), so the decode never grows with n; above a pixel threshold,
or where an untiled decode would not fit, it decodes in 256-pixel tiles, which bounds it by a
constant. The figures below are per pixel in bfloat16 (float32 doubles them):

- DECODE_BYTES_PER_PIXEL: the real VAE configuration (AutoencoderKLQwenImage's defaults, which
  are Qwen-Image's), random weights, measured on CPU by `python -m bench.vae`: 5.0 to 5.8 KiB
  per pixel from 128² to 384²; ×n without slicing, flat with it (4 images at 256²: 380 MiB,
  one: 366); tiled, 365 MiB at 384² and 431 MiB at 512² (untiled: 780 MiB and ~1.45 GiB),
  about one 256² tile plus a little.
- DENOISE_BYTES_PER_PIXEL (the setting QWEN_IMAGE_LOCAL_DENOISE_BYTES_PER_PIXEL, default 512):
  an estimate from the transformer's shapes (a 3072-wide stream, a 12288-wide MLP, about ten
  live copies of one token's hidden state at the peak: ~64 KB per 16×16-pixel token, doubled
  for safety). Only a GPU measures it: `python -m bench.gpu` prints the peak per pixel.

The job is refused before any work when its estimate exceeds what the device has, with the
largest size and the most images that would fit.
"""

from __future__ import annotations

from dataclasses import dataclass

from generation.backends.base import BackendError
from generation.backends.local.device import gib

DECODE_BYTES_PER_PIXEL = int(5.8 * 1024)
TILE_SIDE = 256  # AutoencoderKLQwenImage's tile_sample_min_height/width
TILED_DECODE_BYTES = DECODE_BYTES_PER_PIXEL * TILE_SIDE * TILE_SIDE
# Tiled, the peak still grows a little with the image (the decoded tiles kept for blending,
# the allocator): 365-380 MiB at 384², 431-438 MiB at 512² on CPU (two runs), ≤ 0.6 KiB per
# extra pixel.
TILED_BYTES_PER_PIXEL = 512
MULTIPLE = 16


@dataclass(frozen=True)
class JobMemory:
    denoise: int
    decode: int
    tiled: bool

    @property
    def peak(self) -> int:
        # The latents between the two phases are small (16 channels at 1/8 of each side).
        return max(self.denoise, self.decode)


def estimate(width: int, height: int, n: int, *, tiled: bool, dtype_size: int, config) -> JobMemory:
    pixels = width * height
    scale = dtype_size / 2
    denoise = int(pixels * n * config.denoise_bytes_per_pixel * scale)
    decode = int(pixels * DECODE_BYTES_PER_PIXEL * scale)
    if tiled:  # an image no larger than a tile decodes in one pass all the same
        decode = min(decode, int((TILED_DECODE_BYTES + pixels * TILED_BYTES_PER_PIXEL) * scale))
    return JobMemory(denoise=denoise, decode=decode, tiled=tiled)


def plan_memory(
    width: int, height: int, n: int, *, free: int, capacity: int, dtype_size: int, config
) -> JobMemory:
    """The job's memory plan: tiled when above the threshold or when untiled would not fit.

    `free`: what the device has now for this job (margin already taken off); `capacity`:
    what it would have with no other process on it. Too big for `capacity` is permanent
    (`out_of_memory`); too big only for `free` is another process's doing (`gpu_busy`,
    retried later).
    """
    untiled = estimate(width, height, n, tiled=False, dtype_size=dtype_size, config=config)
    tiled = width * height > config.vae_tile_pixels or untiled.peak > free
    job = untiled
    if tiled:
        job = estimate(width, height, n, tiled=True, dtype_size=dtype_size, config=config)
    if job.peak <= free:
        return job
    what = f"{n} image{'s' if n != 1 else ''} at {width}×{height}"
    need = f"about {gib(job.peak)} of device memory beyond the model"
    if job.peak > capacity:
        fits = largest_fitting(
            width, height, n, room=capacity, dtype_size=dtype_size, config=config
        )
        raise BackendError(
            f"Too large for this GPU: {what} need {need}, and it has {gib(capacity)} to spare "
            f"at most. {fits}",
            code="out_of_memory",
            retryable=False,
        )
    raise BackendError(
        f"The GPU is busy: {what} need {need}, and only {gib(free)} is free now (other "
        f"processes hold the rest). The job will be tried again.",
        code="gpu_busy",
        retryable=True,
        retry_after=30.0,
    )


def largest_fitting(width: int, height: int, n: int, *, room: int, dtype_size: int, config) -> str:
    """ "The largest that fits: …" for the same aspect ratio, and the most images at this size."""
    options = []
    side_scale = 1.0
    for _ in range(200):
        side_scale *= 0.97
        w = max(MULTIPLE, int(width * side_scale) // MULTIPLE * MULTIPLE)
        h = max(MULTIPLE, int(height * side_scale) // MULTIPLE * MULTIPLE)
        if _fits(w, h, n, room, dtype_size, config):
            options.append(f"{n} image{'s' if n != 1 else ''} at {w}×{h}")
            break
        if w == MULTIPLE and h == MULTIPLE:
            break
    most = 0
    for count in range(n - 1, 0, -1):
        if _fits(width, height, count, room, dtype_size, config):
            most = count
            break
    if most:
        options.append(f"{most} image{'s' if most != 1 else ''} at {width}×{height}")
    if not options:
        return "Nothing this size fits; try a smaller size."
    return "The largest that fits: " + " or ".join(options) + "."


def _fits(width: int, height: int, n: int, room: int, dtype_size: int, config) -> bool:
    untiled = estimate(width, height, n, tiled=False, dtype_size=dtype_size, config=config)
    if width * height <= config.vae_tile_pixels and untiled.peak <= room:
        return True
    return estimate(width, height, n, tiled=True, dtype_size=dtype_size, config=config).peak <= room
