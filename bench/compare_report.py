"""bench.compare's table: measure | before | after | after/before."""

from __future__ import annotations


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
