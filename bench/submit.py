"""Submit: latency and errors of `POST /v1/jobs` under 20 and 50 concurrent clients.

gunicorn on 127.0.0.1 (gthread; 2 workers × 4 threads by default: two processes to use the two
cores, threads to overlap SQLite lock waits), no consumer, so the jobs stay queued. Each client
has its own connection and API key user with quotas high enough never to answer 429.

Two load shapes, each for a bounded time per concurrency level:
- closed loop: each client sends its next job as soon as the previous answer arrives; this
  finds the server's capacity, and by Little's law latency ≈ clients / throughput;
- paced: each client submits one job per `--interval` seconds (default 1 s, i.e. 50 clients
  offer 50 jobs/s), the shape of many API users each submitting now and then.

    python -m bench.submit [--clients 20 50] [--seconds 10] [--interval 1.0]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import time

import httpx

from bench.common import (
    Check,
    Site,
    cpu_seconds,
    install_signal_handlers,
    ms,
    percentile,
    result_rows,
    table,
)

BODY = {"prompt": "a red fox in fresh snow, morning light", "size": "landscape_4_3", "n": 1}


async def _client(
    client: httpx.AsyncClient,
    *,
    deadline: float,
    interval: float | None,
    latencies: list[float],
    errors: dict[str, int],
) -> None:
    if interval:  # spread the paced clients over one interval
        await asyncio.sleep(random.uniform(0, interval))
    while (now := time.perf_counter()) < deadline:
        started = now
        try:
            response = await client.post("/v1/jobs", json=BODY)
            kind = None if response.status_code == 202 else f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            kind = type(exc).__name__
        latencies.append(time.perf_counter() - started)
        if kind:
            errors[kind] = errors.get(kind, 0) + 1
        if interval:
            await asyncio.sleep(max(0.0, started + interval - time.perf_counter()))


async def _load(url: str, key: str, *, clients: int, seconds: float, interval: float | None):
    latencies: list[float] = []
    errors: dict[str, int] = {}
    # One connection per client, all made before the clock starts (an httpx client takes
    # tens of milliseconds to build).
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [
        httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits)
        for _ in range(clients)
    ]
    try:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            *(
                _client(c, deadline=deadline, interval=interval, latencies=latencies, errors=errors)
                for c in pool
            )
        )
        elapsed = time.perf_counter() - started
    finally:
        for c in pool:
            await c.aclose()
    count = len(latencies)
    return {
        "clients": clients,
        "shape": f"paced 1 per {interval:g} s" if interval else "closed loop",
        "requests": count,
        "per_s": round(count / elapsed, 1),
        "p50_ms": ms(percentile(latencies, 50)),
        "p95_ms": ms(percentile(latencies, 95)),
        "p99_ms": ms(percentile(latencies, 99)),
        "max_ms": ms(max(latencies) if latencies else None),
        "errors": sum(errors.values()),
        "error_rate": round(sum(errors.values()) / count, 4) if count else None,
        "error_kinds": errors,
    }


def run(
    *,
    clients: tuple[int, ...] = (20, 50),
    seconds: float = 10.0,
    interval: float | None = 1.0,
    closed: bool = True,
    web_workers: int = 3,
    web_threads: int = 2,
    site: Site | None = None,
    budgets: bool = False,
) -> dict:
    own_site = site is None
    site = site or Site()
    levels = []
    try:
        site.prepare()
        key = site.api_key("bench-submit")
        if budgets:  # budgets on the user, team and key: every scope is checked
            site.run_python("bench.site", "limits", "bench-submit")
        with site.web(workers=web_workers, threads=web_threads) as web:
            asyncio.run(_load(web.url, key, clients=2, seconds=min(1.0, seconds), interval=None))
            shapes = ([None] if closed else []) + ([interval] if interval else [])
            for count in clients:
                for every in shapes:
                    server = cpu_seconds(*web.pids())
                    client = sum(os.times()[:2])
                    level = asyncio.run(
                        _load(web.url, key, clients=count, seconds=seconds, interval=every)
                    )
                    # CPU per request: what bounds throughput on a small machine.
                    done = max(1, level["requests"])
                    level["web_cpu_ms_per_request"] = round(
                        (cpu_seconds(*web.pids()) - server) * 1000 / done, 2
                    )
                    level["client_cpu_ms_per_request"] = round(
                        (sum(os.times()[:2]) - client) * 1000 / done, 2
                    )
                    levels.append(level)
    finally:
        if own_site:
            site.close()
    summary, checks = [], []
    top = max(clients)
    for level in levels:
        label = f"{level['clients']} clients, {level['shape']}"
        summary += [
            (f"{label}: req/s", level["per_s"]),
            (f"{label}: p50 ms", level["p50_ms"]),
            (f"{label}: p95 ms", level["p95_ms"]),
            (f"{label}: errors", level["errors"]),
        ]
        if level["shape"] == "closed loop":
            summary.append((f"{label}: web CPU ms per request", level["web_cpu_ms_per_request"]))
        if level["clients"] == top:
            checks += [
                Check(f"{label}: p95 ms", level["p95_ms"], 50, "<=").as_dict(),
                Check(f"{label}: errors", level["errors"], 0, "<=").as_dict(),
            ]
    return {
        "params": {
            "clients": list(clients),
            "seconds": seconds,
            "interval_s": interval,
            "web": f"gunicorn gthread {web_workers} workers x {web_threads} threads",
            "budgets": budgets,
        },
        "levels": levels,
        "summary": summary,
        "checks": checks,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.submit", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--clients", type=int, nargs="+", default=[20, 50])
    parser.add_argument("--seconds", type=float, default=10.0, help="per level (default 10)")
    parser.add_argument(
        "--interval", type=float, default=1.0, help="paced: s between a client's jobs; 0: skip"
    )
    parser.add_argument("--no-closed", action="store_true", help="only the paced shape")
    parser.add_argument("--web-workers", type=int, default=3)
    parser.add_argument("--web-threads", type=int, default=2)
    parser.add_argument(
        "--budgets", action="store_true", help="budgets on the user, team and key (all checked)"
    )
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    install_signal_handlers()
    result = run(
        clients=tuple(args.clients),
        seconds=args.seconds,
        interval=args.interval or None,
        closed=not args.no_closed,
        web_workers=args.web_workers,
        web_threads=args.web_threads,
        budgets=args.budgets,
    )
    print(json.dumps(result, indent=2) if args.json else table(result_rows("submit", result)))
    return result


if __name__ == "__main__":
    main()
