"""Child processes of the benchmarks: free ports, process trees, their memory and CPU, and the
registry that ends every child on any exit (see bench/common.py for the sites that use them).
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import os
import signal
import socket
import subprocess
import threading
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
PORTS = range(8500, 8600)
CHILD_LIFETIME = 900  # seconds: no child outlives a forgotten benchmark by more than this

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
