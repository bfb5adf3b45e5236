"""Pipeline: N jobs through the portal (API → Huey → remote backend) vs the same N calls direct.

The fake hosted endpoint runs on 127.0.0.1 with a fixed latency and answers with real PNGs.
The portal run submits N jobs with `POST /v1/jobs` (API key) to gunicorn and a Huey consumer
with W thread workers runs them on the remote backend; the direct run makes the same N calls
with one httpx client at concurrency W. Both runs use fresh seeds, so the fake renders every
image in both. Throughput of the portal counts from the first submission to the last
`finished_at`; the time a job spends in the portal is split with the `succeeded` log line's
phases (generate / process / store).

    python -m bench.pipeline [-n 64] [-w 8] [--latency 1.0]
"""

from __future__ import annotations

import argparse
import base64
import concurrent.futures
import datetime as dt
import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from bench.common import (
    Check,
    Consumer,
    Site,
    WebServer,
    cpu_seconds,
    install_signal_handlers,
    job_events,
    mean,
    ms,
    peak_rss_mb,
    percentile,
    reset_peak,
    result_rows,
    table,
)

PROMPT = "a lighthouse on a cliff at dusk, long exposure"
UPSTREAM_KEY = "bench-upstream-key"  # what the fake endpoint sees; it accepts any Bearer key


@dataclass
class Portal:
    """A running portal wired to the fake endpoint, handed to `extra` steps (bench.memory)."""

    site: Site
    web: WebServer
    consumer: Consumer
    fake_url: str
    api: httpx.Client
    width: int
    height: int


def upstream_body(seed: int, width: int, height: int) -> dict:
    """The body the remote backend sends for one image (generation/backends/remote/client.py)."""
    return {
        "model": "qwen-image",
        "prompt": PROMPT,
        "size": {"width": width, "height": height},
        "num_inference_steps": 30,
        "guidance_scale": 2.5,
        "seed": seed,
        "negative_prompt": " ",
        "acceleration": "none",
        "enable_safety_checker": True,
        "n": 1,
        "output_format": "b64_json",
    }


def run_direct(fake_url: str, *, seeds: list[int], workers: int, width: int, height: int) -> dict:
    """The same calls the portal makes, straight to the endpoint with one client."""
    headers = {"Authorization": f"Bearer {UPSTREAM_KEY}"}
    with httpx.Client(base_url=fake_url, timeout=120, headers=headers) as client:

        def call(seed: int) -> float:
            started = time.perf_counter()
            response = client.post(
                "/v1/images/generations", json=upstream_body(seed, width, height)
            )
            response.raise_for_status()
            for item in response.json()["data"]:
                base64.b64decode(item["b64_json"])
            return time.perf_counter() - started

        started = time.perf_counter()
        with concurrent.futures.ThreadPoolExecutor(workers) as pool:
            latencies = list(pool.map(call, seeds))
        elapsed = time.perf_counter() - started
    return {
        "seconds": round(elapsed, 3),
        "images_per_s": round(len(seeds) / elapsed, 3),
        "call_ms_mean": ms(mean(latencies)),
        "call_ms_p95": ms(percentile(latencies, 95)),
    }


def submit_jobs(api: httpx.Client, bodies: list[dict], *, concurrency: int) -> list[tuple]:
    """POST each body to /v1/jobs; [(job id, seconds the POST took)]."""

    def post(body: dict) -> tuple[str, float]:
        started = time.perf_counter()
        response = api.post("/v1/jobs", json=body)
        if response.status_code != 202:
            raise RuntimeError(f"POST /v1/jobs answered {response.status_code}: {response.text}")
        return response.json()["id"], time.perf_counter() - started

    with concurrent.futures.ThreadPoolExecutor(concurrency) as pool:
        return list(pool.map(post, bodies))


