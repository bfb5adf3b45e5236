"""Worker faults: real `manage.py run_huey` consumers killed with SIGKILL, then restarted.

Everything runs in a throwaway var dir with the real settings (SQLite in WAL mode, SqliteHuey,
local media), short leases and the demo backend slowed down so a job is still running when
its consumer dies; tests/reliability/worker_settings.py only swaps the demo backend for
tests.fakes.backends.CrashingDemoBackend (the same, except for one prompt that kills it).
Jobs are made by tests/reliability/worker_harness.py in a subprocess (as the web process
would make them); this process only reads the database file and the storage
folder, so the suite means the same whatever database the rest of the test run uses.

What it shows: a consumer killed mid-job loses its running jobs only until their lease runs
out and `manage.py reap_jobs` puts them back; every job then finishes exactly once (one
"succeeded" event, one set of files, one row per image); a job that kills its worker every
time ends `failed` with code worker_lost after the attempt cap; a job whose enqueue was lost
is found and run by the reaper.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.backends import CRASH_PROMPT
from tests.reliability import ledger

SUITE = "worker_faults"
# Consumers and manage.py in subprocesses, on a database of their own: once per CI run.
pytestmark = pytest.mark.slow
BASE_DIR = Path(__file__).resolve().parents[2]
LEASE_SECONDS = 2
# The crashing job dies at its second step, long before a lease needs renewing: there the
# lease only sets how long the test waits after each crash, so it is the shortest one.
CRASH_LEASE_SECONDS = 1
MAX_ATTEMPTS = 3
STEP_DELAY = 0.25  # the demo backend's 10 steps: a job takes about 2.5 s


class Studio:
    """A throwaway installation: its env, its database file, its consumers."""

    def __init__(self, var: Path) -> None:
        self.var = var
        self.env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("DATABASE_", "REDIS_", "AWS_", "QWEN_", "GENERATION_"))
            and key not in ("DJANGO_SETTINGS_MODULE", "HUEY_WORKERS")
        }
        self.env.update(
            {
                "DJANGO_SETTINGS_MODULE": "tests.reliability.worker_settings",
                "QWEN_STUDIO_VAR_DIR": str(var),
                "QWEN_IMAGE_BACKEND": "demo",
                "QWEN_IMAGE_DEMO_STEP_DELAY": str(STEP_DELAY),
                "GENERATION_LEASE_SECONDS": str(LEASE_SECONDS),
                "GENERATION_MAX_ATTEMPTS": str(MAX_ATTEMPTS),
                "GENERATION_REQUEUE_AFTER_SECONDS": "1",
                "GENERATION_MIN_SIDE": "16",
                "QUOTA_CONCURRENT_JOBS": "1000",
                "QUOTA_IMAGES_PER_DAY": "100000",
                "DJANGO_LOG_LEVEL": "INFO",
                "PYTHONUNBUFFERED": "1",
            }
        )
        self.consumers: list[subprocess.Popen] = []
        self.logs: list[Path] = []

    # --- processes ---------------------------------------------------------------------------

    def manage(self, *args: str, timeout: float = 60) -> str:
        return self._run([sys.executable, "manage.py", *args], timeout)

    def harness(self, *args: str) -> list[str]:
        out = self._run([sys.executable, "-m", "tests.reliability.worker_harness", *args], 60)
        return json.loads(out.strip().splitlines()[-1])

    def _run(self, command: list[str], timeout: float) -> str:
        result = subprocess.run(
            command,
            cwd=BASE_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        assert result.returncode == 0, result.stdout + result.stderr
        return result.stdout

    def start_consumer(self) -> subprocess.Popen:
        log = self.var / f"consumer-{len(self.logs) + 1}.log"
        handle = log.open("wb")
        process = subprocess.Popen(
            # -n: no periodic tasks, the test runs the reaper itself; quick polling.
            [sys.executable, "manage.py", "run_huey", "-w", "2", "-k", "thread", "-n"]
            + ["-d", "0.05", "-m", "0.25"],
            cwd=BASE_DIR,
            env=self.env,
            stdout=handle,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        handle.close()
        self.consumers.append(process)
        self.logs.append(log)
        return process

    def kill(self, process: subprocess.Popen) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)

    def stop_all(self) -> None:
        for process in self.consumers:
            if process.poll() is None:
                self.kill(process)

    def wait_started(self, timeout: float = 30) -> None:
        """Until the last consumer started says it is up (its workers poll from then on)."""
        deadline = time.monotonic() + timeout
        while "Huey consumer started" not in self.logs[-1].read_text(errors="replace"):
            assert time.monotonic() < deadline, self.log_text()
            time.sleep(0.05)

    def log_text(self) -> str:
        return "".join(log.read_text(errors="replace") for log in self.logs if log.exists())

    def wait_logged(self, jobs: dict, timeout: float = 15) -> None:
        """The `succeeded` line is written just after the commit that a DB poll sees; on a busy
        machine it can lag, so wait for it before killing the consumer that writes it."""
        needles = [
            f"event=succeeded job={job_id} "
            for job_id, job in jobs.items()
            if job["status"] == "succeeded"
        ]
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            log = self.log_text()
            if all(needle in log for needle in needles):
                return
            time.sleep(0.1)

    # --- state -------------------------------------------------------------------------------

    def jobs(self, ids: list[str]) -> dict[str, dict]:
        marks = ",".join("?" * len(ids))
        with contextlib.closing(sqlite3.connect(self.var / "db.sqlite3", timeout=20)) as db:
            db.row_factory = sqlite3.Row
            rows = db.execute(
                "SELECT j.public_id, j.status, j.attempts, j.progress, j.error_code, "
                "j.error_message, (SELECT COUNT(*) FROM generation_image i WHERE i.job_id = j.id)"
                f" AS images FROM generation_job j WHERE j.public_id IN ({marks})",
                [i.replace("-", "") for i in ids],
            ).fetchall()
        return {_uuid(row["public_id"]): dict(row) for row in rows}

    def wait(self, ids: list[str], until, timeout: float, what: str) -> dict[str, dict]:
        deadline = time.monotonic() + timeout
        while True:
            jobs = self.jobs(ids)
            if until(jobs):
                return jobs
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out waiting for {what}: {jobs}\n{self.log_text()}")
            time.sleep(0.1)

    def files(self) -> set[str]:
        root = self.var / "media"
        if not root.exists():
            return set()
        return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def _uuid(value: str) -> str:
    value = value.replace("-", "")
    return f"{value[:8]}-{value[8:12]}-{value[12:16]}-{value[16:20]}-{value[20:]}"


def _finished(jobs: dict) -> bool:
    return all(job["status"] in ("succeeded", "failed", "canceled") for job in jobs.values())


def _half_done(jobs: dict, *, besides: set[str] = frozenset()) -> set[str]:
    """Jobs running and well inside their work (not about to finish), other than `besides`."""
    return {
        job_id
        for job_id, job in jobs.items()
        if job["status"] == "running" and 0 < job["progress"] <= 0.6 and job_id not in besides
    }


@pytest.fixture(scope="module")
def migrated(tmp_path_factory) -> Path:
    """One migrated database for the module; each test copies it (faster than migrating)."""
    var = tmp_path_factory.mktemp("worker-faults-template")
    Studio(var).manage("migrate", "--noinput", "-v", "0")
    return var


@pytest.fixture
def studio(migrated, tmp_path):
    var = tmp_path / "var"
    var.mkdir()
    with (
        contextlib.closing(sqlite3.connect(migrated / "db.sqlite3")) as source,
        contextlib.closing(sqlite3.connect(var / "db.sqlite3")) as target,
    ):
        source.backup(target)
    instance = Studio(var)
    yield instance
    instance.stop_all()


def _images_once(studio: Studio, jobs: dict) -> None:
    """Every job's images stored exactly once: one succeeded event, one row and one pair of
    files per image, nothing else in storage."""
    log = studio.log_text()
    expected = set()
    for job_id, job in jobs.items():
        assert log.count(f"event=succeeded job={job_id} ") == 1, job_id
        assert job["images"] == 1, job
        expected |= {f"images/{job_id}/0.png", f"images/{job_id}/0.thumb.webp"}
    assert studio.files() == expected


def test_consumers_killed_mid_job_then_restarted_finish_every_job_exactly_once(studio):
    consumer = studio.start_consumer()  # boots while the harness makes the jobs
    ids = studio.harness("create", "--count", "6", "--prompt", "survives SIGKILL")
    kills, killed = 0, set()
    for _ in range(2):  # kill the consumer twice while both its workers are half done
        before = frozenset(killed)
        jobs = studio.wait(
            ids,
            lambda jobs, before=before: len(_half_done(jobs, besides=before)) == 2,
            30,
            "two jobs running",
        )
        studio.kill(consumer)
        kills += 1
        killed |= _half_done(jobs, besides=killed)
        consumer = studio.start_consumer()
    # The killed jobs stay `running` until their lease runs out; then the reaper (here the
    # command, in production the scheduler's periodic task) puts them back in the queue.
    time.sleep(LEASE_SECONDS + 0.5)
    deadline = time.monotonic() + 60
    while not _finished(studio.jobs(ids)):
        assert time.monotonic() < deadline, studio.log_text()
        studio.manage("reap_jobs")
        time.sleep(0.5)
    jobs = studio.wait(ids, _finished, 30, "all jobs to finish")
    studio.wait_logged(jobs)
    studio.stop_all()

    ledger.record(
        SUITE,
        consumers_killed=kills,
        jobs_run=len(ids),
        jobs_succeeded=sum(j["status"] == "succeeded" for j in jobs.values()),
        jobs_lost=sum(j["status"] != "succeeded" for j in jobs.values()),
        faults_injected=kills,
        attempts=sum(j["attempts"] for j in jobs.values()),
    )
    assert {j["status"] for j in jobs.values()} == {"succeeded"}, jobs
    # The four killed mid-job ran a second time; the others once.
    assert {job_id for job_id, j in jobs.items() if j["attempts"] == 2} == killed
    assert {j["attempts"] for job_id, j in jobs.items() if job_id not in killed} == {1}
    _images_once(studio, jobs)


def test_a_job_that_kills_its_worker_every_time_fails_as_worker_lost(studio):
    studio.env["GENERATION_LEASE_SECONDS"] = str(CRASH_LEASE_SECONDS)
    consumer = studio.start_consumer()  # boots while the harness makes the job
    [job_id] = studio.harness("create", "--prompt", CRASH_PROMPT)
    crashes = 0
    for _ in range(MAX_ATTEMPTS + 1):
        job = studio.jobs([job_id])[job_id]
        if job["status"] == "failed":
            break
        consumer = consumer or studio.start_consumer()
        assert consumer.wait(30) == 70  # the worker died mid-job, as under SIGKILL or OOM
        crashes += 1
        # The next consumer boots while the lease runs out; the queue is empty until the
        # reaper puts the job back (after the last allowed attempt, it fails the job instead).
        consumer = studio.start_consumer() if crashes < MAX_ATTEMPTS else None
        time.sleep(CRASH_LEASE_SECONDS + 0.2)  # nobody renews the lease any more
        studio.manage("reap_jobs")
    job = studio.jobs([job_id])[job_id]

    ledger.record(
        SUITE,
        faults_injected=crashes,
        consumers_killed=crashes,
        jobs_run=1,
        jobs_failed=job["status"] == "failed",
        jobs_lost=job["status"] not in ("failed", "succeeded"),
        attempts=job["attempts"],
    )
    assert (job["status"], job["error_code"], job["attempts"]) == (
        "failed",
        "worker_lost",
        MAX_ATTEMPTS,
    )
    assert crashes == MAX_ATTEMPTS
    assert job["error_message"] == (
        f"The worker running this job stopped responding {MAX_ATTEMPTS} times; giving up."
    )
    assert job["images"] == 0 and studio.files() == set()


def test_a_lost_enqueue_is_recovered_by_the_reaper(studio):
    consumer = studio.start_consumer()  # boots while the harness makes the jobs
    ids = studio.harness("create", "--count", "2", "--prompt", "never enqueued", "--lose-enqueue")
    studio.wait_started()
    time.sleep(0.75)  # a consumer is up and polling, but nothing is in the queue for these jobs
    assert {j["status"] for j in studio.jobs(ids).values()} == {"queued"}
    reaped = studio.manage("reap_jobs")
    assert "reenqueued=2" in reaped
    jobs = studio.wait(ids, _finished, 30, "the re-enqueued jobs to finish")
    studio.wait_logged(jobs)
    studio.kill(consumer)

    ledger.record(
        SUITE,
        faults_injected=len(ids),
        lost_enqueues=len(ids),
        jobs_run=len(ids),
        jobs_succeeded=sum(j["status"] == "succeeded" for j in jobs.values()),
        jobs_lost=sum(j["status"] != "succeeded" for j in jobs.values()),
        attempts=sum(j["attempts"] for j in jobs.values()),
    )
    assert {(j["status"], j["attempts"]) for j in jobs.values()} == {("succeeded", 1)}
    _images_once(studio, jobs)
