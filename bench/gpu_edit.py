"""GPU benchmark, edit row: images/s through the portal's local edit backend vs the bare
QwenImageEditPlusPipeline.

Both sides use the same loaded pipeline, sources, seeds and parameters (true_cfg_scale,
negative prompt " ", steps; Lightning when --acceleration asks and the weights are set), so
the ratio is the cost of what the backend adds: the device slot, the step callback (progress
and cancel checks), decoding the stored sources and encoding each PNG.

    CUDA_VISIBLE_DEVICES=0 QWEN_IMAGE_LOCAL_EDIT_MODEL=Qwen/Qwen-Image-Edit-2511 \\
        python -m bench.gpu_edit --size 1024x1024 --steps 40 --references 1

Without a CUDA device it says so and exits; `--allow-cpu` runs it on the CPU anyway (a smoke
test with a tiny model only). `python -m bench.gpu --edit [options]` runs it as bench.gpu's
edit row.
"""

import argparse
import io
import os
import sys
import time


def _parse(argv):
    parser = argparse.ArgumentParser(
        prog="python -m bench.gpu_edit", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", help="edit model folder or hub id (QWEN_IMAGE_LOCAL_EDIT_MODEL)")
    parser.add_argument("--size", default="1024x1024", help="WIDTHxHEIGHT, multiples of 16")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--guidance", type=float, default=4.0, help="true_cfg_scale")
    parser.add_argument("--acceleration", default="none", choices=["none", "regular", "high"])
    parser.add_argument("--references", type=int, default=0, help="extra source images (0-2)")
    parser.add_argument("--n", type=int, default=1, help="images per call")
    parser.add_argument("--runs", type=int, default=3, help="timed calls per side")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA (smoke test)")
    return parser.parse_args(argv)


def _timed(torch, call) -> float:
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    begin = time.perf_counter()
    call()
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - begin


def main(argv=None) -> int:
    args = _parse(argv)
    try:
        import torch
    except ImportError:
        print("bench.gpu_edit: torch is not installed (pip install -e '.[local]'); skipped.")
        return 0
    if not torch.cuda.is_available() and not args.allow_cpu:
        print(
            "bench.gpu_edit: no CUDA device on this machine; skipped (--allow-cpu to smoke-test)."
        )
        return 0
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from generation.backends import EditRequest, GenerationRequest
    from generation.backends.demo import draw
    from generation.backends.local_edit import LocalEditBackend, edit_plan_for

    if args.model:
        settings.QWEN_IMAGE_LOCAL_EDIT_MODEL = args.model
    if not settings.QWEN_IMAGE_LOCAL_EDIT_MODEL:
        settings.QWEN_IMAGE_LOCAL_EDIT_MODEL = "Qwen/Qwen-Image-Edit-2511"
    backend = LocalEditBackend.from_settings()
    width, height = (int(side) for side in args.size.lower().split("x"))
    pictures = [draw(f"source {i}", 7 + i, width, height) for i in range(1 + args.references)]
    encoded = []
    for picture in pictures:
        buffer = io.BytesIO()
        picture.save(buffer, "PNG")
        encoded.append(buffer.getvalue())
    seeds = list(range(1000, 1000 + args.n))
    request = GenerationRequest(
        model="qwen-image-edit-plus",
        prompt="Turn the scene into a snowy winter evening; keep the composition",
        negative_prompt=" ",
        width=width,
        height=height,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        acceleration=args.acceleration,
        enable_safety_checker=False,
        seeds=seeds,
        edit=EditRequest(images=encoded),
    )
    started = time.perf_counter()
    pipe = backend.pipeline()
    print(f"loaded {backend.config.model} on {pipe.device} in {time.perf_counter() - started:.1f}s")
    plan = edit_plan_for(request, backend.config)

    def portal():
        images = backend.generate(request, on_progress=lambda f: None, should_cancel=lambda: False)
        assert len(images) == args.n

    def bare():
        backend._activate(pipe, plan)  # the same adapter and scheduler state, then a plain call
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
        images = pipe(
            image=[picture.convert("RGB") for picture in pictures],
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
        f"edit {width}x{height} from {len(pictures)} source(s), {plan.num_inference_steps} "
        f"steps, true_cfg_scale {plan.true_cfg_scale}, {args.n} image(s) per call, "
        f"{args.runs} timed calls per side"
    )
    _timed(torch, portal)  # warm-up: kernels, allocator, LoRA switch
    _timed(torch, bare)
    totals = {"portal": 0.0, "bare": 0.0}
    for _ in range(args.runs):  # interleaved, so drift hits both sides alike
        totals["portal"] += _timed(torch, portal)
        totals["bare"] += _timed(torch, bare)
    rates = {side: args.n * args.runs / seconds for side, seconds in totals.items()}
    print(f"portal edit backend : {rates['portal']:.4f} images/s")
    print(f"bare edit pipeline  : {rates['bare']:.4f} images/s")
    print(f"ratio portal/bare: {rates['portal'] / rates['bare']:.3f}")
    if torch.cuda.is_available():
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
