"""bench.compare's mixed load: 50 simulated users browse, search, submit and poll against
both versions of the portal on the gallery's sites."""

from __future__ import annotations

import asyncio
import json
import shutil
import time
from pathlib import Path

import httpx

from bench.common import (
    CHILDREN,
    ms,
    percentile,
    sqlite_copy,
)

# --- Mixed load: browse, search, submit and poll from 50 users ---------------------------------

WORDS = ("lighthouse", "fox", "owl", "harbor", "zeppelin", "castle watercolor", "robot neon")


async def _mixed_user(url: str, key: str, deadline: float, seed: int, record) -> None:
    """One user: browses pages of a scope (and follows the cursor), searches, submits, polls
    the job it submitted; 0.2-1 s between actions."""
    import random

    rng = random.Random(seed)
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    headers = {"Authorization": f"Bearer {key}"}
    job_id, cursor = None, None
    async with httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits) as c:
        while time.perf_counter() < deadline:
            roll = rng.random()
            if roll < 0.45:
                kind, params = "browse", {"scope": rng.choice(("mine", "team", "public"))}
                if cursor and rng.random() < 0.5:
                    params["cursor"] = cursor
                request = c.get("/v1/images", params=params)
            elif roll < 0.60:
                kind = "search"
                params = {"scope": rng.choice(("team", "public")), "q": rng.choice(WORDS)}
                request = c.get("/v1/images", params=params)
            elif roll < 0.70 or job_id is None:
                kind = "submit"
                body = {"prompt": f"{rng.choice(WORDS)} at dusk", "size": "landscape_4_3"}
                request = c.post("/v1/jobs", json=body)
            else:
                kind, request = "poll", c.get(f"/v1/jobs/{job_id}")
            started = time.perf_counter()
            try:
                response = await request
                ok = response.status_code in (200, 202)
                if ok and kind == "submit":
                    job_id = response.json()["id"]
                if ok and kind == "browse":
                    cursor = response.json().get("next_cursor")
            except httpx.HTTPError:
                ok = False
            record(kind, time.perf_counter() - started, ok)
            await asyncio.sleep(rng.uniform(0.2, 1.0))


def _sites_from(sides: dict, db: Path) -> None:
    """Both sites on copies of a populated base database (the change's upgraded by migrate),
    unless the gallery step has set them up already."""
    for side in sides.values():
        target = side["site"].root / "db.sqlite3"
        if target.exists() and target.stat().st_size > 1_000_000:
            continue
        sqlite_copy(db, target)
        shutil.copytree(db.parent / "media", side["site"].root / "media", dirs_exist_ok=True)
        side["site"].prepare()


def mixed(sides: dict, *, seconds: float, users: int = 50, db: Path | None = None) -> dict:
    """50 simulated users against gunicorn (3x2, production settings) on the gallery's sites:
    each version for `seconds` in two turns."""
    if db:
        _sites_from(sides, db)
    webs, keys = {}, {}
    names = [f"gallery-{n}" for n in range(users)]
    for name, side in sides.items():
        out = side["site"].run_python("bench.site", "keys", *names)
        keys[name] = list(json.loads(out)["keys"].values())
        webs[name] = side["site"].start_web(workers=3, threads=2)
    samples = {name: [] for name in sides}
    try:
        for web in webs.values():
            web.ready()
        for turn_index in range(2):
            turn = ("before", "after") if turn_index == 0 else ("after", "before")
            for name in turn:
                deadline = time.perf_counter() + seconds / 2

                def record(kind, elapsed, ok, into=samples[name]):
                    into.append((kind, elapsed, ok))

                async def everyone(
                    url=webs[name].url, pool=keys[name], end=deadline, salt=turn_index
                ):
                    await asyncio.gather(
                        *(
                            _mixed_user(url, pool[n % len(pool)], end, n * 7 + salt, record)
                            for n in range(users)
                        )
                    )

                asyncio.run(everyone())
    finally:
        for web in webs.values():
            CHILDREN.stop(web.child)
    out = {}
    for name, rows in samples.items():
        entry = {"requests": len(rows), "errors": sum(1 for *_, ok in rows if not ok)}
        for kind in ("all", "browse", "search", "submit", "poll"):
            times = [t for k, t, _ in rows if kind in ("all", k)]
            entry[kind] = {
                "n": len(times),
                "p50_ms": ms(percentile(times, 50)),
                "p95_ms": ms(percentile(times, 95)),
                "p99_ms": ms(percentile(times, 99)),
            }
        out[name] = entry
    return {"users": users, "seconds_per_side": seconds, "sides": out}
