"""Shared plumbing for the benchmarks: a throwaway portal site, child processes, stats, tables.

A `Site` is a portal of its own in a temporary var dir (QWEN_STUDIO_VAR_DIR): its SQLite
database, Huey queue and media never touch the developer's `var/`. Its web server (gunicorn),
Huey consumer and the fake image endpoint run as child processes bound to 127.0.0.1 on ports
8500-8599. Every child runs under `timeout` (it stops by itself), in its own process group, and
is told to die with the benchmark (PR_SET_PDEATHSIG); `Children.stop_all` ends the groups on
any exit, failures included.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import json
import math
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parent.parent
PORTS = range(8500, 8600)
BENCH_USERS = ("bench-pipeline", "bench-submit", "bench-memory")
CHILD_LIFETIME = 900  # seconds: no child outlives a forgotten benchmark by more than this


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


# --- Ports and processes ------------------------------------------------------------------------


_handed_out: set[int] = set()


def free_port() -> int:
    """A port in 8500-8599 that nobody listens on now and that this process has not handed
    out already (a server started a moment ago may not be listening yet)."""
    for port in PORTS:
        if port in _handed_out:
            continue
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            _handed_out.add(port)
            return port
    if _handed_out:  # all handed out over a long session: the early ones are long gone
        _handed_out.clear()
        return free_port()
    raise RuntimeError("No free port in 8500-8599.")


_PR_SET_PDEATHSIG = 1


def _die_with_parent() -> None:  # runs in the child between fork and exec
    with contextlib.suppress(Exception):
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)


def child_pids(pid: int) -> list[int]:
    pids: list[int] = []
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{pid}/task"):
            with open(f"/proc/{pid}/task/{task}/children") as handle:
                pids += [int(p) for p in handle.read().split()]
    return pids


def _status_kb(pid: int, key: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status") as handle:
            for line in handle:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        return None
    return None


def peak_rss_mb(pid: int) -> float | None:
    """Peak resident memory (VmHWM) of a process since it started or since reset_peak()."""
    kb = _status_kb(pid, "VmHWM")
    return None if kb is None else round(kb / 1024, 1)


def rss_mb(pid: int) -> float | None:
    kb = _status_kb(pid, "VmRSS")
    return None if kb is None else round(kb / 1024, 1)


def cpu_seconds(*pids: int) -> float:
    """User + system CPU time the processes have used so far (0 for one that is gone)."""
    total = 0
    for pid in pids:
        with contextlib.suppress(OSError, IndexError, ValueError), open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return total / os.sysconf("SC_CLK_TCK")


def reset_peak(pid: int) -> None:
    """Set VmHWM back to the current RSS (Linux ≥ 4.0: write 5 to clear_refs)."""
    with contextlib.suppress(OSError), open(f"/proc/{pid}/clear_refs", "w") as handle:
        handle.write("5")


class Child:
    def __init__(self, name: str, popen: subprocess.Popen, log: Path) -> None:
        self.name, self.popen, self.log = name, popen, log

    @property
    def pid(self) -> int:
        """The program's own pid (the child of the `timeout` wrapper)."""
        kids = child_pids(self.popen.pid)
        return kids[0] if kids else self.popen.pid

    def alive(self) -> bool:
        return self.popen.poll() is None

    def log_tail(self, lines: int = 30) -> str:
        with contextlib.suppress(OSError):
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        return ""


class Children:
    """Child processes in their own process groups; all of them end on stop_all()."""

    def __init__(self) -> None:
        self._children: list[Child] = []
        self._lock = threading.Lock()
        atexit.register(self.stop_all)

    def spawn(self, name: str, argv: list[str], *, env: dict, log: Path, cwd: Path = REPO) -> Child:
        handle = open(log, "ab")  # noqa: SIM115 - the child owns it
        try:
            popen = subprocess.Popen(
                ["timeout", "-k", "5", str(CHILD_LIFETIME), *argv],
                cwd=cwd,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=handle,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                preexec_fn=_die_with_parent,  # noqa: PLW1509
            )
        finally:
            handle.close()
        child = Child(name, popen, log)
        with self._lock:
            self._children.append(child)
        return child

    def stop(self, child: Child, *, sig: int = signal.SIGTERM, grace: float = 10.0) -> None:
        if child.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(child.popen.pid, sig)
            try:
                child.popen.wait(grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(child.popen.pid, signal.SIGKILL)
                child.popen.wait(5)
        # Whatever is left in the group (gunicorn workers, a stuck thread) goes too.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.popen.pid, signal.SIGKILL)
        with self._lock, contextlib.suppress(ValueError):
            self._children.remove(child)

    def stop_all(self) -> None:
        with self._lock:
            children = list(self._children)
        for child in reversed(children):
            self.stop(child, grace=5.0)


CHILDREN = Children()


def _sigterm_exits(signum, frame) -> None:  # so finally-blocks and atexit run on `kill`
    raise SystemExit(128 + signum)


def install_signal_handlers() -> None:
    if threading.current_thread() is threading.main_thread():
        signal.signal(signal.SIGTERM, _sigterm_exits)
        signal.signal(signal.SIGHUP, _sigterm_exits)


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
