"""Chaos soak: jobs from several users and API keys while consumers and the web server are
SIGKILLed and restarted at random (issue 16, "Chaos under load").

The stack is the one `make run` starts: `manage.py runserver` and `manage.py run_huey --workers
2 --worker-type thread` (two of those here), SQLite in WAL mode, SqliteHuey, local media, the
demo backend, all in a throwaway var folder on 127.0.0.1. Clients submit with an
Idempotency-Key and, like any good client, repeat the same request with the same key when the
connection drops or the answer is a 5xx. A chaos thread kills one process every few seconds
and restarts it a moment later; `manage.py reap_jobs` runs every two seconds (the consumers'
scheduler runs it once a minute, too slow for a soak of a minute). Then the chaos stops and
the stack drains.

Checked, from the database file, the storage folder and the consumers' logs: every logical
job was accepted once and is in the database once (lost 0, duplicated 0), every job ended
(stuck 0), every succeeded job has exactly its n image rows and 2n files and one `succeeded`
event; the 5xx answers clients saw and the time to recover are reported in RELIABILITY.md.
SOAK_JOBS and SOAK_SECONDS make it longer (defaults keep `make test` bounded).
"""

from __future__ import annotations

import contextlib
import itertools
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.reliability import ledger

SUITE = "chaos_soak"
BASE_DIR = Path(__file__).resolve().parents[2]
JOBS = int(os.environ.get("SOAK_JOBS", "240"))
CHAOS_SECONDS = float(os.environ.get("SOAK_SECONDS", "45"))
DRAIN_SECONDS = 120
USERS, KEYS_PER_USER = 3, 2

pytestmark = [pytest.mark.soak, pytest.mark.slow]  # its own SQLite stack: once in CI


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class Stack:
    var: Path
    port: int = field(default_factory=_free_port)
    processes: dict = field(default_factory=dict)
    starts: dict = field(default_factory=lambda: {"web": 0, "consumer-1": 0, "consumer-2": 0})
    kills: dict = field(default_factory=lambda: {"web": 0, "consumer-1": 0, "consumer-2": 0})
    web_recoveries: list = field(default_factory=list)

    @property
    def env(self) -> dict:
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(
                ("DATABASE_", "REDIS_", "AWS_", "QWEN_", "GENERATION_", "PROMETHEUS_", "DJANGO_")
            )
        }
        env.update(
            {
                "DJANGO_SETTINGS_MODULE": "config.settings",
                "DJANGO_DEBUG": "1",
                "QWEN_STUDIO_VAR_DIR": str(self.var),
                "QWEN_IMAGE_BACKEND": "demo",
                "QWEN_IMAGE_DEMO_STEP_DELAY": "0.02",
                "SAFETY_CHECKER": "provider",  # the classifier costs CPU, not reliability
                "GENERATION_MIN_SIDE": "16",
                "GENERATION_LEASE_SECONDS": "4",
                "GENERATION_REQUEUE_AFTER_SECONDS": "3",
                "GENERATION_MAX_ATTEMPTS": "8",
                "QUOTA_CONCURRENT_JOBS": "100000",
                "QUOTA_IMAGES_PER_DAY": "1000000",
                "DJANGO_LOG_LEVEL": "INFO",
                "DJANGO_LOG_FORMAT": "plain",
                "PYTHONUNBUFFERED": "1",
            }
        )
        return env

    def manage(self, *args: str, timeout: float = 120) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start(self, name: str) -> None:
        self.starts[name] += 1
        if name == "web":
            command = ["runserver", f"127.0.0.1:{self.port}", "--noreload"]
        else:
            command = ["run_huey", "--workers", "2", "--worker-type", "thread"]
        log = (self.var / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            [sys.executable, "manage.py", *command],
            cwd=BASE_DIR,
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        log.close()

    def kill(self, name: str, *, chaos: bool = True) -> None:
        process = self.processes.get(name)
        if process is None or process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
        self.kills[name] += chaos

    def stop(self) -> None:
        for name in list(self.processes):
            self.kill(name, chaos=False)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_healthy(self, timeout: float = 60) -> float:
        started = time.monotonic()
        while time.monotonic() - started < timeout:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url("/healthz"), timeout=2).status_code == 200:
                    return time.monotonic() - started
            time.sleep(0.1)
        raise AssertionError("the web server did not come back")

    def db(self) -> sqlite3.Connection:
        return sqlite3.connect(self.var / "db.sqlite3", timeout=30)


