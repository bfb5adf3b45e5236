"""GPU benchmark: the local backend on a real GPU: speed against bare diffusers, and memory.

Two parts, both on one loaded QwenImagePipeline:

1. Speed: images/s through the portal's local backend vs the bare pipeline call with the
   same parameters (prompt, size, steps, true_cfg_scale, negative prompt, one seeded
   generator per image); the ratio is the cost of what the backend adds (the device slot,
   the step callback, the image-by-image decode, PNG encoding).
2. Worst cases (default n=4 at 1664×928 and at 1328², one 2048² image): for each, the
   backend's memory plan (estimate, tiled or not, or its refusal), then the measured peak
   working memory of the denoising loop and of the decode (above the resident weights), and
   the seconds of one job through the backend. The measured peaks per pixel are what
   QWEN_IMAGE_LOCAL_DENOISE_BYTES_PER_PIXEL and memory.DECODE_BYTES_PER_PIXEL estimate: an
   estimate below the measure means refusals come too late (OOM), far above means too early.

    CUDA_VISIBLE_DEVICES=0 QWEN_IMAGE_LOCAL_MODEL=/models/Qwen-Image python -m bench.gpu
    python -m bench.gpu --model DIR --size 1024x1024 --steps 20 --n 2 --runs 3 --json out.json
    python -m bench.gpu --cases 1664x928x4,1328x1328x4 --steps 8 --skip-speed
    python -m bench.gpu --edit --references 1   # the edit row (bench/gpu_edit.py)

Without a CUDA device it says so and exits; `--allow-cpu` runs it on the CPU anyway (a smoke
test with a tiny model: no peak memory there). The GPU machine has no internet: give it a
model folder.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

DEFAULT_CASES = "1664x928x4,1328x1328x4,2048x2048x1"
PROMPT = "A lighthouse on a cliff at dusk, waves below, warm light in the windows"


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model folder or hub id (default QWEN_IMAGE_LOCAL_MODEL)")
    parser.add_argument("--size", default="1024x1024", help="WIDTHxHEIGHT of the speed part")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=4.0, help="true_cfg_scale")
    parser.add_argument("--acceleration", default="none", choices=["none", "regular", "high"])
    parser.add_argument("--n", type=int, default=1, help="images per call in the speed part")
    parser.add_argument("--runs", type=int, default=3, help="timed calls per side")
    parser.add_argument("--cases", default=DEFAULT_CASES, help="WxHxN,… of the memory part")
    parser.add_argument("--skip-speed", action="store_true")
    parser.add_argument("--skip-cases", action="store_true")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA (smoke test)")
    return parser.parse_args(argv)


def _request(width, height, n, steps, guidance, acceleration):
    from generation.backends import GenerationRequest

    return GenerationRequest(
        model="qwen-image",
        prompt=PROMPT,
        negative_prompt=" ",
        width=width,
        height=height,
        num_inference_steps=steps,
        guidance_scale=guidance,
        acceleration=acceleration,
        enable_safety_checker=False,
        seeds=list(range(1000, 1000 + n)),
    )


def _cases(text: str) -> list[tuple[int, int, int]]:
    cases = []
    for item in filter(None, text.split(",")):
        width, height, n = (int(part) for part in item.lower().split("x"))
        cases.append((width, height, n))
    return cases


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["--edit"]:  # the edit row: portal vs bare QwenImageEditPlusPipeline
        from bench import gpu_edit

        return gpu_edit.main(argv[1:])
    args = _parse(argv)
    try:
        import torch
    except ImportError:
        print("bench.gpu: torch is not installed (pip install -e '.[local]'); skipped.")
        return 0
    cuda = torch.cuda.is_available()
    if not cuda and not args.allow_cpu:
        print("bench.gpu: no CUDA device on this machine; skipped (--allow-cpu to smoke-test).")
        return 0

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from generation.backends.local import LocalBackend

    if args.model:
        settings.QWEN_IMAGE_LOCAL_MODEL = args.model
    if not settings.QWEN_IMAGE_LOCAL_MODEL:
        settings.QWEN_IMAGE_LOCAL_MODEL = "Qwen/Qwen-Image"
    if not cuda:
        settings.QWEN_IMAGE_LOCAL_DEVICE = "cpu"
    backend = LocalBackend.from_settings()
    started = time.perf_counter()
    pipe = backend.pipeline()
    report = backend.holder.report
    results = {
        "device": report.description,
        "dtype": str(report.dtype).removeprefix("torch."),
        "model": settings.QWEN_IMAGE_LOCAL_MODEL,
        "load_s": round(time.perf_counter() - started, 1),
        "weights_gib": _gib(torch.cuda.memory_allocated(report.device)) if cuda else None,
        "versions": _versions(),
    }
    print(f"loaded {results['model']} on {results['device']} in {results['load_s']}s")
    if cuda:
        free, total = torch.cuda.mem_get_info(report.device)
        print(
            f"weights {results['weights_gib']} GiB; free after load {_gib(free)} of {_gib(total)}"
        )
    if not args.skip_speed:
        results["speed"] = _speed(torch, backend, pipe, args)
    if not args.skip_cases:
        results["cases"] = [_case(torch, backend, pipe, case, args) for case in _cases(args.cases)]
        _print_cases(results["cases"])
    if args.json:
        with open(args.json, "w") as handle:
            json.dump(results, handle, indent=2)
    return 0


def _speed(torch, backend, pipe, args) -> dict:
    from generation.backends.local import plan_for

    width, height = (int(side) for side in args.size.lower().split("x"))
    request = _request(width, height, args.n, args.steps, args.guidance, args.acceleration)
    plan = plan_for(request, backend.config)

    def portal():
        images = backend.generate(request, on_progress=lambda f: None, should_cancel=lambda: False)
        assert len(images) == args.n

    def bare():
        # The same pipeline state the backend would set up (adapter and scheduler), then a
        # plain call, as a diffusers user would write it.
        backend._activate(pipe, plan)
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in request.seeds]
        images = pipe(
            prompt=plan.prompt,
            negative_prompt=plan.negative_prompt,
            true_cfg_scale=plan.true_cfg_scale,
            width=width,
            height=height,
            num_inference_steps=plan.num_inference_steps,
            num_images_per_prompt=args.n,
            generator=generators,
        ).images
        assert len(images) == args.n

    print(
        f"speed: {width}x{height}, {plan.num_inference_steps} steps, true_cfg_scale "
        f"{plan.true_cfg_scale}, {args.n} image(s) per call, {args.runs} timed calls per side"
    )
    _timed(torch, portal)  # warm-up: kernels, allocator, LoRA switch
    _timed(torch, bare)
    totals = {"portal": 0.0, "bare": 0.0}
    for _ in range(args.runs):  # interleaved, so drift (clocks, heat) hits both sides alike
        totals["portal"] += _timed(torch, portal)
        totals["bare"] += _timed(torch, bare)
    rates = {side: args.n * args.runs / seconds for side, seconds in totals.items()}
    print(f"portal backend : {rates['portal']:.4f} images/s")
    print(f"bare pipeline  : {rates['bare']:.4f} images/s")
    print(f"ratio portal/bare: {rates['portal'] / rates['bare']:.3f}")
    return {
        "size": f"{width}x{height}",
        "n": args.n,
        "steps": plan.num_inference_steps,
        "portal_images_per_s": round(rates["portal"], 4),
        "bare_images_per_s": round(rates["bare"], 4),
        "ratio": round(rates["portal"] / rates["bare"], 3),
    }


def _case(torch, backend, pipe, case, args) -> dict:
    """One worst case: the plan, the measured peaks of both phases, one timed portal job."""
    from generation.backends import BackendError
    from generation.backends.local import plan_for, prompt

    width, height, n = case
    row = {"case": f"{n} x {width}x{height}"}
    request = _request(width, height, n, args.steps, args.guidance, "none")
    try:
        planned = backend._memory_plan(request)
    except BackendError as error:
        row["refused"] = f"{error.code}: {error.message}"
        return row
    row.update(
        estimate_gib=_gib(planned.peak),
        denoise_estimate_gib=_gib(planned.denoise),
        decode_estimate_gib=_gib(planned.decode),
        tiled=planned.tiled,
    )
    cuda = torch.cuda.is_available()
    device = backend.holder.report.device
    plan = plan_for(request, backend.config)
    try:
        # The denoising loop alone (what the backend runs before its decode).
        base = _reset_peak(torch, device) if cuda else 0
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in request.seeds]
        latents = pipe(
            prompt=plan.prompt,
            negative_prompt=plan.negative_prompt,
            true_cfg_scale=plan.true_cfg_scale,
            width=width,
            height=height,
            num_inference_steps=plan.num_inference_steps,
            num_images_per_prompt=n,
            generator=generators,
            output_type="latent",
            max_sequence_length=prompt.MAX_SEQUENCE_LENGTH,
        ).images
        if cuda:
            peak = torch.cuda.max_memory_allocated(device) - base
            row["denoise_peak_gib"] = _gib(peak)
            row["denoise_bytes_per_pixel"] = round(peak / (width * height * n))
            base = _reset_peak(torch, device)
        # The backend's decode, image by image, tiled as planned.
        backend._decode(pipe, latents, request, planned, _Quiet(), lambda: False)
        if cuda:
            peak = torch.cuda.max_memory_allocated(device) - base
            row["decode_peak_gib"] = _gib(peak)
            row["decode_bytes_per_pixel"] = round(peak / (width * height))
        del latents
        # One whole job through the backend, timed.
        row["portal_s"] = round(
            _timed(
                torch,
                lambda: backend.generate(
                    request, on_progress=lambda f: None, should_cancel=lambda: False
                ),
            ),
            2,
        )
    except BackendError as error:
        row["failed"] = f"{error.code}: {error.message}"
    except Exception as error:  # an OOM the estimate missed is a result too
        row["failed"] = f"{type(error).__name__}: {str(error)[:200]}"
    if cuda:
        row["peak_reserved_gib"] = _gib(torch.cuda.max_memory_reserved(device))
        torch.cuda.empty_cache()
    return row


class _Quiet:
    last = 0.0

    def __call__(self, fraction):
        self.last = fraction


def _print_cases(rows) -> None:
    columns = [
        ("case", "case"),
        ("estimate GiB", "estimate_gib"),
        ("tiled", "tiled"),
        ("denoise peak GiB", "denoise_peak_gib"),
        ("B/px denoise", "denoise_bytes_per_pixel"),
        ("decode peak GiB", "decode_peak_gib"),
        ("B/px decode", "decode_bytes_per_pixel"),
        ("job s", "portal_s"),
    ]
    print("| " + " | ".join(name for name, _ in columns) + " |")
    print("|" + "|".join("---" for _ in columns) + "|")
    for row in rows:
        if "refused" in row:
            print(f"| {row['case']} | refused: {row['refused']} |")
            continue
        cells = [str(row.get(key, "n/a")) for _, key in columns]
        print(
            "| "
            + " | ".join(cells)
            + " |"
            + (f" failed: {row['failed']}" if "failed" in row else "")
        )


def _reset_peak(torch, device) -> int:
    torch.cuda.synchronize(device)
    torch.cuda.reset_peak_memory_stats(device)
    return torch.cuda.memory_allocated(device)


def _timed(torch, call) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    begin = time.perf_counter()
    call()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - begin


def _gib(value: int) -> float:
    return round(value / 2**30, 2)


def _versions() -> dict:
    from importlib.metadata import version

    found = {}
    for name in ("torch", "diffusers", "transformers", "accelerate", "peft"):
        try:
            found[name] = version(name)
        except Exception:  # noqa: BLE001 - a missing package is just not listed
            continue
    return found


if __name__ == "__main__":
    sys.exit(main())
