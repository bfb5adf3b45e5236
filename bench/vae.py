"""VAE decode memory on the CPU with Qwen-Image's real VAE configuration (random weights).

Each configuration runs in a fresh process: the VAE is built (AutoencoderKLQwenImage's default
configuration, which is Qwen-Image's: 127 M parameters), warmed up on a tiny latent, then the
peak resident memory (VmHWM, reset first) is read around one decode. That peak above the
process's size before the decode is the decode's working memory. Rows: the decode as the
pipeline does it (the whole batch at once), with slicing (one image at a time, what the local
backend does), and tiled; next to each, the backend's estimate (generation/backends/local/
memory.py), which a GPU run of `python -m bench.gpu` checks on the real allocator.

    python -m bench.vae                         # the default rows (~5 minutes on one core)
    python -m bench.vae --rows 128x128x1:plain,128x128x2:plain,128x128x2:slice
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time

DEFAULT_ROWS = (
    "128x128x1:plain,192x192x1:plain,256x256x1:plain,320x320x1:plain,384x384x1:plain,"
    "128x128x2:plain,128x128x2:slice,256x256x2:slice,256x256x4:slice,"
    "384x384x1:tile,512x512x1:tile"
)


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.vae", description=__doc__.split("\n")[0])
    parser.add_argument("--rows", default=DEFAULT_ROWS, help="WxHxN:plain|slice|tile, …")
    parser.add_argument("--dtype", default="bfloat16", choices=["bfloat16", "float32"])
    parser.add_argument("--json", help="also write the rows to this file")
    parser.add_argument(
        "--one", nargs=5, metavar=("W", "H", "N", "MODE", "DTYPE"), help=argparse.SUPPRESS
    )
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    if args.one:
        import torch

        torch.set_num_threads(1)  # the same on any machine, and kind to a shared one
        print(json.dumps(_measure(*args.one)))
        return 0
    rows = []
    for item in filter(None, args.rows.split(",")):
        size, mode = item.split(":")
        width, height, n = (int(part) for part in size.split("x"))
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.vae",
                "--one",
                str(width),
                str(height),
                str(n),
                mode,
                args.dtype,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        row = json.loads(done.stdout.strip().splitlines()[-1])
        row["estimate_mib"] = _estimate(width, height, n, mode, args.dtype)
        rows.append(row)
        print(_line(row), flush=True)
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(rows, handle, indent=2)
    return 0


def _measure(width, height, n, mode, dtype) -> dict:
    import torch
    from diffusers import AutoencoderKLQwenImage

    width, height, n = int(width), int(height), int(n)
    torch.manual_seed(0)
    vae = AutoencoderKLQwenImage().to(getattr(torch, dtype)).eval()
    vae.use_slicing = mode in ("slice", "tile")
    vae.use_tiling = mode == "tile"
    latents = torch.randn(n, vae.config.z_dim, 1, height // 8, width // 8, dtype=vae.dtype)
    with torch.no_grad():
        vae.decode(torch.randn(1, vae.config.z_dim, 1, 4, 4, dtype=vae.dtype))  # warm-up
        _reset_peak()
        before = _status_kb("VmRSS")
        started = time.perf_counter()
        out = vae.decode(latents).sample
        seconds = time.perf_counter() - started
        peak = _status_kb("VmHWM")
    assert out.shape[0] == n
    return {
        "width": width,
        "height": height,
        "n": n,
        "mode": mode,
        "dtype": dtype,
        "peak_mib": round((peak - before) / 1024, 1),
        "per_pixel_kib": round(
            (peak - before) / (width * height * (1 if mode != "plain" else n)), 2
        ),
        "seconds": round(seconds, 2),
    }


def _estimate(width, height, n, mode, dtype) -> float:
    """The local backend's decode estimate for this row, MiB (plain: n decodes at once)."""
    from generation.backends.local import memory

    class Config:
        denoise_bytes_per_pixel = 0

    size = 2 if dtype == "bfloat16" else 4
    job = memory.estimate(width, height, 1, tiled=mode == "tile", dtype_size=size, config=Config)
    return round(job.decode * (n if mode == "plain" else 1) / 2**20, 1)


def _line(row) -> str:
    return (
        f"{row['n']} x {row['width']}x{row['height']:<4} {row['mode']:<5} {row['dtype']}: "
        f"peak {row['peak_mib']:7.1f} MiB ({row['per_pixel_kib']} KiB/px), "
        f"estimate {row['estimate_mib']:7.1f} MiB, {row['seconds']} s"
    )


def _reset_peak() -> None:
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")


def _status_kb(field: str) -> int:
    with open("/proc/self/status") as handle:
        for line in handle:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{field} not in /proc/self/status")


if __name__ == "__main__":
    sys.exit(main())
