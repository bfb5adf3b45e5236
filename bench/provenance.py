"""Provenance: the time signing adds per stored image (XMP + a C2PA manifest), at 1 MP.

In process, on the real store-step functions: generation.imaging.process (decode, re-encode,
thumbnail: what every image already costs) and generation.provenance.provenance_apply (what
this adds), on a 1024×1024 image with photo-like noise, signed with a throwaway development
certificate. Reports the median and p95 of the added time, the ratio to processing, and the
verify time of GET /v1/images/{id}/provenance.

    python -m bench.provenance [--repeat 30] [--size 1024]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import tempfile
import time

from bench.common import Check, mean, ms, percentile, result_rows, table

TARGET_MS = 20.0


def _photo_like(size: int) -> bytes:
    """A smooth gradient with fine noise: compresses like a photo (not like flat colour)."""
    from PIL import Image

    rng = random.Random(7)
    base = Image.linear_gradient("L").resize((size, size)).convert("RGB")
    noise = Image.frombytes("RGB", (size, size), rng.randbytes(size * size * 3))
    buffer = io.BytesIO()
    Image.blend(base, noise, 0.15).save(buffer, "PNG")
    return buffer.getvalue()


def _setup() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    os.environ.setdefault("QWEN_STUDIO_VAR_DIR", tempfile.mkdtemp(prefix="bench-provenance-"))
    os.environ["PROVENANCE_DIR"] = tempfile.mkdtemp(prefix="bench-provenance-keys-")
    import django

    django.setup()


def run(*, repeat: int = 30, size: int = 1024) -> dict:
    _setup()
    from generation.imaging import process
    from generation.provenance import provenance_apply, provenance_read, signer_reset

    signer_reset()
    data = _photo_like(size)
    parameters = {"model": "qwen-image", "seed": 1, "backend": "demo"}
    process_s, sign_s, verify_s, states = [], [], [], set()
    provenance_apply(png=data, title="warm.png", model="m", backend="b", generation={})  # keys
    for index in range(repeat):
        started = time.perf_counter()
        processed = process(data, parameters=parameters)
        process_s.append(time.perf_counter() - started)
        started = time.perf_counter()
        stamp = provenance_apply(
            png=processed.png,
            title=f"bench-{index}.png",
            model="qwen-image",
            backend="demo",
            generation={**parameters, "index": index},
        )
        sign_s.append(time.perf_counter() - started)
        states.add(stamp.state)
        started = time.perf_counter()
        provenance_read(stamp.png)
        verify_s.append(time.perf_counter() - started)
    added = ms(percentile(sign_s, 50))
    result = {
        "pixels": size * size,
        "png_bytes": len(processed.png),
        "states": sorted(states),
        "process_ms_median": ms(percentile(process_s, 50)),
        "sign_ms_median": added,
        "sign_ms_p95": ms(percentile(sign_s, 95)),
        "sign_ms_mean": ms(mean(sign_s)),
        "verify_ms_median": ms(percentile(verify_s, 50)),
    }
    result["sign_over_process"] = round(result["sign_ms_median"] / result["process_ms_median"], 3)
    result["checks"] = [
        Check("signing ms per 1 MP image (median)", added, TARGET_MS, "<=", " ms").as_dict()
    ]
    result["summary"] = [
        ("signing ms per 1 MP image (median)", added),
        ("signing ms p95", result["sign_ms_p95"]),
        ("processing ms (decode, re-encode, thumbnail)", result["process_ms_median"]),
        ("signing / processing", result["sign_over_process"]),
        ("verify ms (provenance panel/API)", result["verify_ms_median"]),
    ]
    return result


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(prog="python -m bench.provenance", description=__doc__)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args(argv)
    result = run(repeat=args.repeat, size=args.size)
    print(table(result_rows("provenance", result)))
    print(json.dumps({k: v for k, v in result.items() if k != "summary"}, indent=2))
    return result


if __name__ == "__main__":
    main()