@dataclass
class Tally:
    accepted: dict = field(default_factory=dict)  # idempotency key -> job id
    gave_up: list = field(default_factory=list)
    server_errors: dict = field(default_factory=dict)  # status -> count
    connection_errors: int = 0
    replays: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def error(self, status: int) -> None:
        with self.lock:
            self.server_errors[status] = self.server_errors.get(status, 0) + 1


def _client(stack: Stack, secret: str, keys: list[str], tally: Tally, stop_at: float) -> None:
    """Submit each logical job until it is accepted, repeating it with its key on faults."""
    rng = random.Random(secret)
    headers = {"Authorization": f"Bearer {secret}"}
    with httpx.Client(timeout=15) as client:
        for key in keys:
            body = {"prompt": f"soak {key[:8]}", "size": "64x48", "n": rng.choice([1, 1, 2])}
            while True:
                if time.monotonic() > stop_at:
                    tally.gave_up.append(key)
                    break
                try:
                    response = client.post(
                        stack.url("/v1/jobs"),
                        json=body,
                        headers={**headers, "Idempotency-Key": key},
                    )
                except httpx.HTTPError:
                    with tally.lock:
                        tally.connection_errors += 1
                    time.sleep(0.2)
                    continue
                if response.status_code >= 500:
                    tally.error(response.status_code)
                    time.sleep(0.2)
                    continue
                assert response.status_code == 202, response.text
                with tally.lock:
                    tally.accepted[key] = response.json()["id"]
                    tally.replays += response.headers.get("Idempotent-Replayed") == "true"
                break
            # Now and then a read, as a client polling its jobs would.
            if rng.random() < 0.3:
                with contextlib.suppress(httpx.HTTPError):
                    listed = client.get(stack.url("/v1/jobs?limit=5"), headers=headers)
                    if listed.status_code >= 500:
                        tally.error(listed.status_code)
            time.sleep(rng.uniform(0.0, CHAOS_SECONDS * 1.2 / max(1, len(keys))))


def _chaos(stack: Stack, until: float, rng: random.Random) -> None:
    while time.monotonic() < until:
        time.sleep(rng.uniform(2.0, 4.0))
        victim = rng.choice(["web", "consumer-1", "consumer-2"])
        stack.kill(victim)
        time.sleep(rng.uniform(0.3, 1.5))
        stack.start(victim)
        if victim == "web":
            stack.web_recoveries.append(stack.wait_healthy())


