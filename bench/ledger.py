"""Ledger: submit latency with the usage ledger's check, beside the code from before it.

The ledger adds work to every submission: it locks the scopes' Limit rows, prices the job,
counts each scope's day and period from the ledger and open reservations, and writes a
reservation beside the job. This runs bench.submit (`POST /v1/jobs` under N clients, a closed
loop and a paced load, each against a throwaway site) in a copy of the tree before the ledger
(`--before`, default: the commit where this branch left main) and in this tree, with and
without budgets on the user, team and key, interleaved round by round so a busy machine moves
all of them alike. Prints p50/p95 and the ratios (this tree / before).

    python -m bench.ledger [--before REV] [--rounds 2] [--clients 20] [--seconds 8]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

from bench.common import REPO, install_signal_handlers, ratio, table, write_json

RESULTS = Path(__file__).resolve().parent / "results-ledger.json"


def _merge_base() -> str:
    out = subprocess.run(
        ["git", "merge-base", "HEAD", "main"], cwd=REPO, capture_output=True, text=True
    )
    return out.stdout.strip() or "main"


def _export(rev: str, into: Path) -> Path:
    """The tree at `rev` (git archive: no checkout, the repository is not touched)."""
    archive = into / "tree.tar"
    with archive.open("wb") as handle:
        subprocess.run(["git", "archive", rev], cwd=REPO, stdout=handle, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / "tree", filter="data")
    return into / "tree"


def _submit(tree: Path, *, clients: int, seconds: float, budgets: bool) -> dict:
    argv = [
        sys.executable,
        "-m",
        "bench.submit",
        "--json",
        "--clients",
        str(clients),
        "--seconds",
        str(seconds),
    ]
    if budgets:
        argv.append("--budgets")
    env = {k: v for k, v in os.environ.items() if k != "QWEN_STUDIO_VAR_DIR"}
    result = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise RuntimeError(f"bench.submit in {tree} failed:\n{result.stderr[-2000:]}")
    text = result.stdout
    return json.loads(text[text.index("{") :])


def run(*, before: str, rounds: int, clients: int, seconds: float) -> dict:
    runs: dict[str, list[dict]] = {"before": [], "ledger": [], "ledger+budgets": []}
    with tempfile.TemporaryDirectory(prefix="qwen-bench-ledger-") as tmp:
        old = _export(before, Path(tmp))
        for _ in range(rounds):
            runs["before"].append(_submit(old, clients=clients, seconds=seconds, budgets=False))
            runs["ledger"].append(_submit(REPO, clients=clients, seconds=seconds, budgets=False))
            runs["ledger+budgets"].append(
                _submit(REPO, clients=clients, seconds=seconds, budgets=True)
            )
    summary = summarize(runs)
    return {
        "params": {"before": before, "rounds": rounds, "clients": clients, "seconds": seconds},
        "runs": runs,
        "summary": summary,
        "checks": [],
    }


def summarize(runs: dict[str, list[dict]]) -> list[tuple]:
    """Medians per load shape of each tree's runs, and this tree's ratios to `before`."""
    shapes: dict[str, dict] = {}
    for name, results in runs.items():
        for result in results:
            for level in result["levels"]:
                entry = shapes.setdefault(level["shape"], {}).setdefault(name, {})
                for key in ("p50_ms", "p95_ms", "per_s", "web_cpu_ms_per_request", "errors"):
                    entry.setdefault(key, []).append(level[key])
    summary = []
    for shape, by_name in shapes.items():
        median = {
            name: {k: statistics.median(v) for k, v in values.items()}
            for name, values in by_name.items()
        }
        base = median["before"]
        for name in runs:
            m = median[name]
            summary.append((f"{shape}, {name}: p50 / p95 ms", f"{m['p50_ms']} / {m['p95_ms']}"))
        for name in [n for n in runs if n != "before"]:
            m = median[name]
            summary.append(
                (
                    f"{shape}, {name}/before: p50, p95",
                    f"{ratio(m['p50_ms'], base['p50_ms'])}, {ratio(m['p95_ms'], base['p95_ms'])}",
                )
            )
            summary.append(
                (
                    f"{shape}, {name}/before: web CPU per request",
                    ratio(m["web_cpu_ms_per_request"], base["web_cpu_ms_per_request"]),
                )
            )
        summary.append(
            (
                f"{shape}: errors " + " / ".join(runs),
                " / ".join(str(sum(by_name[n]["errors"])) for n in runs),
            )
        )
    return summary


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ledger", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--before", help="the revision before the ledger (default: merge base with main)"
    )
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--clients", type=int, default=20)
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    install_signal_handlers()
    result = run(
        before=args.before or _merge_base(),
        rounds=args.rounds,
        clients=args.clients,
        seconds=args.seconds,
    )
    write_json(args.out, result)
    print(table([("ledger", label, value, "", "") for label, value in result["summary"]]))
    return result


if __name__ == "__main__":
    main()
