"""Render the reliability figures into RELIABILITY.md: `python -m tests.reliability.report`.

Reads var/reliability/last-run.json (written by every pytest run that includes
tests/reliability) and replaces the blocks between the `<!-- figures:start/end -->` and
`<!-- faults:start/end -->` markers: the figures of each suite's last run, and the table of
remote faults with the outcome each must have (taken from the fault suite itself, so the
table cannot drift from what is tested).
"""

from __future__ import annotations

import json
import os
import re
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]
DOCUMENT = BASE_DIR / "RELIABILITY.md"

SUITES = {
    "remote_faults": (
        "Remote faults",
        "tests/reliability/test_remote_faults.py",
        ["faults_injected", "jobs_run", "jobs_succeeded", "jobs_failed", "jobs_lost"]
        + ["partial_files", "duplicate_deliveries"],
    ),
    "worker_faults": (
        "Worker faults",
        "tests/reliability/test_worker_faults.py",
        ["consumers_killed", "lost_enqueues", "faults_injected", "jobs_run", "jobs_succeeded"]
        + ["jobs_failed", "jobs_lost"],
    ),
    "chaos_soak": (
        "Chaos soak",
        "tests/reliability/test_chaos_soak.py",
        ["jobs_submitted", "jobs_succeeded", "kills", "web_kills", "consumer_kills"]
        + ["jobs_lost", "jobs_duplicated", "jobs_stuck", "client_5xx", "connection_errors"]
        + ["jobs_interrupted", "interrupted_job_ms_max", "web_recovery_ms_max", "drain_ms"],
    ),
    "api_fuzz": ("Bad input, /v1", "tests/reliability/test_api_fuzz.py", ["examples"]),
    "schemathesis_run": (
        "`st run` over /v1, all checks, stateful",
        "tests/reliability/test_schemathesis_run.py",
        ["requests", "failures"],
    ),
    "form_fuzz": (
        "Bad input, pages",
        "tests/reliability/test_form_fuzz.py",
        ["examples", "rejected", "accepted"],
    ),
    "access_matrix": (
        "Access matrix",
        "tests/reliability/test_access_matrix.py",
        ["routes_known", "routes", "requests"],
    ),
    "security_headers": (
        "Headers, media, CSRF",
        "tests/reliability/test_headers.py, test_browser_security.py",
        ["responses_checked", "csrf_checks", "redirects_checked"],
    ),
    "secrets_in_logs": (
        "Secrets in logs",
        "tests/reliability/test_secrets_not_logged.py",
        ["log_lines", "secrets_checked", "secrets_leaked"],
    ),
}
LABELS = {
    "faults_injected": "faults injected",
    "jobs_run": "jobs run",
    "jobs_succeeded": "succeeded",
    "jobs_failed": "failed cleanly",
    "jobs_lost": "**lost**",
    "partial_files": "partial files",
    "duplicate_deliveries": "duplicate deliveries",
    "consumers_killed": "consumers killed",
    "lost_enqueues": "lost enqueues",
    "examples": "requests generated",
    "rejected": "refused",
    "accepted": "accepted (checked)",
    "routes_known": "routes and operations known",
    "routes": "entries checked",
    "requests": "requests",
    "responses_checked": "responses checked",
    "csrf_checks": "CSRF refusals",
    "redirects_checked": "off-site redirects tried",
    "log_lines": "log lines read",
    "secrets_checked": "kinds of secret",
    "secrets_leaked": "**leaked**",
    "server_errors": "**5xx**",
    "jobs_submitted": "jobs submitted",
    "kills": "SIGKILLs",
    "web_kills": "of the web server",
    "consumer_kills": "of consumers",
    "jobs_duplicated": "**duplicated**",
    "jobs_stuck": "**stuck**",
    "client_5xx": "**5xx seen by clients**",
    "connection_errors": "refused/dropped connections (retried)",
    "jobs_interrupted": "jobs a kill interrupted",
    "interrupted_job_ms_max": "slowest of those, submit to end (ms)",
    "web_recovery_ms_max": "web restart to healthy, max (ms)",
    "drain_ms": "drain after the chaos (ms)",
    "failures": "**failures**",
}


