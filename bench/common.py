"""Shared plumbing for the benchmarks: a throwaway portal site, child processes, stats, tables.

A `Site` is a portal of its own in a temporary var dir (QWEN_STUDIO_VAR_DIR): its SQLite
database, Huey queue and media never touch the developer's `var/`. Its web server (gunicorn),
Huey consumer and the fake image endpoint run as child processes bound to 127.0.0.1 on ports
8500-8599. Every child runs under `timeout` (it stops by itself), in its own process group, and
is told to die with the benchmark (PR_SET_PDEATHSIG); `Children.stop_all` ends the groups on
any exit, failures included.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

# Ports and processes live in bench.processes; the benchmarks import them from here too.
from bench.processes import (  # noqa: F401
    CHILD_LIFETIME,
    CHILDREN,
    PORTS,
    REPO,
    Child,
    Children,
    child_pids,
    cpu_seconds,
    free_port,
    install_signal_handlers,
    peak_rss_mb,
    reset_peak,
    rss_mb,
)

BENCH_USERS = ("bench-pipeline", "bench-submit", "bench-memory")


# --- Numbers ------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100); None for no values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, min(len(ordered), math.ceil(q / 100 * len(ordered))))
    return ordered[rank - 1]


def mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def ms(seconds: float | None) -> float | None:
    return None if seconds is None else round(seconds * 1000, 1)


def ratio(a: float | None, b: float | None) -> float | None:
    return None if not a or not b else round(a / b, 3)


@dataclass
class Check:
    """One target: a measured value against what it should reach."""

    name: str
    value: float | None
    target: float
    op: str  # "<=" or ">="
    unit: str = ""

    @property
    def met(self) -> bool | None:
        if self.value is None:
            return None
        return self.value <= self.target if self.op == "<=" else self.value >= self.target

    def as_dict(self) -> dict:
        return {
            "name": self.name,
            "value": self.value,
            "target": f"{self.op} {self.target:g}{self.unit}",
            "met": self.met,
        }


def wait_until(predicate, *, timeout: float, interval: float = 0.1, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"Timed out after {timeout:g} s waiting for {what or predicate}.")


# --- A throwaway portal ---------------------------------------------------------------------------


@dataclass
class WebServer:
    child: Child
    url: str
    workers: int
    threads: int

    def worker_pids(self) -> list[int]:
        return child_pids(self.child.pid)

    def pids(self) -> list[int]:
        return [self.child.pid, *self.worker_pids()]

    def ready(self, timeout: float = 90) -> None:
        _wait_http(self.child, self.url + "/healthz", timeout=timeout)
        wait_until(
            lambda: len(self.worker_pids()) >= self.workers, timeout=30, what="gunicorn workers"
        )


@dataclass
class Consumer:
    child: Child
    log_start: int  # where this consumer's lines begin in the shared log

    @property
    def pid(self) -> int:
        return self.child.pid

    @property
    def log(self) -> Path:
        return self.child.log

    def ready(self, timeout: float = 90) -> None:
        def started() -> bool:
            if not self.child.alive():
                raise RuntimeError("The Huey consumer exited:\n" + self.child.log_tail())
            text = self.log.read_text(errors="replace")[self.log_start :]
            return "consumer started" in text.lower()

        wait_until(started, timeout=timeout, what="the Huey consumer")


@dataclass
class FakeServer:
    child: Child
    url: str

    def ready(self, timeout: float = 90) -> None:
        _wait_http(self.child, self.url + "/_fake/requests", timeout=timeout)


@dataclass
class Site:
    """A portal in its own temporary var dir, with bench users and API keys.

    `debug=False` (the default) runs like production (DEBUG off, collected static files);
    the smoke tests use `debug=True` to skip collectstatic.
    """

    root: Path | None = None
    debug: bool = False
    keep: bool = False
    extra_env: dict = field(default_factory=dict)
    # The code the site runs: this checkout, or another version exported beside it
    # (bench.compare runs the base and the change side by side).
    repo: Path = REPO
    _owned: bool = False
    _prepared: bool = False
    _keys: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.root is None:
            self.root = Path(tempfile.mkdtemp(prefix="qwen-bench-"))
            self._owned = True
        self.root = Path(self.root)
        (self.root / "logs").mkdir(parents=True, exist_ok=True)
        self.secret = "bench-" + os.urandom(24).hex()

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    def env(self, **extra: str) -> dict:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("QWEN_", "DJANGO_", "DATABASE_URL", "REDIS_URL", "AWS_"))
        }
        env.update(
            DJANGO_SETTINGS_MODULE="config.settings",
            QWEN_STUDIO_VAR_DIR=str(self.root),
            DJANGO_DEBUG="1" if self.debug else "0",
            DJANGO_SECRET_KEY=self.secret,
            DJANGO_SECURE_SSL_REDIRECT="0",
            DJANGO_LOG_LEVEL="INFO",
            QUOTA_IMAGES_PER_DAY="1000000",
            QUOTA_CONCURRENT_JOBS="1000000",
            GALLERY_ZIP_MAX_IMAGES="1000",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra_env)
        env.update(extra)
        return env

    def prepare(self) -> Site:
        """Migrate, collect static files (production mode) and make the bench users, in one
        process (each Django start costs a second or two)."""
        if self._prepared:
            return self
        args = ["prepare", *(["--collectstatic"] if not self.debug else []), *BENCH_USERS]
        self._keys.update(json.loads(self.run_python("bench.site", *args))["keys"])
        self._prepared = True
        return self

    def api_key(self, username: str) -> str:
        """An API key for a bench user with quotas high enough never to answer 429."""
        self.prepare()
        if username not in self._keys:
            out = self.run_python("bench.site", "user", username)
            self._keys[username] = json.loads(out)["key"]
        return self._keys[username]

    def run_python(self, module: str, *args: str, timeout: float = 300) -> str:
        result = subprocess.run(
            [sys.executable, "-m", module, *args],
            cwd=self.repo,
            env=self.env(),
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if result.returncode != 0:
            raise RuntimeError(f"{module} {' '.join(args)} failed:\n{result.stderr[-3000:]}")
        return result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""

    # --- Processes ------------------------------------------------------------------------------
    # start_* spawn a process and return at once (so several boot side by side); ready()
    # waits for it; `running()` does both for a group and stops them all on the way out.

    def start_web(self, *, workers: int = 3, threads: int = 2, **env: str) -> WebServer:
        """gunicorn (gthread) on 127.0.0.1."""
        self.prepare()
        port = free_port()
        argv = [
            sys.executable,
            "-m",
            "gunicorn",
            "config.wsgi:application",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(workers),
            "--worker-class",
            "gthread",
            "--threads",
            str(threads),
            "--backlog",
            "256",
            "--timeout",
            "120",
            "--graceful-timeout",
            "5",
            "--no-control-socket",
        ]
        child = CHILDREN.spawn(
            "web", argv, env=self.env(**env), log=self.logs / "web.log", cwd=self.repo
        )
        return WebServer(child, f"http://127.0.0.1:{port}", workers, threads)

    def start_consumer(self, *, workers: int = 8, **env: str) -> Consumer:
        """A Huey consumer with thread workers."""
        self.prepare()
        log = self.logs / "consumer.log"
        start = log.stat().st_size if log.exists() else 0
        argv = [
            sys.executable,
            "manage.py",
            "run_huey",
            "--workers",
            str(workers),
            "--worker-type",
            "thread",
        ]
        child = CHILDREN.spawn("consumer", argv, env=self.env(**env), log=log, cwd=self.repo)
        return Consumer(child, start)

    def start_fake(self, *, latency: float) -> FakeServer:
        """The fake hosted endpoint in a process of its own (its PNG rendering needs a CPU)."""
        port = free_port()
        argv = [
            sys.executable,
            "manage.py",
            "fake_endpoint",
            "--port",
            str(port),
            "--latency",
            str(latency),
            "--lifetime",
            str(CHILD_LIFETIME),
        ]
        # QWEN_DEV_TOOLS: the fakes app (and its command) beside the production settings.
        env = self.env(QWEN_DEV_TOOLS="1")
        child = CHILDREN.spawn("fake", argv, env=env, log=self.logs / "fake.log", cwd=self.repo)
        return FakeServer(child, f"http://127.0.0.1:{port}")

    @contextlib.contextmanager
    def running(self, *services):
        """Wait until every service is ready; stop them all when the block ends."""
        try:
            for service in services:
                service.ready()
            yield services
        finally:
            for service in reversed(services):
                CHILDREN.stop(service.child)

    @contextlib.contextmanager
    def web(self, **options) -> Iterator[WebServer]:
        with self.running(self.start_web(**options)) as (server,):
            yield server

    def close(self) -> None:
        if self._owned and not self.keep and self.root is not None:
            shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> Site:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def _wait_http(child: Child, url: str, *, timeout: float) -> None:
    def up() -> bool:
        if not child.alive():
            raise RuntimeError(f"{child.name} exited before answering:\n{child.log_tail()}")
        try:
            return httpx.get(url, timeout=2).status_code < 500
        except httpx.HTTPError:
            return False

    wait_until(up, timeout=timeout, interval=0.2, what=url)


# --- Log lines of generation.events ---------------------------------------------------------------

_EVENT = re.compile(r"event=(\w+) job=([0-9a-f-]{36})(.*)$")
_FIELD = re.compile(r"(\w+)=(\S+)")


def job_events(log: Path, event: str) -> dict[str, dict[str, str]]:
    """{job public id: fields} of the `event` lines in a log."""
    found: dict[str, dict[str, str]] = {}
    with contextlib.suppress(OSError), open(log, errors="replace") as handle:
        for line in handle:
            match = _EVENT.search(line)
            if match and match.group(1) == event:
                found[match.group(2)] = dict(_FIELD.findall(match.group(3)))
    return found


# --- Output ---------------------------------------------------------------------------------------


def fmt(value) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 10 else f"{value:,.1f}"
    return str(value)


def table(rows: list[tuple]) -> str:
    """A Markdown table (readable as plain text too) of (benchmark, metric, value, target, met)."""
    header = ("benchmark", "measure", "value", "target", "met")
    cells = [header] + [
        tuple(fmt(c) if i == 2 else (c or "") for i, c in enumerate(r)) for r in rows
    ]
    cells = [tuple("" if c is None else str(c) for c in row) for row in cells]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    lines = []
    for index, row in enumerate(cells):
        lines.append("| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |")
        if index == 0:
            lines.append("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def result_rows(name: str, result: dict) -> list[tuple]:
    """Table rows of one benchmark's result: its `summary` lines, then its checks."""
    if result.get("skipped"):
        return [(name, "skipped", None, result["skipped"], "")]
    if result.get("error"):
        return [(name, "error", None, result["error"][:80], "")]
    rows = []
    checks = {c["name"]: c for c in result.get("checks", [])}
    for label, value in result.get("summary", []):
        check = checks.pop(label, None)
        if check:
            met = {True: "yes", False: "NO", None: "–"}[check["met"]]
            rows.append((name, label, value, check["target"], met))
        else:
            rows.append((name, label, value, "", ""))
    for check in checks.values():
        met = {True: "yes", False: "NO", None: "–"}[check["met"]]
        rows.append((name, check["name"], check["value"], check["target"], met))
    return rows


def write_json(path: Path, data: dict) -> None:
    path.write_text(json.dumps(data, indent=2, default=str) + "\n")


def sqlite_copy(source: Path, target: Path) -> None:
    """A consistent copy of a SQLite database (WAL included)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(target) + suffix).unlink(missing_ok=True)
    src, dst = sqlite3.connect(source), sqlite3.connect(target)
    with dst:
        src.backup(dst)
    src.close()
    dst.close()
