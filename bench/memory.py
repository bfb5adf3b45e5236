"""Memory: peak RSS of the web and worker processes, during the pipeline run and under load.

Runs the pipeline benchmark (bench.pipeline) and then, on the same gunicorn and Huey
processes: a ZIP download of 1,000 stored images (the gallery's bulk ZIP, streamed; the PNGs
are incompressible noise of ~500 KB each, so the archive is ~500 MB and any buffering would
show), and one 1664×928 job of 4 images. Peaks are VmHWM from /proc, reset before each step
(clear_refs), so each number is that step's own peak.

    python -m bench.memory [-n 64] [-w 8] [--latency 1.0] [--zip-images 1000] [--zip-kb 500]
"""

from __future__ import annotations

import argparse
import json
import secrets
import time

import httpx

from bench import pipeline
from bench.common import (
    Check,
    Site,
    install_signal_handlers,
    peak_rss_mb,
    reset_peak,
    result_rows,
    rss_mb,
    table,
)


def zip_download(portal: pipeline.Portal, *, images: int, kilobytes: int) -> dict:
    """POST the gallery's bulk form for a ZIP of `images` images; the web's added peak."""
    site = portal.site
    made = json.loads(
        site.run_python("bench.site", "images", "bench-memory", str(images), str(kilobytes))
    )
    session = made["sessionid"]
    token = secrets.token_hex(16)  # a CSRF secret: cookie and form field carry the same value
    workers = portal.web.worker_pids()
    before = {pid: rss_mb(pid) or 0.0 for pid in workers}
    for pid in workers:
        reset_peak(pid)
    received = 0
    tail = b""
    started = time.perf_counter()
    with (
        httpx.Client(base_url=portal.web.url, timeout=300) as client,
        client.stream(
            "POST",
            "/gallery/bulk/",
            data={"images": ",".join(made["ids"]), "action": "zip", "csrfmiddlewaretoken": token},
            headers={"Cookie": f"sessionid={session}; csrftoken={token}"},
        ) as response,
    ):
        if response.status_code != 200 or "zip" not in response.headers.get("content-type", ""):
            raise RuntimeError(
                f"ZIP download answered {response.status_code} "
                f"{response.headers.get('content-type')}: {response.read()[:300]!r}"
            )
        for chunk in response.iter_bytes():
            received += len(chunk)
            tail = (tail + chunk)[-65536:]
    seconds = time.perf_counter() - started
    added = max((peak_rss_mb(pid) or 0.0) - before[pid] for pid in workers)
    return {
        "images": len(made["ids"]),
        "zip_mb": round(received / 2**20, 1),
        "complete": b"PK\x05\x06" in tail,  # the end-of-central-directory record arrived
        "seconds": round(seconds, 2),
        "mb_per_s": round(received / 2**20 / seconds, 1),
        "web_before_mb": max(before.values()),
        "web_added_mb": round(added, 1),
    }


def big_job(portal: pipeline.Portal, *, width: int, height: int, n: int) -> dict:
    """One job of n images at width×height; the worker's and the web's peak while it runs."""
    pids = [portal.consumer.pid, *portal.web.worker_pids()]
    before = {pid: rss_mb(pid) or 0.0 for pid in pids}
    for pid in pids:
        reset_peak(pid)
    response = portal.api.post(
        "/v1/jobs",
        json={
            "prompt": "a wide harbour at dawn",
            "size": {"width": width, "height": height},
            "n": n,
        },
    )
    response.raise_for_status()
    job_id = response.json()["id"]
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        job = portal.api.get(f"/v1/jobs/{job_id}").json()
        if job["status"] not in ("queued", "running"):
            break
        time.sleep(0.2)
    worker = portal.consumer.pid
    return {
        "size": f"{width}x{height}",
        "images": len(job["images"]),
        "status": job["status"],
        "worker_peak_mb": peak_rss_mb(worker),
        "worker_added_mb": round((peak_rss_mb(worker) or 0) - before[worker], 1),
        "web_peak_mb": max(peak_rss_mb(pid) or 0 for pid in portal.web.worker_pids()),
    }


def make_extra(*, zip_images: int = 1000, zip_kb: int = 500, big=(1664, 928, 4)):
    def extra(portal: pipeline.Portal) -> dict:
        return {
            "zip": zip_download(portal, images=zip_images, kilobytes=zip_kb),
            "big_job": big_job(portal, width=big[0], height=big[1], n=big[2]),
        }

    return extra


def summarize(pipeline_result: dict) -> dict:
    """The memory benchmark's result from a pipeline run made with make_extra()."""
    during = pipeline_result["memory"]
    extra = pipeline_result.get("extra") or {}
    zipped, job = extra.get("zip", {}), extra.get("big_job", {})
    n = pipeline_result["params"]["n"]
    worker_peak = max(during["worker_peak_mb"] or 0, job.get("worker_peak_mb") or 0)
    summary = [
        (f"worker peak MB, pipeline ({n} images)", during["worker_peak_mb"]),
        (f"web peak MB per worker, pipeline ({n} jobs)", during["web_peak_mb"]),
        (
            f"worker peak MB, one {job.get('size')} job ({job.get('images')} images)",
            job.get("worker_peak_mb"),
        ),
        (
            f"web +MB for a ZIP of {zipped.get('images')} images ({zipped.get('zip_mb')} MB)",
            zipped.get("web_added_mb"),
        ),
        ("ZIP complete, MB/s", f"{fmt_bool(zipped.get('complete'))}, {zipped.get('mb_per_s')}"),
        ("worker peak MB (max of the above)", worker_peak),
    ]
    checks = [
        Check("worker peak MB (max of the above)", worker_peak, 300, "<=").as_dict(),
        Check(summary[3][0], zipped.get("web_added_mb"), 50, "<=").as_dict(),
    ]
    return {
        "params": pipeline_result["params"],
        "pipeline": during,
        "zip": zipped,
        "big_job": job,
        "summary": summary,
        "checks": checks,
    }


def fmt_bool(value) -> str:
    return {True: "yes", False: "NO", None: "–"}[value]


def run(
    *,
    n: int = 64,
    workers: int = 8,
    latency: float = 1.0,
    zip_images: int = 1000,
    zip_kb: int = 500,
    big=(1664, 928, 4),
    site: Site | None = None,
    **pipeline_options,
) -> dict:
    result = pipeline.run(
        n=n,
        workers=workers,
        latency=latency,
        site=site,
        extra=make_extra(zip_images=zip_images, zip_kb=zip_kb, big=big),
        **pipeline_options,
    )
    return summarize(result)


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.memory", description=__doc__.split("\n")[0]
    )
    parser.add_argument("-n", type=int, default=64, help="pipeline jobs (default 64)")
    parser.add_argument("-w", "--workers", type=int, default=8)
    parser.add_argument("--latency", type=float, default=1.0)
    parser.add_argument("--zip-images", type=int, default=1000)
    parser.add_argument("--zip-kb", type=int, default=500, help="size of each zipped PNG")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    install_signal_handlers()
    result = run(
        n=args.n,
        workers=args.workers,
        latency=args.latency,
        zip_images=args.zip_images,
        zip_kb=args.zip_kb,
    )
    print(json.dumps(result, indent=2) if args.json else table(result_rows("memory", result)))
    return result


if __name__ == "__main__":
    main()