def wait_idle(api: httpx.Client, *, timeout: float, interval: float = 0.5) -> None:
    """Until the bench user has no queued or running job (cheap: two one-row pages)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        busy = False
        for status in ("queued", "running"):
            page = api.get("/v1/jobs", params={"status": status, "limit": 1})
            page.raise_for_status()
            busy = busy or bool(page.json()["data"])
        if not busy:
            return
        time.sleep(interval)
    raise TimeoutError(f"Jobs still queued or running after {timeout:g} s.")


def fetch_jobs(api: httpx.Client, ids: set[str]) -> dict[str, dict]:
    """The JSON of the given jobs, by paging through GET /v1/jobs."""
    found: dict[str, dict] = {}
    cursor = None
    while len(found) < len(ids):
        params = {"limit": 100, **({"cursor": cursor} if cursor else {})}
        page = api.get("/v1/jobs", params=params)
        page.raise_for_status()
        body = page.json()
        found.update({job["id"]: job for job in body["data"] if job["id"] in ids})
        cursor = body["next_cursor"]
        if not body["has_more"]:
            break
    return found


class _CpuClock:
    """CPU seconds used by each process (and this one, the client) since it was made."""

    def __init__(self, **pids: int | list[int]) -> None:
        self.pids = {name: p if isinstance(p, list) else [p] for name, p in pids.items()}
        self.start = {name: cpu_seconds(*p) for name, p in self.pids.items()}
        self.start["client"] = sum(os.times()[:2])

    def read(self) -> dict[str, float]:
        used = {name: cpu_seconds(*p) - self.start[name] for name, p in self.pids.items()}
        used["client"] = sum(os.times()[:2]) - self.start["client"]
        return {name: round(value, 2) for name, value in used.items()}


def _ts(value: str | None) -> float | None:
    return dt.datetime.fromisoformat(value).timestamp() if value else None


def run_portal(portal: Portal, *, seeds: list[int], workers: int) -> dict:
    bodies = [
        {
            "prompt": PROMPT,
            "size": {"width": portal.width, "height": portal.height},
            "seed": seed,
            "n": 1,
        }
        for seed in seeds
    ]
    log = portal.consumer.log
    t0 = time.time()
    submitted = submit_jobs(portal.api, bodies, concurrency=workers)
    wait_idle(portal.api, timeout=120 + 10 * len(seeds))
    ids = {job_id for job_id, _ in submitted}
    jobs = fetch_jobs(portal.api, ids)
    phases = job_events(log, "succeeded")
    succeeded = [job for job in jobs.values() if job["status"] == "succeeded"]
    finished = [_ts(job["finished_at"]) for job in succeeded]
    waits = [job["wait_seconds"] for job in succeeded]
    runs = [job["run_seconds"] for job in succeeded]
    makespan = max(finished) - t0 if finished else None

    def phase(name: str) -> float | None:
        values = [float(phases[j][name]) for j in ids if j in phases and name in phases[j]]
        return mean(values)

    return {
        "seconds": round(makespan, 3) if makespan else None,
        "images_per_s": round(len(succeeded) / makespan, 3) if makespan else None,
        "succeeded": len(succeeded),
        "failed": len(ids) - len(succeeded),
        "submit_ms_p50": ms(percentile([s for _, s in submitted], 50)),
        "submit_ms_p95": ms(percentile([s for _, s in submitted], 95)),
        "queue_wait_ms_mean": ms(mean(waits)),
        "first_pickup_ms": ms(min(waits) if waits else None),
        "run_ms_mean": ms(mean(runs)),
        "backend_ms_mean": ms(phase("generate")),
        "processing_ms_mean": ms(phase("process")),
        "storage_ms_mean": ms(phase("store")),
    }


def run(
    *,
    n: int = 64,
    workers: int = 8,
    latency: float = 1.0,
    width: int = 1024,
    height: int = 768,
    web_workers: int = 3,
    web_threads: int = 2,
    site: Site | None = None,
    extra: Callable[[Portal], dict] | None = None,
) -> dict:
    """Run both sides; `extra(portal)` runs afterwards on the same processes (bench.memory)."""
    own_site = site is None
    site = site or Site()
    try:
        site.prepare()
        key = site.api_key("bench-pipeline")
        fake = site.start_fake(latency=latency)
        fake_url = fake.url
        upstream = {
            "QWEN_IMAGE_BACKEND": "remote",
            "QWEN_IMAGE_API_BASE": fake_url,
            "QWEN_IMAGE_API_KEY": UPSTREAM_KEY,
            "QWEN_IMAGE_OUTPUT_FORMAT": "b64_json",
            "HUEY_WORKERS": str(workers),
        }
        web = site.start_web(workers=web_workers, threads=web_threads, **upstream)
        consumer = site.start_consumer(workers=workers, **upstream)
        with (
            site.running(fake, web, consumer),
            httpx.Client(
                base_url=web.url, headers={"Authorization": f"Bearer {key}"}, timeout=60
            ) as api,
        ):
            portal = Portal(site, web, consumer, fake_url, api, width, height)
            # Warm both paths (imports, connections, the backend's client) off the clock.
            run_direct(fake_url, seeds=[1], workers=1, width=width, height=height)
            run_portal(portal, seeds=[2], workers=1)
            # Direct runs before and after the portal run, averaged, so a change in the
            # machine's load over the minute does not tilt the ratio.
            clock = _CpuClock(fake=fake.child.pid)
            before = run_direct(
                fake_url,
                seeds=list(range(10_000, 10_000 + n)),
                workers=workers,
                width=width,
                height=height,
            )
            before["cpu_s"] = clock.read()
            for pid in (consumer.pid, *web.pids()):
                reset_peak(pid)
            clock = _CpuClock(fake=fake.child.pid, worker=consumer.pid, web=web.pids())
            through = run_portal(portal, seeds=list(range(20_000, 20_000 + n)), workers=workers)
            through["cpu_s"] = clock.read()
            peaks = {
                "worker_peak_mb": peak_rss_mb(consumer.pid),
                "web_peak_mb": max((peak_rss_mb(p) or 0) for p in web.worker_pids()),
                "web_master_peak_mb": peak_rss_mb(web.child.pid),
            }
            after = run_direct(
                fake_url,
                seeds=list(range(30_000, 30_000 + n)),
                workers=workers,
                width=width,
                height=height,
            )
            direct = _mean_runs(before, after)
            memory = peaks
            extra_result = extra(portal) if extra else None
    finally:
        if own_site:
            site.close()
    share = (
        round(through["images_per_s"] / direct["images_per_s"], 3)
        if through["images_per_s"]
        else None
    )
    split = _added_time(direct, through, n=n, workers=workers)
    result = {
        "params": {
            "n": n,
            "workers": workers,
            "latency_s": latency,
            "size": f"{width}x{height}",
            "web": f"gunicorn gthread {web_workers}x{web_threads}",
        },
        "direct": direct,
        "portal": through,
        "added_ms_per_job": split,
        "memory": memory,
        "ratio": share,
        "summary": [
            (
                "direct images/s (mean of before / after)",
                f"{direct['images_per_s']:.2f} ({before['images_per_s']:.2f} / "
                f"{after['images_per_s']:.2f})",
            ),
            ("portal images/s", through["images_per_s"]),
            ("portal/direct", share),
            ("failed jobs", through["failed"]),
            ("time per job and worker slot, direct ms", split["direct_slot"]),
            ("time per job and worker slot, portal ms", split["portal_slot"]),
            ("added per job ms", split["added"]),
            ("  of which backend call (portal - direct) ms", split["backend"]),
            ("  of which image processing ms", split["processing"]),
            ("  of which storage ms", split["storage"]),
            ("  of which claim, progress, hooks ms", split["in_job_other"]),
            ("  of which pickup, hand-over, ramp ms", split["between_jobs"]),
            ("queue wait ms (mean, incl. waiting for a worker)", through["queue_wait_ms_mean"]),
            ("first pickup ms", through["first_pickup_ms"]),
            ("POST /v1/jobs ms p50", through["submit_ms_p50"]),
            ("CPU s direct (fake, client)", _cpu(direct["cpu_s"])),
            ("CPU s portal (fake, worker, web, client)", _cpu(through["cpu_s"])),
        ],
        "checks": [Check("portal/direct", share, 0.9, ">=").as_dict()],
    }
    if extra_result is not None:
        result["extra"] = extra_result
    return result


def _added_time(direct: dict, portal: dict, *, n: int, workers: int) -> dict:
    """Where the portal's extra time per job goes, per worker slot (so it maps to throughput:
    portal/direct = direct slot / portal slot)."""

    def slot(seconds):
        return round(workers * seconds * 1000 / n, 1) if seconds else None

    direct_slot, portal_slot = slot(direct["seconds"]), slot(portal["seconds"])
    parts = {
        "backend": _minus(portal["backend_ms_mean"], direct["call_ms_mean"]),
        "processing": portal["processing_ms_mean"],
        "storage": portal["storage_ms_mean"],
        "in_job_other": _minus(
            portal["run_ms_mean"],
            sum(
                v or 0
                for v in (
                    portal["backend_ms_mean"],
                    portal["processing_ms_mean"],
                    portal["storage_ms_mean"],
                )
            ),
        ),
    }
    added = _minus(portal_slot, direct_slot)
    known = sum(v or 0 for v in parts.values())
    return {
        "direct_slot": direct_slot,
        "portal_slot": portal_slot,
        "added": added,
        **parts,
        "between_jobs": round(added - known, 1) if added is not None else None,
    }


def _mean_runs(before: dict, after: dict) -> dict:
    """One direct result from the runs before and after the portal's (both kept)."""
    merged = {
        key: round((before[key] + after[key]) / 2, 3)
        for key in ("seconds", "images_per_s", "call_ms_mean", "call_ms_p95")
    }
    merged["cpu_s"] = before["cpu_s"]
    merged["runs"] = [before, after]
    return merged


def _minus(a, b):
    return round(a - b, 1) if a is not None and b is not None else None


def _cpu(used: dict) -> str:
    return ", ".join(f"{value:g}" for value in used.values()) + f" = {sum(used.values()):.2f}"


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.pipeline", description=__doc__.split("\n")[0]
    )
    parser.add_argument("-n", type=int, default=64, help="jobs (default 64)")
    parser.add_argument(
        "-w", "--workers", type=int, default=8, help="Huey workers = client concurrency"
    )
    parser.add_argument("--latency", type=float, default=1.0, help="fake endpoint latency, s")
    parser.add_argument("--size", default="1024x768")
    parser.add_argument("--keep", action="store_true", help="keep the site's var dir (logs)")
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args(argv)
    install_signal_handlers()
    width, height = (int(v) for v in args.size.lower().split("x"))
    with Site(keep=args.keep) as site:
        result = run(
            n=args.n,
            workers=args.workers,
            latency=args.latency,
            width=width,
            height=height,
            site=site,
        )
        if args.keep:
            print(f"site kept in {site.root}")
    print(json.dumps(result, indent=2) if args.json else table(result_rows("pipeline", result)))
    return result


if __name__ == "__main__":
    main()
