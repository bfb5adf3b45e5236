"""A benchmark agent: one Django process of one code version, driven line by line.

bench.compare starts one agent per version (the base and the change, each in its own exported
tree and site) and sends both the same commands in turn, so the two measure the same thing
side by side, interleaved, under the same load. One JSON object per line in, one out.

    python -m bench.agent    (inside a site's environment: QWEN_STUDIO_VAR_DIR set)
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import traceback


def _setup() -> None:
    if not os.environ.get("QWEN_STUDIO_VAR_DIR"):
        sys.exit("bench.agent runs only inside a benchmark site (QWEN_STUDIO_VAR_DIR unset).")
    import django

    django.setup()


class Agent:
    def __init__(self) -> None:
        self.clients: dict = {}
        self.viewer = None

    # --- Gallery ---------------------------------------------------------------------------

    def populate(self, images: int, users: int, teams: int) -> dict:
        from bench.gallery import populate

        data = populate(images=images, users=users, teams=teams)
        return {"viewer": data["viewer"].username, "key": data["key"], "seconds": data["seconds"]}

    def login(self, viewer: str, key: str) -> dict:
        from django.contrib.auth import get_user_model
        from django.test import Client

        self.viewer = get_user_model().objects.get(username=viewer)
        grid = Client(HTTP_HOST="127.0.0.1")
        grid.force_login(self.viewer)
        api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")
        self.clients = {"grid": (grid, "/gallery/"), "api": (api, "/v1/images")}
        return {}

    def key(self, username: str) -> dict:
        """A new API key for an existing user (nothing else about the user changes)."""
        from django.contrib.auth import get_user_model

        from accounts.keys import api_key_create

        _, secret = api_key_create(user=get_user_model().objects.get(username=username))
        return {"key": secret}

    def statistics(self) -> dict:
        """What the hourly statistics task does (absent in versions without it)."""
        try:
            from core.db import query_statistics_refresh
        except ImportError:
            return {"ran": False}
        started = time.perf_counter()
        return {"ran": query_statistics_refresh(), "seconds": time.perf_counter() - started}

    def cursor(self, scope: str, depth: float, q: str = "") -> dict:
        from bench.gallery import _cursor_at

        cursor, total = _cursor_at(self.viewer, scope, depth, q=q)
        return {"cursor": cursor, "total": total}

    def get(self, page: str, params: dict) -> dict:
        client, path = self.clients[page]
        started = time.perf_counter()
        response = client.get(path, params)
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise RuntimeError(f"GET {path} {params} answered {response.status_code}")
        return {"s": elapsed}

    def queries(self, page: str, params: dict) -> dict:
        """The queries of one request, and the plan of each page query as the database runs it
        (SQLite: EXPLAIN QUERY PLAN with the bound parameters; PostgreSQL: EXPLAIN ANALYZE)."""
        from django.db import connection

        ran = []

        def capture(execute, sql, sql_params, many, context):
            started = time.perf_counter()
            try:
                return execute(sql, sql_params, many, context)
            finally:
                ran.append((sql, sql_params, time.perf_counter() - started))

        client, path = self.clients[page]
        with connection.execute_wrapper(capture):
            client.get(path, params)
        plans = []
        with connection.cursor() as cursor:
            for sql, sql_params, _ in ran:
                if "generation_image" not in sql or "LIMIT" not in sql:
                    continue
                if connection.vendor == "postgresql":
                    cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, sql_params)
                else:
                    cursor.execute("EXPLAIN QUERY PLAN " + sql, sql_params)
                plans.append("\n".join(str(row[-1]) for row in cursor.fetchall()))
        return {
            "count": len(ran),
            "sql_ms": round(sum(seconds for *_, seconds in ran) * 1000, 2),
            "slowest_ms": round(max((seconds for *_, seconds in ran), default=0) * 1000, 2),
            "plans": plans,
        }

    # --- Worker CPU per image ----------------------------------------------------------------

    def worker(self, sizes: list[list[int]], count: int) -> dict:
        """CPU (this thread) per image of what the runner does to each: process (decode,
        verify, PNG, thumbnail, hashes) and the safety check; photographic test PNGs."""
        from generation import imaging, safety

        pngs = [_photo_png(w, h, seed) for seed, (w, h) in enumerate(sizes)]
        checker = safety.get_safety_checker()
        imaging.process(pngs[0], parameters={})  # warm: the classifier loads on first use
        phases = {"process": 0.0, "safety": 0.0}
        for index in range(count):
            data = pngs[index % len(pngs)]
            started = time.thread_time()
            processed = imaging.process(data, parameters={"prompt": "bench", "seed": index})
            middle = time.thread_time()
            preview = getattr(processed, "preview", None)
            if preview is not None:
                checker.check(processed.pil, provider_nsfw=None, preview=preview)
            else:
                checker.check(processed.pil, provider_nsfw=None)
            phases["process"] += middle - started
            phases["safety"] += time.thread_time() - middle
        return {name: seconds / count for name, seconds in phases.items()}


def _photo_png(width: int, height: int, seed: int) -> bytes:
    """A PNG that compresses like a photograph (the fake endpoint's drawing, blended with
    smooth noise), as a provider would send it (zlib level 6)."""
    import numpy as np
    from PIL import Image, ImageFilter

    from tests.fakes.endpoint import render_png

    rng = np.random.default_rng(seed)
    drawing = Image.open(io.BytesIO(render_png("a lighthouse at dusk", seed, width, height)))
    noise = rng.integers(0, 255, (height // 4, width // 4, 3), dtype=np.uint8)
    texture = Image.fromarray(noise).resize((width, height), Image.Resampling.BICUBIC)
    photo = Image.blend(drawing.convert("RGB"), texture.filter(ImageFilter.GaussianBlur(2)), 0.35)
    buffer = io.BytesIO()
    photo.save(buffer, "PNG", compress_level=6)
    return buffer.getvalue()


def main() -> None:
    _setup()
    agent = Agent()
    print(json.dumps({"ready": True}), flush=True)
    for line in sys.stdin:
        request = json.loads(line)
        try:
            answer = {"ok": getattr(agent, request.pop("cmd"))(**request)}
        except Exception as exc:  # reported to the driver, which stops the benchmark
            answer = {"error": f"{type(exc).__name__}: {exc}", "trace": traceback.format_exc()}
        print(json.dumps(answer, default=str), flush=True)


if __name__ == "__main__":
    main()
