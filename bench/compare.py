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
import sqlite3
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
)

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
        _copy_db(reuse_db, base["site"].root / "db.sqlite3")
        shutil.copytree(reuse_db.parent / "media", base["site"].root / "media", dirs_exist_ok=True)
    base["site"].prepare()
    agents = {"before": AgentProcess(base["site"], "before")}
    if reuse_db:
        populated = {"viewer": "gallery-0", "reused": str(reuse_db)}
        populated["key"] = agents["before"].call("key", username="gallery-0")["key"]
    else:
        populated = agents["before"].call("populate", images=images, users=50, teams=5)
    agents["before"].close()
    _copy_db(base["site"].root / "db.sqlite3", after["site"].root / "db.sqlite3")
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


def _copy_db(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (WAL included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()


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
        _copy_db(db, target)
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


def render(results: dict) -> str:
    """The table: measure | before | after | after/before."""
    rows = []
    r = results["results"]
    if "gallery" in r:
        pages = r["gallery"]["pages"]
        for name, sides in pages.items():
            b, a = sides["before"], sides["after"]
            rows.append((f"gallery {name} p95 ms", b["p95_ms"], a["p95_ms"]))
        for scope in ("mine", "team", "public"):
            for page in ("grid", "api"):
                first, deep = pages.get(f"{scope} {page} first"), pages.get(f"{scope} {page} deep")
                if first and deep:
                    rows.append(
                        (
                            f"gallery {scope} {page} deep/first (p50)",
                            round(deep["before"]["p50_ms"] / first["before"]["p50_ms"], 2),
                            round(deep["after"]["p50_ms"] / first["after"]["p50_ms"], 2),
                        )
                    )
        rows.append(("gallery upgrade (migrate) s", None, r["gallery"]["upgrade_migrate_s"]))
    if "worker" in r:
        cpu = r["worker"]["cpu_ms_per_image"]
        for phase in ("process", "safety", "total"):
            rows.append(
                (f"worker CPU ms per image: {phase}", cpu["before"][phase], cpu["after"][phase])
            )
    if "submit" in r:
        for shape, sides in r["submit"]["shapes"].items():
            for key in ("per_s", "p50_ms_max", "p95_ms_max", "errors", "web_cpu_ms_per_request"):
                rows.append(
                    (f"submit 50 clients {shape}: {key}", sides["before"][key], sides["after"][key])
                )
    if "serve" in r:
        for key in ("per_s", "p50_ms", "p95_ms", "p99_ms", "errors", "cpu_ms_per_request"):
            s = r["serve"]["servers"]
            if key not in s["before"]:
                continue
            if "after, DEBUG off" in s:
                rows.append(
                    (
                        f"make run server, API reads x50 (DEBUG off after): {key}",
                        s["before"][key],
                        s["after, DEBUG off"][key],
                    )
                )
            rows.append(
                (f"make run server, API reads x50: {key}", s["before"][key], s["after"][key])
            )
    if "mixed" in r:
        for kind in ("all", "browse", "search", "submit", "poll"):
            for key in ("p50_ms", "p95_ms", "p99_ms"):
                m = r["mixed"]["sides"]
                rows.append(
                    (f"mixed 50 users {kind}: {key}", m["before"][kind][key], m["after"][kind][key])
                )
        m = r["mixed"]["sides"]
        rows.append(("mixed 50 users: requests", m["before"]["requests"], m["after"]["requests"]))
        rows.append(("mixed 50 users: errors", m["before"]["errors"], m["after"]["errors"]))
    if "pipeline" in r:
        for latency, sides in r["pipeline"].items():
            if not isinstance(sides, dict):
                continue
            for key in ("portal/direct", "worker_cpu_ms_per_image", "worker_peak_mb", "failed"):
                rows.append(
                    (
                        f"pipeline {latency} latency: {key}",
                        sides["before"][key],
                        sides["after"][key],
                    )
                )
    lines = ["| measure | before | after | after/before |", "|---|---|---|---|"]
    for label, before, after in rows:
        ratio = (
            round(after / before, 3)
            if isinstance(before, int | float) and before and isinstance(after, int | float)
            else ""
        )
        lines.append(f"| {label} | {_fmt(before)} | {_fmt(after)} | {ratio} |")
    return "\n".join(lines)


def _fmt(value) -> str:
    return "–" if value is None else str(value)


if __name__ == "__main__":
    sys.exit(main())