def figures_block(summary: dict) -> str:
    suites = summary.get("suites", {})
    lines = [
        "| Suite | Tests | Figures | Run (UTC) |",
        "|---|---|---|---|",
    ]
    totals = {"faults": 0, "jobs": 0, "lost": 0, "examples": 0, "server_errors": 0}
    for key, (title, where, fields) in SUITES.items():
        entry = suites.get(key)
        if entry is None:
            lines.append(f"| {title} (`{where}`) | not run yet | | |")
            continue
        figures = entry["figures"]
        shown = [f"{LABELS[name]}: {figures.get(name, 0)}" for name in fields]
        if "server_errors" in figures:
            shown.append(f"{LABELS['server_errors']}: {figures['server_errors']}")
        tests = f"{entry['tests_passed']} passed"
        if entry["tests_failed"]:
            tests += f", **{entry['tests_failed']} failed**"
        tests += f" ({entry['seconds']:g} s)"
        date = entry["date"].replace("T", " ").removesuffix("+00:00")
        lines.append(f"| {title} (`{where}`) | {tests} | {'; '.join(shown)} | {date} |")
        totals["faults"] += figures.get("faults_injected", 0) + figures.get("kills", 0)
        totals["jobs"] += figures.get("jobs_run", 0) + figures.get("jobs_submitted", 0)
        totals["lost"] += figures.get("jobs_lost", 0)
        totals["examples"] += figures.get("examples", 0)
        if key == "schemathesis_run":
            totals["examples"] += figures.get("requests", 0)
        totals["server_errors"] += figures.get("server_errors", 0) + figures.get("client_5xx", 0)
    lines.append("")
    lines.append(
        f"**Totals:** {totals['faults']} faults injected, {totals['jobs']} jobs run, "
        f"**{totals['lost']} lost**; {totals['examples']} bad-input requests generated, "
        f"**{totals['server_errors']} answered with a 5xx**."
    )
    return "\n".join(lines)


def faults_block() -> str:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.test_settings")
    import django

    django.setup()
    from tests.reliability.test_remote_faults import MAX_ATTEMPTS, SCENARIOS

    lines = [
        f"| Fault (fake endpoint) | Ends | Error code | Attempts (cap {MAX_ATTEMPTS}) |",
        "|---|---|---|---|",
    ]
    for scenario in SCENARIOS:
        retried = sorted(set(scenario.retried))
        if scenario.status == "succeeded":
            code = f"retried on `{'`, `'.join(retried)}`" if retried else "—"
        else:
            code = f"`{scenario.code}`"
        lines.append(
            f"| {scenario.id} | {scenario.status} | {code} | {len(scenario.retried) + 1} |"
        )
    return "\n".join(lines)


def _replace(text: str, marker: str, block: str) -> str:
    pattern = re.compile(
        rf"(<!-- {marker}:start -->\n).*?(\n<!-- {marker}:end -->)", flags=re.DOTALL
    )
    if not pattern.search(text):
        raise SystemExit(f"RELIABILITY.md has no <!-- {marker}:start/end --> markers")
    return pattern.sub(lambda m: m.group(1) + block + m.group(2), text)


def main(argv: list[str]) -> int:
    from tests.reliability.ledger import SUMMARY_PATH

    try:
        summary = json.loads(SUMMARY_PATH.read_text())
    except (OSError, ValueError):
        print(f"No figures at {SUMMARY_PATH}: run `make test` or `pytest tests/reliability`.")
        return 1
    text = DOCUMENT.read_text()
    text = _replace(text, "figures", figures_block(summary))
    text = _replace(text, "faults", faults_block())
    DOCUMENT.write_text(text)
    print(f"RELIABILITY.md updated from {SUMMARY_PATH} ({summary.get('updated')})")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
