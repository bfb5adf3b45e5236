"""GPU benchmark: images/s through the portal's local backend vs the bare diffusers pipeline.

Both sides use the same loaded QwenImagePipeline and the same parameters (prompt, size, steps,
true_cfg_scale, negative prompt, one seeded generator per image), so the ratio is the cost of
what the backend adds: the lock, the step callback (progress and cancel checks) and the PNG
encoding of each image.

    CUDA_VISIBLE_DEVICES=0 QWEN_IMAGE_LOCAL_MODEL=Qwen/Qwen-Image python -m bench.gpu
    python -m bench.gpu --model DIR --size 512x512 --steps 20 --n 2 --runs 3

Without a CUDA device it says so and exits; `--allow-cpu` runs it on the CPU anyway (useful
only as a smoke test with a tiny model).
"""

import argparse
import os
import sys
import time


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench.gpu", description=__doc__.split("\n")[0])
    parser.add_argument("--model", help="model folder or hub id (default QWEN_IMAGE_LOCAL_MODEL)")
    parser.add_argument("--size", default="1024x1024", help="WIDTHxHEIGHT, multiples of 16")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--guidance", type=float, default=4.0, help="true_cfg_scale")
    parser.add_argument("--acceleration", default="none", choices=["none", "regular", "high"])
    parser.add_argument("--n", type=int, default=1, help="images per call")
    parser.add_argument("--runs", type=int, default=3, help="timed calls per side")
    parser.add_argument("--allow-cpu", action="store_true", help="run without CUDA (smoke test)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    args = _parse(argv)
    try:
        import torch
    except ImportError:
        print("bench.gpu: torch is not installed (pip install -e '.[local]'); skipped.")
        return 0
    if not torch.cuda.is_available() and not args.allow_cpu:
        print("bench.gpu: no CUDA device on this machine; skipped (--allow-cpu to smoke-test).")
        return 0

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.conf import settings

    from generation.backends import GenerationRequest
    from generation.backends.local import LocalBackend, plan_for

    if args.model:
        settings.QWEN_IMAGE_LOCAL_MODEL = args.model
    if not settings.QWEN_IMAGE_LOCAL_MODEL:
        settings.QWEN_IMAGE_LOCAL_MODEL = "Qwen/Qwen-Image"
    backend = LocalBackend.from_settings()
    width, height = (int(side) for side in args.size.lower().split("x"))
    seeds = list(range(1000, 1000 + args.n))
    request = GenerationRequest(
        model="qwen-image",
        prompt="A lighthouse on a cliff at dusk, waves below, warm light in the windows",
        negative_prompt=" ",
        width=width,
        height=height,
        num_inference_steps=args.steps,
        guidance_scale=args.guidance,
        acceleration=args.acceleration,
        enable_safety_checker=False,
        seeds=seeds,
    )
    started = time.perf_counter()
    pipe = backend.pipeline()
    print(
        f"loaded {settings.QWEN_IMAGE_LOCAL_MODEL} on {pipe.device} "
        f"in {time.perf_counter() - started:.1f}s"
    )
    plan = plan_for(request, backend.config)

    def portal():
        images = backend.generate(request, on_progress=lambda f: None, should_cancel=lambda: False)
        assert len(images) == args.n

    def bare():
        # The same pipeline state the backend would set up (adapter and scheduler), then a
        # plain call, as a diffusers user would write it.
        backend._activate(pipe, plan)
        generators = [torch.Generator(device="cpu").manual_seed(seed) for seed in seeds]
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

    def timed(call) -> float:
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        begin = time.perf_counter()
        call()
        if torch.cuda.is_available():
            torch.cuda.synchronize()
        return time.perf_counter() - begin

    print(
        f"{width}x{height}, {plan.num_inference_steps} steps, true_cfg_scale "
        f"{plan.true_cfg_scale}, {args.n} image(s) per call, {args.runs} timed calls per side"
    )
    timed(portal)  # warm-up: kernels, allocator, LoRA switch
    timed(bare)
    totals = {"portal": 0.0, "bare": 0.0}
    for _ in range(args.runs):  # interleaved, so drift (clocks, heat) hits both sides alike
        totals["portal"] += timed(portal)
        totals["bare"] += timed(bare)
    rates = {side: args.n * args.runs / seconds for side, seconds in totals.items()}
    print(f"portal backend : {rates['portal']:.4f} images/s")
    print(f"bare pipeline  : {rates['bare']:.4f} images/s")
    print(f"ratio portal/bare: {rates['portal'] / rates['bare']:.3f}")
    if torch.cuda.is_available():
        print(f"peak GPU memory: {torch.cuda.max_memory_allocated() / 2**30:.1f} GiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