def _reaper(stack: Stack, stop: threading.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(AssertionError, subprocess.TimeoutExpired):
            stack.manage("reap_jobs", timeout=60)
        stop.wait(2.0)


def test_chaos_soak_loses_duplicates_and_strands_nothing(tmp_path):
    stack = Stack(var=tmp_path / "var")
    stack.var.mkdir()
    stack.manage("migrate", "--noinput")
    secrets = stack.manage(
        "shell",
        "-c",
        "from django.contrib.auth import get_user_model\n"
        "from accounts.keys import api_key_create\n"
        "from accounts.models import Profile\n"
        f"for u in range({USERS}):\n"
        "    user = get_user_model().objects.create_user(f'soak{u}', password='x' * 20)\n"
        "    Profile.objects.get_or_create(user=user)\n"
        f"    for k in range({KEYS_PER_USER}):\n"
        "        print(api_key_create(user=user, name=f'key{k}')[1])\n",
    ).split()
    secrets = [word for word in secrets if word.startswith("qis_")]
    assert len(secrets) == USERS * KEYS_PER_USER
    rng = random.Random(16)
    for name in ("web", "consumer-1", "consumer-2"):
        stack.start(name)
    stack.wait_healthy()
    tally = Tally()
    keys = [str(uuid.uuid4()) for _ in range(JOBS)]
    shares = [keys[i :: len(secrets)] for i in range(len(secrets))]
    stop_reaper = threading.Event()
    reaper = threading.Thread(target=_reaper, args=(stack, stop_reaper), daemon=True)
    started = time.monotonic()
    chaos_until = started + CHAOS_SECONDS
    clients = [
        threading.Thread(
            target=_client,
            args=(stack, secret, share, tally, chaos_until + DRAIN_SECONDS),
            daemon=True,
        )
        for secret, share in zip(secrets, shares, strict=True)
    ]
    try:
        reaper.start()
        for thread in clients:
            thread.start()
        _chaos(stack, chaos_until, rng)
        for name in ("web", "consumer-1", "consumer-2"):  # everything up for the drain
            if stack.processes[name].poll() is not None:
                stack.start(name)
        stack.wait_healthy()
        chaos_end = time.monotonic()
        for thread in clients:
            thread.join(DRAIN_SECONDS)
        deadline = chaos_end + DRAIN_SECONDS
        while time.monotonic() < deadline:
            with stack.db() as db:
                active = db.execute(
                    "SELECT COUNT(*) FROM generation_job WHERE status IN ('queued', 'running')"
                ).fetchone()[0]
            if active == 0 and not any(thread.is_alive() for thread in clients):
                break
            time.sleep(0.5)
        recovered = time.monotonic() - chaos_end
    finally:
        stop_reaper.set()
        stack.stop()
        reaper.join(60)

    with stack.db() as db:
        rows = db.execute(
            "SELECT public_id, idempotency_key, status, n, error_code FROM generation_job"
        ).fetchall()
        # Jobs a kill interrupted (attempts > 1): how long from submission to the end.
        interrupted = db.execute(
            "SELECT (julianday(finished_at) - julianday(created_at)) * 86400 "
            "FROM generation_job WHERE attempts > 1 AND finished_at IS NOT NULL"
        ).fetchall()
        images = dict(
            db.execute(
                "SELECT job.public_id, COUNT(image.id) FROM generation_job job "
                "LEFT JOIN generation_image image ON image.job_id = job.id GROUP BY job.id"
            ).fetchall()
        )
    by_key = {}
    for public_id, key, status, n, error_code in rows:
        by_key.setdefault(key, []).append((public_id, status, n, error_code))
    logs = "".join(path.read_text(errors="replace") for path in stack.var.glob("consumer-*.log"))
    statuses = [status for jobs in by_key.values() for _, status, _, _ in jobs]
    duplicated = sum(len(jobs) - 1 for jobs in by_key.values() if len(jobs) > 1)
    lost = len(tally.gave_up) + sum(1 for key in keys if key not in by_key)
    stuck = sum(status in ("queued", "running") for status in statuses)
    wrong_images = files_wrong = events_wrong = 0
    for jobs in by_key.values():
        for public_id, status, n, _ in jobs:
            if status != "succeeded":
                continue
            hex_id = uuid.UUID(public_id).hex if "-" not in public_id else public_id
            job_uuid = str(uuid.UUID(hex_id))
            wrong_images += images.get(public_id, 0) != n
            folder = stack.var / "media" / "images" / job_uuid
            files_wrong += len(list(folder.glob("*"))) != 2 * n if folder.exists() else 1
            # More than one `succeeded` would be a job stored twice. None can happen: a
            # consumer killed between the commit and its log line.
            events_wrong += logs.count(f"event=succeeded job={job_uuid} ") > 1
    ledger.record(
        SUITE,
        jobs_submitted=len(keys),
        jobs_accepted=len(tally.accepted),
        jobs_succeeded=statuses.count("succeeded"),
        jobs_failed=statuses.count("failed"),
        jobs_lost=lost,
        jobs_duplicated=duplicated + wrong_images + files_wrong,
        jobs_stuck=stuck,
        kills=sum(stack.kills.values()),
        web_kills=stack.kills["web"],
        consumer_kills=stack.kills["consumer-1"] + stack.kills["consumer-2"],
        client_5xx=sum(tally.server_errors.values()),
        connection_errors=tally.connection_errors,
        replays=tally.replays,
        web_recovery_ms_max=int(1000 * max(stack.web_recoveries, default=0)),
        jobs_interrupted=len(interrupted),
        interrupted_job_ms_max=int(1000 * max((row[0] for row in interrupted), default=0)),
        drain_ms=int(1000 * recovered),
    )
    summary = (
        f"jobs={len(keys)} accepted={len(tally.accepted)} lost={lost} duplicated={duplicated} "
        f"stuck={stuck} wrong_images={wrong_images} files_wrong={files_wrong} "
        f"events_wrong={events_wrong} kills={stack.kills} 5xx={tally.server_errors} "
        f"connection_errors={tally.connection_errors} replays={tally.replays} "
        f"web_recoveries={[round(s, 2) for s in stack.web_recoveries]} drain={recovered:.1f}s "
        f"interrupted={len(interrupted)} "
        f"slowest={max((r[0] for r in interrupted), default=0):.1f}s "
        f"failed={[jobs for jobs in by_key.values() if jobs[0][1] == 'failed'][:5]}"
    )
    print(summary)
    assert sum(stack.kills.values()) >= 5, summary
    assert lost == 0 and duplicated == 0 and stuck == 0, summary
    assert wrong_images == 0 and files_wrong == 0 and events_wrong == 0, summary
    assert statuses.count("failed") == 0, summary
    assert len(list(itertools.chain.from_iterable(by_key.values()))) == len(keys), summary
