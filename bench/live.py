"""Live feed: 200 open Create pages, each polling `/jobs/live/` for its running jobs.

The Create page keeps its feed live with one poll for all of the page's running jobs
(generation/views/create.py, POLL_MS). A poll is a short request: the production server's
threads are free between polls, so open pages cost worker *time*, not workers. Server-sent
events would hold one gthread thread per open page for as long as the page is open: with
gunicorn's 3 workers × 2 threads, the seventh open page would find no thread left.

gunicorn on 127.0.0.1 (gthread, 3 workers × 2 threads, production settings), no consumer (the
jobs stay queued: the poll answers with queue positions, its most expensive state). Each page
is one keep-alive connection with its own session, polling with its two job ids and their
render keys at the interval the server asks for (1.5 s while a job of the page runs or is next
in line, 5 s while its jobs wait further back), like the page's script; then once more with
every page at 1.5 s whatever the server says (the worst case). A probe client meanwhile loads one
ordinary page (`/v1/me` with an API key) every 0.25 s; its latency under the load is compared
with the same probe on the idle server.

    python -m bench.live [--pages 200] [--jobs 2] [--seconds 20] [--interval 1.5]
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
    mean,
    ms,
    percentile,
    ratio,
    result_rows,
    table,
)

POLL_MS = 1500  # generation.views.create.POLL_MS (bench never imports the apps)


async def _page(
    client, jobs, *, deadline, interval, latencies, errors, keys, lags, adaptive
) -> None:
    """One open page: polls when due, then waits the interval the server asked for (the
    page's script does the same); `lags` records how late each poll started, i.e. how far
    a slow answer pushed the page behind its schedule."""
    await asyncio.sleep(random.uniform(0, interval))  # pages were opened at different times
    due = time.perf_counter()
    while (now := time.perf_counter()) < deadline:
        lags.append(max(0.0, now - due))
        params = [("job", f"{job}:{keys.get(job, '')}") for job in jobs]
        wait = interval
        try:
            try:
                response = await client.get("/jobs/live/", params=params)
            except (httpx.ReadError, httpx.RemoteProtocolError):
                # The server closed the idle keep-alive connection (gunicorn's keepalive is
                # shorter than a 5 s wait): like a browser, send again on a new one.
                response = await client.get("/jobs/live/", params=params)
            if response.status_code == 200:
                body = response.json()
                for job in body["jobs"]:
                    keys[job["id"]] = job["render_key"]  # as the page does: cards only on change
                if adaptive:
                    wait = body.get("poll_ms", interval * 1000) / 1000
                kind = None
            else:
                kind = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            kind = type(exc).__name__
        latencies.append(time.perf_counter() - now)
        if kind:
            errors[kind] = errors.get(kind, 0) + 1
        due = now + wait
        await asyncio.sleep(max(0.0, due - time.perf_counter()))


async def _probe(client, *, deadline, latencies) -> None:
    while (now := time.perf_counter()) < deadline:
        response = await client.get("/v1/me")
        if response.status_code == 200:
            latencies.append(time.perf_counter() - now)
        await asyncio.sleep(max(0.0, now + 0.25 - time.perf_counter()))


async def _run(url, pages, key, *, seconds, interval, with_pages=True, adaptive=True) -> dict:
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    clients = [
        httpx.AsyncClient(
            base_url=url, cookies={"sessionid": page["sessionid"]}, timeout=30, limits=limits
        )
        for page in (pages if with_pages else [])
    ]
    probe = httpx.AsyncClient(
        base_url=url, headers={"Authorization": f"Bearer {key}"}, timeout=30, limits=limits
    )
    latencies: list[float] = []
    probes: list[float] = []
    errors: dict[str, int] = {}
    lags: list[float] = []
    try:
        started = time.perf_counter()
        deadline = started + seconds
        await asyncio.gather(
            _probe(probe, deadline=deadline, latencies=probes),
            *(
                _page(
                    c,
                    page["jobs"],
                    deadline=deadline,
                    interval=interval,
                    latencies=latencies,
                    errors=errors,
                    keys={},
                    lags=lags,
                    adaptive=adaptive,
                )
                for c, page in zip(clients, pages, strict=False)
            ),
        )
        elapsed = time.perf_counter() - started
    finally:
        for c in [*clients, probe]:
            await c.aclose()
    return {
        "polls": len(latencies),
        "polls_per_s": round(len(latencies) / elapsed, 1),
        "lag_p95_ms": ms(percentile(lags, 95)),
        "poll_p50_ms": ms(percentile(latencies, 50)),
        "poll_p95_ms": ms(percentile(latencies, 95)),
        "poll_mean_ms": ms(mean(latencies)),
        "errors": sum(errors.values()),
        "error_kinds": errors,
        "probe_p50_ms": ms(percentile(probes, 50)),
        "probe_p95_ms": ms(percentile(probes, 95)),
        "elapsed_s": round(elapsed, 2),
    }


def run(
    *,
    pages: int = 200,
    jobs: int = 2,
    seconds: float = 20.0,
    interval: float = POLL_MS / 1000,
    web_workers: int = 3,
    web_threads: int = 2,
    site: Site | None = None,
) -> dict:
    own_site = site is None
    site = site or Site()
    try:
        site.prepare()
        key = site.api_key("bench-live-probe")
        opened = json.loads(site.run_python("bench.site", "pages", str(pages), str(jobs)))["pages"]
        with site.web(workers=web_workers, threads=web_threads) as web:
            asyncio.run(_run(web.url, opened[:2], key, seconds=min(1.0, seconds), interval=0.2))
            idle = asyncio.run(
                _run(
                    web.url, [], key, seconds=min(5.0, seconds), interval=interval, with_pages=False
                )
            )
            before, client_before = cpu_seconds(*web.pids()), sum(os.times()[:2])
            loaded = asyncio.run(_run(web.url, opened, key, seconds=seconds, interval=interval))
            web_cpu = cpu_seconds(*web.pids()) - before
            client_cpu = sum(os.times()[:2]) - client_before
            # Worst case: every page at the fast rate, whatever the server asks.
            before = cpu_seconds(*web.pids())
            fast = asyncio.run(
                _run(web.url, opened, key, seconds=seconds, interval=interval, adaptive=False)
            )
            fast["web_cpu_ms_per_poll"] = round(
                (cpu_seconds(*web.pids()) - before) * 1000 / max(1, fast["polls"]), 2
            )
    finally:
        if own_site:
            site.close()
    threads = web_workers * web_threads
    # Share of the server's threads busy with polls: throughput × mean time in the server.
    busy = (loaded["polls_per_s"] * (loaded["poll_mean_ms"] or 0) / 1000) / threads
    cpu_per_poll = web_cpu / max(1, loaded["polls"])
    # What the pages ask for, per second: the poll rate they settled on (answers tell each
    # page its interval), and what one core of the web tier can serve at this CPU cost.
    asked = loaded["polls"] / max(0.001, loaded["elapsed_s"])
    per_page = asked / max(1, pages)
    pages_per_core = round(1 / (cpu_per_poll * per_page)) if cpu_per_poll and per_page else None
    loaded.update(
        threads=threads,
        thread_share_busy=round(busy, 3),
        web_cpu_ms_per_poll=round(cpu_per_poll * 1000, 2),
        client_cpu_ms_per_poll=round(client_cpu * 1000 / max(1, loaded["polls"]), 2),
        polls_per_page_per_s=round(per_page, 3),
        pages_per_web_core=pages_per_core,
        probe_p95_ratio=ratio(loaded["probe_p95_ms"], idle["probe_p95_ms"]),
        sse_threads_needed=pages,
    )
    label = f"{pages} pages × {jobs} queued jobs"
    summary = [
        (f"{label}: polls/s", loaded["polls_per_s"]),
        ("poll p50 ms", loaded["poll_p50_ms"]),
        ("poll p95 ms", loaded["poll_p95_ms"]),
        ("poll start lag p95 ms (behind schedule)", loaded["lag_p95_ms"]),
        ("poll errors", loaded["errors"]),
        ("web CPU ms per poll", loaded["web_cpu_ms_per_poll"]),
        (
            "bench client CPU ms per poll (competes for the same cores)",
            loaded["client_cpu_ms_per_poll"],
        ),
        ("polls per open page per s", loaded["polls_per_page_per_s"]),
        ("open pages one web CPU core keeps live", loaded["pages_per_web_core"]),
        (f"share of the {threads} server threads busy with polls", loaded["thread_share_busy"]),
        (
            "other page p95 ms, idle / under the polls",
            f"{idle['probe_p95_ms']} / {loaded['probe_p95_ms']}",
        ),
        ("other page p95, loaded/idle", loaded["probe_p95_ratio"]),
        ("threads SSE would hold (one per open page) / there are", f"{pages} / {threads}"),
        (f"worst case, every page every {interval:g} s: polls/s", fast["polls_per_s"]),
        ("worst case: poll p95 ms", fast["poll_p95_ms"]),
        (
            "worst case: other page p95, loaded/idle",
            ratio(fast["probe_p95_ms"], idle["probe_p95_ms"]),
        ),
    ]
    # Targets only on what does not depend on how busy the machine is: errors, and the CPU a
    # page's polling costs (latency on a shared two-core box mostly measures the other work).
    checks = [
        Check("poll errors", loaded["errors"], 0, "<=").as_dict(),
        Check("open pages one web CPU core keeps live", pages_per_core, pages, ">=").as_dict(),
    ]
    return {
        "params": {
            "pages": pages,
            "jobs_per_page": jobs,
            "seconds": seconds,
            "interval_s": interval,
            "web": f"gunicorn gthread {web_workers} workers x {web_threads} threads",
        },
        "idle": idle,
        "loaded": loaded,
        "every_page_fast": fast,
        "summary": summary,
        "checks": checks,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.live", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--jobs", type=int, default=2, help="running jobs per page")
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--interval", type=float, default=POLL_MS / 1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    install_signal_handlers()
    result = run(pages=args.pages, jobs=args.jobs, seconds=args.seconds, interval=args.interval)
    print(json.dumps(result, indent=2) if args.json else table(result_rows("live", result)))
    return result


if __name__ == "__main__":
    main()
