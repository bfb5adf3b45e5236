"""Before and after, side by side: the same benchmarks on two versions of the code, interleaved.

Both versions are exported from git (`--base REF`, `--after REF`, default HEAD) into a
temporary folder, each with today's bench/ laid over it (the same measuring code on both
sides), and each runs in a site of its own. Measurements alternate between the two in short
turns (request by request for the gallery, slices of a few seconds for load), so a busy
machine slows both alike and the ratios hold.

    python -m bench.compare --base main [--after HEAD] [--images 100000] [--reuse-db FILE]
        [--only gallery,worker,submit,serve,pipeline] [--seconds 10] [--repeat 20]

The gallery's images are inserted once, by the base version; the change's site gets a copy of
that database and upgrades it with `migrate` (the upgrade's time is reported). `--reuse-db`
starts from a base database populated earlier (a million images take ~12 minutes to insert).
Writes bench/results.json (like make bench) and prints the table: measure, before, after, ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from bench import pipeline as pipeline_bench
from bench import submit as submit_bench
from bench.common import (
    CHILDREN,
    REPO,
    Site,
    child_pids,
    cpu_seconds,
    free_port,
    install_signal_handlers,
    ms,
    percentile,
    sqlite_copy,
)
from bench.compare_mixed import mixed
from bench.compare_report import render

OUT = Path(__file__).resolve().parent / "results.json"  # the latest run, as make bench writes


def export(ref: str, dest: Path) -> Path:
    """`ref`'s tree in `dest`, with this checkout's bench/ over it."""
    dest.mkdir(parents=True)
    archive = subprocess.run(["git", "archive", ref], cwd=REPO, capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(dest)], input=archive.stdout, check=True)
    shutil.rmtree(dest / "bench", ignore_errors=True)
    shutil.copytree(REPO / "bench", dest / "bench", ignore=shutil.ignore_patterns("*.json"))
    return dest


class AgentProcess:
    """bench.agent in one site; call(cmd, **args) -> its answer."""

    def __init__(self, site: Site, name: str) -> None:
        self.name = name
        log = open(site.logs / "agent.log", "ab")  # noqa: SIM115 - the process owns it
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "bench.agent"],
            cwd=site.repo,
            env=site.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
        )
        assert json.loads(self.proc.stdout.readline())["ready"]

    def call(self, cmd: str, **args):
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        answer = json.loads(self.proc.stdout.readline())
        if "error" in answer:
            raise RuntimeError(f"{self.name} agent: {answer['error']}\n{answer.get('trace')}")
        return answer["ok"]

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(30)


def _pair(before: float | None, after: float | None) -> dict:
    ratio = round(after / before, 3) if before and after else None
    return {"before": before, "after": after, "after/before": ratio}


# --- Gallery ------------------------------------------------------------------------------------


def gallery(sides: dict, *, images: int, repeat: int, reuse_db: Path | None) -> dict:
    base, after = sides["before"], sides["after"]
    if reuse_db:
        sqlite_copy(reuse_db, base["site"].root / "db.sqlite3")
        shutil.copytree(reuse_db.parent / "media", base["site"].root / "media", dirs_exist_ok=True)
    base["site"].prepare()
    agents = {"before": AgentProcess(base["site"], "before")}
    if reuse_db:
        populated = {"viewer": "gallery-0", "reused": str(reuse_db)}
        populated["key"] = agents["before"].call("key", username="gallery-0")["key"]
    else:
        populated = agents["before"].call("populate", images=images, users=50, teams=5)
    agents["before"].close()
    sqlite_copy(base["site"].root / "db.sqlite3", after["site"].root / "db.sqlite3")
    shutil.copytree(base["site"].root / "media", after["site"].root / "media", dirs_exist_ok=True)
    started = time.perf_counter()
    after["site"].prepare()  # migrate: the upgrade of a populated install
    upgrade_s = round(time.perf_counter() - started, 1)
    agents = {name: AgentProcess(sides[name]["site"], name) for name in ("before", "after")}
    statistics = {name: agent.call("statistics") for name, agent in agents.items()}
    for agent in agents.values():
        agent.call("login", viewer=populated["viewer"], key=populated["key"])
    targets = {}
    for scope in ("mine", "team", "public"):
        deep = agents["after"].call("cursor", scope=scope, depth=0.9)
        for page in ("grid", "api"):
            targets[f"{scope} {page} first"] = (page, {"scope": scope})
            if deep["cursor"]:
                targets[f"{scope} {page} deep"] = (page, {"scope": scope, "cursor": deep["cursor"]})
    for label, word in (("rare", "zeppelin"), ("common", "lighthouse")):
        for page in ("grid", "api"):
            targets[f"search team {label} {page}"] = (page, {"scope": "team", "q": word})
    plans, times = {}, {name: {side: [] for side in agents} for name in targets}
    for name, (page, params) in targets.items():
        for side, agent in agents.items():
            agent.call("get", page=page, params=params)  # warm
            plans.setdefault(name, {})[side] = agent.call("queries", page=page, params=params)
    order = list(targets)
    for round_ in range(repeat):
        for name in order[round_ % len(order) :] + order[: round_ % len(order)]:
            page, params = targets[name]
            turn = ("before", "after") if round_ % 2 == 0 else ("after", "before")
            for side in turn:
                times[name][side].append(agents[side].call("get", page=page, params=params)["s"])
    for agent in agents.values():
        agent.close()
    rows = {}
    for name in targets:
        rows[name] = {
            side: {
                "p50_ms": ms(percentile(times[name][side], 50)),
                "p95_ms": ms(percentile(times[name][side], 95)),
                "queries": plans[name][side]["count"],
                "sql_ms": plans[name][side]["sql_ms"],
                "plans": plans[name][side]["plans"],
            }
            for side in agents
        }
    return {
        "images": images if not reuse_db else "reused",
        "populated": {k: v for k, v in populated.items() if k != "key"},
        "upgrade_migrate_s": upgrade_s,
        "statistics": statistics,
        "pages": rows,
    }


# --- Worker CPU per image -------------------------------------------------------------------------


def worker(sides: dict, *, count: int = 24) -> dict:
    sizes = [[1024, 768], [1024, 1024], [1664, 928]]
    agents = {name: AgentProcess(sides[name]["site"], name) for name in ("before", "after")}
    results = {name: [] for name in agents}
    for round_ in range(4):
        turn = ("before", "after") if round_ % 2 == 0 else ("after", "before")
        for side in turn:
            results[side].append(agents[side].call("worker", sizes=sizes, count=count // 4))
    for agent in agents.values():
        agent.close()
    out = {}
    for side, runs in results.items():
        out[side] = {
            phase: round(sum(r[phase] for r in runs) / len(runs) * 1000, 1)
            for phase in ("process", "safety")
        }
        out[side]["total"] = round(out[side]["process"] + out[side]["safety"], 1)
    return {"sizes": sizes, "images": count, "cpu_ms_per_image": out}


# --- Submit and poll under load -------------------------------------------------------------------


def submit(sides: dict, *, seconds: float, clients: int = 50) -> dict:
    webs, keys = {}, {}
    for name, side in sides.items():
        keys[name] = side["site"].api_key("bench-submit")
        webs[name] = side["site"].start_web(workers=3, threads=2)
    results = {}
    try:
        for web in webs.values():
            web.ready()
        for name, web in webs.items():  # warm
            asyncio.run(
                submit_bench._load(web.url, keys[name], clients=2, seconds=1, interval=None)
            )
        for shape, interval in (("closed loop", None), ("paced 1 per 1 s", 1.0)):
            levels = {name: [] for name in sides}
            cpu = {name: 0.0 for name in sides}
            for turn_index in range(2):
                turn = ("before", "after") if turn_index == 0 else ("after", "before")
                for name in turn:
                    before_cpu = cpu_seconds(*webs[name].pids())
                    level = asyncio.run(
                        submit_bench._load(
                            webs[name].url,
                            keys[name],
                            clients=clients,
                            seconds=seconds / 2,
                            interval=interval,
                        )
                    )
                    cpu[name] += cpu_seconds(*webs[name].pids()) - before_cpu
                    levels[name].append(level)
            results[shape] = {
                name: {
                    "requests": sum(level["requests"] for level in runs),
                    "per_s": round(sum(level["per_s"] for level in runs) / len(runs), 1),
                    "p50_ms_max": max(level["p50_ms"] for level in runs),
                    "p95_ms_max": max(level["p95_ms"] for level in runs),
                    "errors": sum(level["errors"] for level in runs),
                    "web_cpu_ms_per_request": round(
                        cpu[name] * 1000 / max(1, sum(level["requests"] for level in runs)), 2
                    ),
                }
                for name, runs in levels.items()
            }
    finally:
        for web in webs.values():
            CHILDREN.stop(web.child)
    return {"clients": clients, "seconds_per_side": seconds, "shapes": results}


# --- The server `make run` starts: API reads, 50 closed-loop clients ------------------------------


async def _reads(url: str, key: str, *, clients: int, seconds: float) -> dict:
    paths = ["/v1/me", "/v1/images", "/v1/jobs"]
    latencies, errors = [], 0
    headers = {"Authorization": f"Bearer {key}"}
    limits = httpx.Limits(max_connections=1, max_keepalive_connections=1)
    pool = [
        httpx.AsyncClient(base_url=url, headers=headers, timeout=30, limits=limits)
        for _ in range(clients)
    ]
    deadline = time.perf_counter() + seconds

    async def loop(client, offset):
        nonlocal errors
        i = offset
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                response = await client.get(paths[i % len(paths)])
                errors += response.status_code != 200
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - started)
            i += 1

    started = time.perf_counter()
    try:
        await asyncio.gather(*(loop(c, n) for n, c in enumerate(pool)))
    finally:
        for c in pool:
            await c.aclose()
    elapsed = time.perf_counter() - started
    return {"latencies": latencies, "errors": errors, "elapsed": elapsed}


def serve(sides: dict, *, seconds: float, clients: int = 50) -> dict:
    """`make run`'s server of each version with its zero-config defaults (DEBUG on): the
    base's runserver, the change's gunicorn; and the change's gunicorn with DEBUG off (the
    production settings), all three in turn."""
    servers, keys = {}, {}
    variants = {
        "before": ("before", "serve_site"),
        "after": ("after", "serve_site"),
        "after, DEBUG off": ("after", "site"),
    }
    for name, (version, site_key) in variants.items():
        site = sides[version][site_key]
        keys[name] = site.api_key("bench-reads")
        port = free_port()
        url = f"http://127.0.0.1:{port}"
        if name == "before":
            argv = [sys.executable, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"]
            env = site.env()
        else:
            argv = [sys.executable, "-m", "gunicorn", "-c", "config/gunicorn.conf.py"]
            env = site.env(
                GUNICORN_BIND=f"127.0.0.1:{port}", WEB_CONCURRENCY="3", GUNICORN_THREADS="2"
            )
        child = CHILDREN.spawn("serve", argv, env=env, log=site.logs / "serve.log", cwd=site.repo)
        servers[name] = (child, url)
    try:
        for _child, url in servers.values():
            deadline = time.time() + 60
            while time.time() < deadline:
                try:
                    if httpx.get(url + "/healthz", timeout=2).status_code < 500:
                        break
                except httpx.HTTPError:
                    time.sleep(0.3)
        for name, (_, url) in servers.items():  # warm
            asyncio.run(_reads(url, keys[name], clients=2, seconds=1))
        runs = {name: [] for name in servers}
        cpu = {name: 0.0 for name in servers}
        for turn_index in range(2):
            turn = list(servers) if turn_index == 0 else list(reversed(servers))
            for name in turn:
                pids = _tree(servers[name][0].popen.pid)
                used = cpu_seconds(*pids)
                runs[name].append(
                    asyncio.run(
                        _reads(servers[name][1], keys[name], clients=clients, seconds=seconds / 2)
                    )
                )
                cpu[name] += cpu_seconds(*pids) - used
    finally:
        for child, _ in servers.values():
            CHILDREN.stop(child)
    out = {}
    for name, parts in runs.items():
        latencies = [v for part in parts for v in part["latencies"]]
        elapsed = sum(part["elapsed"] for part in parts)
        out[name] = {
            "server": "runserver" if name == "before" else f"gunicorn 3x2 gthread ({name})",
            "per_s": round(len(latencies) / elapsed, 1),
            "p50_ms": ms(percentile(latencies, 50)),
            "p95_ms": ms(percentile(latencies, 95)),
            "p99_ms": ms(percentile(latencies, 99)),
            "errors": sum(part["errors"] for part in parts),
            "cpu_ms_per_request": round(cpu[name] * 1000 / max(1, len(latencies)), 2),
        }
    return {"clients": clients, "seconds_per_side": seconds, "servers": out}


def _tree(pid: int) -> list[int]:
    """A process and all its descendants (gunicorn's workers under `timeout`)."""
    pids, queue = [], [pid]
    while queue:
        current = queue.pop()
        pids.append(current)
        queue += child_pids(current)
    return pids


# --- Pipeline -------------------------------------------------------------------------------------


def pipeline(sides: dict, *, latencies=((1.0, 64, 8), (10.0, 16, 8))) -> dict:
    out = {}
    for latency, n, workers in latencies:
        runs = {name: [] for name in sides}
        turns = [("before", "after"), ("after", "before")] if latency < 5 else [("before", "after")]
        for turn in turns:
            for name in turn:
                result = pipeline_bench.run(
                    n=n, workers=workers, latency=latency, site=sides[name]["site"]
                )
                runs[name].append(result)
        out[f"{latency:g} s"] = {
            name: {
                "portal/direct": round(sum(r["ratio"] or 0 for r in rs) / len(rs), 3),
                "worker_cpu_ms_per_image": round(
                    sum(r["portal"]["cpu_s"]["worker"] for r in rs) * 1000 / (n * len(rs)), 1
                ),
                "worker_peak_mb": max(r["memory"]["worker_peak_mb"] or 0 for r in rs),
                "processing_ms_mean": round(
                    sum(r["portal"]["processing_ms_mean"] or 0 for r in rs) / len(rs), 1
                ),
                "failed": sum(r["portal"]["failed"] for r in rs),
            }
            for name, rs in runs.items()
        }
        out[f"{latency:g} s"]["jobs"] = n
        out[f"{latency:g} s"]["workers"] = workers
    return out


# --- Driver ---------------------------------------------------------------------------------------


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.compare", description=__doc__)
    parser.add_argument("--base", required=True, help="git ref of the version before")
    parser.add_argument("--after", default="HEAD", help="git ref of the version after")
    parser.add_argument("--only", default="gallery,worker,submit,serve,pipeline")
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--reuse-db", type=Path, help="a base site's populated db.sqlite3")
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=10.0, help="load per side")
    parser.add_argument("--mixed-seconds", type=float, default=60.0, help="mixed load per side")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args(argv)
    install_signal_handlers()
    chosen = args.only.split(",")
    root = Path(tempfile.mkdtemp(prefix="qwen-compare-"))
    results: dict = {
        "command": "python -m bench.compare " + " ".join(argv or sys.argv[1:]),
        "base": _rev(args.base),
        "after": _rev(args.after),
        "started_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": {"cpus": os.cpu_count(), "load_avg_1m_at_start": os.getloadavg()[0]},
        "results": {},
    }
    try:
        sides = {}
        for name, ref in (("before", args.base), ("after", args.after)):
            tree = export(ref, root / name / "tree")
            sides[name] = {
                "tree": tree,
                "site": Site(root=root / name / "site", repo=tree),
                "serve_site": Site(root=root / name / "serve", repo=tree, debug=True),
            }
        steps = {
            "gallery": lambda: gallery(
                sides, images=args.images, repeat=args.repeat, reuse_db=args.reuse_db
            ),
            "worker": lambda: worker(sides),
            "submit": lambda: submit(sides, seconds=args.seconds),
            "serve": lambda: serve(sides, seconds=args.seconds),
            "pipeline": lambda: pipeline(sides),
            "mixed": lambda: mixed(sides, seconds=args.mixed_seconds, db=args.reuse_db),
        }
        for name in chosen:
            load = round(os.getloadavg()[0], 2)
            print(f"compare: {name} … (load {load})", file=sys.stderr, flush=True)
            started = time.perf_counter()
            results["results"][name] = steps[name]()
            results["results"][name]["wall_s"] = round(time.perf_counter() - started, 1)
            results["results"][name]["load_avg_at_start"] = load
            args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    finally:
        CHILDREN.stop_all()
        shutil.rmtree(root, ignore_errors=True)
    results["finished_at"] = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
    args.out.write_text(json.dumps(results, indent=2, default=str) + "\n")
    print(render(results))
    return 0


def _rev(ref: str) -> str:
    out = subprocess.run(["git", "rev-parse", "--short", ref], cwd=REPO, capture_output=True)
    return out.stdout.decode().strip()


if __name__ == "__main__":
    sys.exit(main())
