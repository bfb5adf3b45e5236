"""The figures of the reliability suites: tests add what they did, the session writes them.

Each suite (a name such as "remote_faults") keeps counters (faults injected, jobs run, jobs
lost, examples generated …). At the end of a pytest session that ran any of them, the counters
are merged into var/reliability/last-run.json, one entry per suite with its date and whether
all its tests passed; `make reliability-report` renders that file into RELIABILITY.md.
"""

from __future__ import annotations

import collections
import datetime as dt
import json
import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
SUMMARY_PATH = Path(
    os.environ.get("QWEN_RELIABILITY_SUMMARY", BASE_DIR / "var" / "reliability" / "last-run.json")
)

_counts: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
_outcomes: dict[str, collections.Counter] = collections.defaultdict(collections.Counter)
_seconds: dict[str, float] = collections.defaultdict(float)


def record(suite: str, **counts: int) -> None:
    """Add to a suite's counters, e.g. record("remote_faults", faults_injected=3, jobs_run=1)."""
    _counts[suite].update({key: int(value) for key, value in counts.items()})


def outcome(suite: str, passed: bool, seconds: float) -> None:
    _outcomes[suite]["passed" if passed else "failed"] += 1
    _seconds[suite] += seconds


def suites_seen() -> set[str]:
    return set(_counts) | set(_outcomes)


def write(path: Path = SUMMARY_PATH) -> Path | None:
    """Merge this session's suites into the summary file (other suites keep their figures)."""
    seen = suites_seen()
    if not seen:
        return None
    try:
        summary = json.loads(path.read_text())
    except (OSError, ValueError):
        summary = {}
    suites = summary.setdefault("suites", {})
    now = dt.datetime.now(dt.UTC).replace(microsecond=0).isoformat()
    for suite in sorted(seen):
        outcomes = _outcomes.get(suite, collections.Counter())
        suites[suite] = {
            "date": now,
            "tests_passed": outcomes["passed"],
            "tests_failed": outcomes["failed"],
            "seconds": round(_seconds.get(suite, 0.0), 1),
            "figures": dict(sorted(_counts.get(suite, {}).items())),
        }
    summary["updated"] = now
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    return path


def reset() -> None:
    _counts.clear()
    _outcomes.clear()
    _seconds.clear()
