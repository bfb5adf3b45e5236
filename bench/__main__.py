"""`make bench` / `python -m bench`: every benchmark in one throwaway site; a table and JSON.

Runs pipeline + memory (one pipeline run; memory reads its processes' peaks, then a ZIP and a
big job on them), submit, live (200 open Create pages polling), gallery and provenance (signing
time per image), all against one temporary site (its own var dir), and writes
bench/results.json. bench.gpu needs CUDA and a model, so it is listed, not run.

    python -m bench                      # the full run (about 3-4 minutes on 2 cores)
    python -m bench --quick              # small sizes, for a quick look (under a minute)
    python -m bench --only pipeline,gallery -n 32 --images 20000
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import platform
import shlex
import signal
import subprocess
import sys
import time
import traceback
from pathlib import Path

from bench import gallery, live, memory, pipeline, provenance, submit
from bench.common import REPO, Site, install_signal_handlers, result_rows, table, write_json

NAMES = ("pipeline", "memory", "submit", "live", "gallery", "provenance", "gpu")
RESULTS = Path(__file__).resolve().parent / "results.json"
TIME_LIMIT = 900  # seconds: the whole run stops by itself after this


def _parse(argv):
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n")[0])
    parser.add_argument("--only", help=f"comma-separated subset of {', '.join(NAMES)}")
    parser.add_argument("--quick", action="store_true", help="small sizes (a smoke run)")
    parser.add_argument("-n", type=int, help="pipeline jobs (default 64)")
    parser.add_argument("-w", "--workers", type=int, help="Huey workers = client concurrency (8)")
    parser.add_argument("--latency", type=float, help="fake endpoint latency, s (1.0)")
    parser.add_argument("--images", type=int, help="gallery images (100000)")
    parser.add_argument("--seconds", type=float, help="submit: seconds per load level (10)")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    parser.add_argument("--keep", action="store_true", help="keep the site's var dir (logs)")
    return parser.parse_args(argv)


def _sizes(args) -> dict:
    quick = args.quick
    return {
        "n": args.n or (8 if quick else 64),
        "workers": args.workers or (4 if quick else 8),
        "latency": args.latency if args.latency is not None else (0.2 if quick else 1.0),
        "images": args.images or (5_000 if quick else 100_000),
        "seconds": args.seconds or (2.0 if quick else 10.0),
        "zip_images": 100 if quick else 1000,
        "repeat": 10 if quick else 30,
    }


def _git_commit() -> str:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        )
        return out.stdout.strip()
    except OSError:
        return ""


def _timed(name: str, func, results: dict) -> None:
    load = round(os.getloadavg()[0], 2)
    print(f"bench: {name} … (load average {load})", file=sys.stderr, flush=True)
    started = time.perf_counter()
    try:
        results[name] = func()
    except (Exception, TimeoutError) as exc:  # one failed benchmark must not hide the others
        traceback.print_exc()
        results[name] = {"error": f"{type(exc).__name__}: {exc}"}
    results[name]["wall_s"] = round(time.perf_counter() - started, 1)
    results[name]["load_avg_at_start"] = load  # other work on the machine skews the numbers
    print(f"bench: {name} done in {results[name]['wall_s']} s", file=sys.stderr, flush=True)


def _time_limit(signum, frame):
    raise TimeoutError(f"the benchmark run passed its {TIME_LIMIT} s limit")


def main(argv=None) -> int:
    args = _parse(argv)
    install_signal_handlers()
    signal.signal(signal.SIGALRM, _time_limit)
    signal.alarm(TIME_LIMIT)
    chosen = set(args.only.split(",")) if args.only else set(NAMES)
    unknown = chosen - set(NAMES)
    if unknown:
        sys.exit(f"Unknown benchmark(s): {', '.join(sorted(unknown))}")
    sizes = _sizes(args)
    started = time.perf_counter()
    results: dict = {}
    with Site(keep=args.keep) as site:
        _timed("site", lambda: {"root": str(site.root), **_prepare(site)}, results)
        if {"pipeline", "memory"} & chosen:
            holder: dict = {}

            def both() -> dict:
                result = pipeline.run(
                    n=sizes["n"],
                    workers=sizes["workers"],
                    latency=sizes["latency"],
                    site=site,
                    extra=(
                        memory.make_extra(zip_images=sizes["zip_images"])
                        if "memory" in chosen
                        else None
                    ),
                )
                holder["memory"] = memory.summarize(result) if "memory" in chosen else None
                result.pop("extra", None)
                return result

            _timed("pipeline", both, results)
            if "memory" in chosen:
                results["memory"] = holder.get("memory") or {
                    "error": results["pipeline"].get("error", "no result")
                }
            if "pipeline" not in chosen:
                results.pop("pipeline")
        if "submit" in chosen:
            _timed(
                "submit",
                lambda: submit.run(clients=(20, 50), seconds=sizes["seconds"], site=site),
                results,
            )
        if "live" in chosen:
            _timed(
                "live",
                lambda: live.run(
                    pages=20 if sizes["seconds"] < 5 else 200,
                    seconds=sizes["seconds"] * 2,
                    site=site,
                ),
                results,
            )
        if "gallery" in chosen:

            def in_process() -> dict:
                gallery.setup_django(site)
                return gallery.run(
                    images=sizes["images"], users=50, teams=5, repeat=sizes["repeat"]
                )

            _timed("gallery", in_process, results)
        if "provenance" in chosen:
            _timed("provenance", lambda: provenance.run(repeat=sizes["repeat"]), results)
        if args.keep:
            print(f"bench: site kept in {site.root}", file=sys.stderr)
    signal.alarm(0)
    if "gpu" in chosen:
        results["gpu"] = {"skipped": "needs CUDA and a model: python -m bench.gpu"}
    command = "python -m bench" + (" " + shlex.join(argv if argv is not None else sys.argv[1:]))
    output = {
        "command": command.strip(),
        "finished_at": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "wall_s": round(time.perf_counter() - started, 1),
        "machine": {
            "cpus": os.cpu_count(),
            "load_avg_1m": round(os.getloadavg()[0], 2),
            "python": platform.python_version(),
            "platform": platform.platform(terse=True),
        },
        "commit": _git_commit(),
        "sizes": sizes,
        "results": {name: results[name] for name in NAMES if name in results},
    }
    write_json(args.out, output)
    rows = []
    for name in NAMES:
        if name in results:
            rows += result_rows(name, results[name])
    print(table(rows))
    print(
        f"\n{output['command']} · {output['finished_at']} · {output['wall_s']} s · "
        f"{output['machine']['cpus']} CPUs, load {output['machine']['load_avg_1m']} · "
        f"commit {output['commit']} · written to {os.path.relpath(args.out, Path.cwd())}"
    )
    failed = [name for name in NAMES if results.get(name, {}).get("error")]
    return 1 if failed else 0


def _prepare(site: Site) -> dict:
    site.prepare()
    return {"debug": site.debug}


if __name__ == "__main__":
    sys.exit(main())
