"""Fault suite: the fake hosted endpoint misbehaves on purpose and every job still ends well.

Each scenario runs one job through the real job path (lifecycle.job_create, then
runner.job_run as a worker would, once per delivery) on QWEN_IMAGE_BACKEND=remote against
tests.fakes.endpoint on 127.0.0.1, with the retry delays shrunk to nothing. A job ends
`succeeded` (after retries) or `failed` with the specific error code of
generation/backends/remote/ and a message a person can read; no job stays queued or
running, and the storage folder holds exactly the files of the images that were stored:
nothing of a failed job, no partial file.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.core.files.storage import FileSystemStorage

from generation import lifecycle, runner
from generation.models import Image, Job
from tests.factories import make_params
from tests.fakes.endpoint import FakeImageEndpoint
from tests.reliability import ledger
from usage.models import LedgerEntry

SUITE = "remote_faults"
KEY = "sk-fault-suite-secret-key-0123456789"
MAX_ATTEMPTS = 4
MAX_DOWNLOAD = 256 * 1024

pytestmark = pytest.mark.django_db


@dataclass(frozen=True)
class Scenario:
    id: str
    faults: tuple = ()  # (kind, times, options); "{victim}" / "{fake}" / "{port}" are filled in
    status: str = "succeeded"
    code: str = ""  # the final error code of a failed job
    retried: tuple = ()  # the error code of each failed attempt before the last one
    message: str = ""  # words the final message must hold
    n: int = 1
    output_format: str = "url"
    settings: dict = field(default_factory=dict)
    min_delay: float = 0.0  # the first retry waits at least this long (Retry-After)
    refused_port: bool = False  # point the API at a port nobody listens on


def fault(kind: str, times: int = 1, **options) -> tuple:
    return (kind, times, options)


SCENARIOS = [
    # --- retried, then fine ---------------------------------------------------------------
    Scenario(
        "429 with Retry-After",
        (fault("rate_limit", 2, retry_after="1"),),
        retried=("rate_limited", "rate_limited"),
        min_delay=0.9,
    ),
    Scenario("500 burst", (fault("server_error", 3, status=500),), retried=("upstream_error",) * 3),
    Scenario("502 burst", (fault("server_error", 2, status=502),), retried=("upstream_error",) * 2),
    Scenario("503 once", (fault("server_error", status=503),), retried=("upstream_error",)),
    # The short read timeout and budget hold for the retry too, whose normal answer (request
    # and download) must fit in them on a loaded machine: a second or two, not tenths.
    Scenario(
        "read timeout",
        (fault("slow", seconds=4.0),),
        retried=("upstream_timeout",),
        settings={"QWEN_IMAGE_READ_TIMEOUT": 1.0},
    ),
    Scenario(
        "answer trickles past the call budget",
        (fault("trickle", seconds=0.05),),  # ~140 bytes: about 7 s in all
        retried=("upstream_timeout",),
        settings={"QWEN_IMAGE_CALL_BUDGET": 2.0},
    ),
    Scenario("connection dropped", (fault("drop"),), retried=("upstream_unreachable",)),
    Scenario("malformed JSON", (fault("malformed_json"),), retried=("upstream_bad_json",)),
    Scenario("body without data", (fault("no_data"),), retried=("upstream_no_data",)),
    Scenario(
        "wrong content type",
        (fault("wrong_content_type"),),
        retried=("upstream_bad_content_type",),
    ),
    Scenario(
        "truncated PNG (b64_json)",
        (fault("truncated_png"),),
        retried=("invalid_image",),
        output_format="b64_json",
    ),
    Scenario("invalid base64", (fault("bad_base64"),), retried=("upstream_bad_item",)),
    Scenario(
        "one of two images hits a 500",
        (fault("server_error", status=500),),
        retried=("upstream_error",),
        n=2,
    ),
    Scenario("redirect within the API origin", (fault("redirect_same_origin"),)),
    # --- retried up to the cap, then failed -------------------------------------------------
    Scenario(
        "503 for good",
        (fault("server_error", 6, status=503),),
        status="failed",
        code="upstream_error",
        retried=("upstream_error",) * 3,
        message="HTTP 503",
    ),
    Scenario(
        "refused connection",
        status="failed",
        code="upstream_unreachable",
        retried=("upstream_unreachable",) * 3,
        message="Could not connect to the image service",
        refused_port=True,
    ),
    Scenario(
        "malformed JSON for good",
        (fault("malformed_json", 6),),
        status="failed",
        code="upstream_bad_json",
        retried=("upstream_bad_json",) * 3,
        message="malformed JSON",
    ),
    Scenario(
        "truncated PNG for good",
        (fault("truncated_png", 6),),
        status="failed",
        code="invalid_image",
        retried=("invalid_image",) * 3,
        message="unreadable image",
    ),
    Scenario(
        "decompression bomb",
        (fault("decompression_bomb", 6),),
        status="failed",
        code="invalid_image",
        retried=("invalid_image",) * 3,
        message="too large",
        output_format="b64_json",
    ),
    Scenario(
        # Sequential calls: image 0 is stored, image 1 is broken, so image 0's files must go.
        "second of two images broken every time",
        (fault("ok"), fault("truncated_png")) * MAX_ATTEMPTS,
        status="failed",
        code="invalid_image",
        retried=("invalid_image",) * 3,
        n=2,
        settings={"QWEN_IMAGE_PARALLEL_CALLS": 1},
    ),
    # --- failed at once ---------------------------------------------------------------------
    Scenario(
        "oversized body with Content-Length",
        (fault("oversized", size=MAX_DOWNLOAD * 4),),
        status="failed",
        code="image_too_large",
        message="byte limit",
    ),
    Scenario(
        "oversized body streamed",
        (fault("oversized_stream", size=MAX_DOWNLOAD * 4),),
        status="failed",
        code="image_too_large",
        message="byte limit",
    ),
    Scenario(
        "URL on a private address",
        (fault("private_url", target="http://10.0.0.1/image.png"),),
        status="failed",
        code="download_refused",
        message="private or local network",
    ),
    Scenario(
        "URL on the cloud metadata address",
        (fault("private_url", target="http://169.254.169.254/latest/meta-data/"),),
        status="failed",
        code="download_refused",
        message="private or local network",
    ),
    Scenario(
        "URL on another loopback port",
        (fault("foreign_url", target="{victim}/files/x.png"),),
        status="failed",
        code="download_refused",
        message="private or local network",
    ),
    Scenario(
        "URL on IPv6 loopback",
        (fault("private_url", target="http://[::1]:{port}/files/x.png"),),
        status="failed",
        code="download_refused",
        message="private or local network",
    ),
    Scenario(
        "URL naming localhost",
        (fault("private_url", target="http://localhost:{port}/files/x.png"),),
        status="failed",
        code="download_refused",
        message="outside the allowed origins",
    ),
    Scenario(
        "redirect to the metadata address",
        (fault("redirect"),),
        status="failed",
        code="download_refused",
        message="private or local network",
    ),
    Scenario(
        "redirect to another loopback port",
        (fault("redirect", target="{victim}/files/x.png"),),
        status="failed",
        code="download_refused",
        message="private or local network",
    ),
    Scenario(
        "redirect to a private address",
        (fault("redirect", target="http://192.168.1.1/image.png"),),
        status="failed",
        code="download_refused",
        message="private or local network",
    ),
    Scenario(
        "redirect loop",
        (fault("redirect_loop"),),
        status="failed",
        code="download_refused",
        message="redirected more than",
    ),
    Scenario(
        "content policy",
        (fault("content_policy"),),
        status="failed",
        code="content_policy",
        message="content policy",
    ),
    Scenario(
        "wrong API key",
        (fault("unauthorized"),),
        status="failed",
        code="upstream_auth",
        message="QWEN_IMAGE_API_KEY",
    ),
]


@pytest.fixture
def media(settings, tmp_path) -> Path:
    """A storage folder of this test's own, so its listing shows only this test's files."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "allow_overwrite": True},
        },
    }
    return root


@pytest.fixture
def victim():
    """Another server on the loopback interface that the worker must never reach."""
    with FakeImageEndpoint(max_lifetime=60) as endpoint:
        yield endpoint


@pytest.fixture
def fake(settings, media):
    with FakeImageEndpoint(max_lifetime=120, api_key=KEY) as endpoint:
        settings.QWEN_IMAGE_BACKEND = "remote"
        settings.QWEN_IMAGE_API_BASE = endpoint.url
        settings.QWEN_IMAGE_API_KEY = KEY
        settings.QWEN_IMAGE_CONNECT_TIMEOUT = 2.0
        settings.QWEN_IMAGE_READ_TIMEOUT = 3.0
        settings.QWEN_IMAGE_CALL_BUDGET = 6.0
        settings.QWEN_IMAGE_MAX_DOWNLOAD_BYTES = MAX_DOWNLOAD
        settings.GENERATION_MAX_ATTEMPTS = MAX_ATTEMPTS
        settings.GENERATION_RETRY_BASE_DELAY = 0.0
        settings.GENERATION_MIN_SIDE = 16  # tiny images keep the suite fast
        yield endpoint


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def stored_files(root: Path) -> set[str]:
    if not root.exists():
        return set()
    return {str(path.relative_to(root)) for path in root.rglob("*") if path.is_file()}


def expected_files(job: Job) -> set[str]:
    if job.status != Job.Status.SUCCEEDED:
        return set()
    names = set()
    for index in range(job.n):
        names |= {
            f"images/{job.public_id}/{index}.png",
            f"images/{job.public_id}/{index}.thumb.webp",
        }
    return names


def assert_readable(message: str) -> None:
    """A sentence for a person: no traceback, no repr, no secret, not a wall of text."""
    assert message and message[0].isupper(), message
    assert len(message) <= 600, message
    for noise in ("Traceback", "Exception", "object at 0x", "<", "{", KEY, "Bearer"):
        assert noise not in message, message


def drive(job: Job) -> tuple[Job, list[str], list[float]]:
    """Deliver the job to the worker until it ends: what a worker does on each (re)delivery.

    Returns the job, the error code of each attempt that was retried, and each retry's delay.
    """
    retried, delays = [], []
    for _ in range(MAX_ATTEMPTS + 2):
        runner.job_run(job_id=job.pk)
        job.refresh_from_db()
        assert job.status != Job.Status.RUNNING, "a finished delivery left the job running"
        if job.status != Job.Status.QUEUED:
            break
        retried.append(job.error_code)
        delays.append((job.next_attempt_at - job.updated_at).total_seconds())
    return job, retried, delays


def ledger_calls(job: Job, fake: FakeImageEndpoint) -> int:
    """The calls the usage ledger recorded as reaching the service, once they agree with the
    fake's own log (a call abandoned mid-flight may still be landing)."""
    calls = LedgerEntry.objects.filter(
        job_ref=job.public_id, kind="work", status__in=LedgerEntry.REACHED_PROVIDER
    )
    deadline = time.monotonic() + 5
    while calls.count() != len(fake.requests) and time.monotonic() < deadline:
        time.sleep(0.05)
    return calls.count()


def _fill(options: dict, *, fake: FakeImageEndpoint, victim: FakeImageEndpoint) -> dict:
    values = {"victim": victim.url, "fake": fake.url, "port": fake.port}
    return {
        key: value.format(**values) if isinstance(value, str) else value
        for key, value in options.items()
    }


@pytest.mark.parametrize("scenario", SCENARIOS, ids=[s.id for s in SCENARIOS])
def test_every_fault_ends_the_job_cleanly(scenario, fake, victim, media, owner, settings):
    for name, value in scenario.settings.items():
        setattr(settings, name, value)
    settings.QWEN_IMAGE_OUTPUT_FORMAT = scenario.output_format
    if scenario.refused_port:
        settings.QWEN_IMAGE_API_BASE = f"http://127.0.0.1:{closed_port()}"
    for kind, times, options in scenario.faults:
        fake.push(kind, times=times, **_fill(options, fake=fake, victim=victim))
    job = lifecycle.job_create(
        user=owner,
        params=make_params(prompt=f"fault suite: {scenario.id}", size="64x48", n=scenario.n),
    )

    job, retried, delays = drive(job)

    injected = sum(1 for r in fake.requests if r.fault != "ok")
    if scenario.refused_port:
        injected = job.attempts  # every attempt met a closed port
    lost = job.status not in (Job.Status.SUCCEEDED, Job.Status.FAILED)
    ledger.record(
        SUITE,
        faults_injected=injected,
        jobs_run=1,
        jobs_succeeded=job.status == Job.Status.SUCCEEDED,
        jobs_failed=job.status == Job.Status.FAILED,
        jobs_lost=lost,
        attempts=job.attempts,
    )

    assert job.status == scenario.status, (job.status, job.error_code, job.error_message)
    assert tuple(retried) == scenario.retried
    assert job.attempts == len(scenario.retried) + 1
    assert job.lease_expires_at is None and job.finished_at is not None
    if scenario.min_delay:
        assert delays[0] >= scenario.min_delay
    if job.status == Job.Status.SUCCEEDED:
        assert (job.error_code, job.error_message) == ("", "")
        assert job.images.count() == scenario.n
    else:
        assert job.error_code == scenario.code
        assert scenario.message in job.error_message
        assert_readable(job.error_message)
        assert not Image.objects.filter(job=job).exists()
    # Exactly the stored images' files: nothing of a failed attempt, no partial file.
    files = stored_files(media)
    ledger.record(SUITE, partial_files=len(files - expected_files(job)))
    assert files == expected_files(job)
    # The worker never connected to anything but the API's own origin.
    assert victim.requests == [] and victim.downloads == []
    assert all(r.valid for r in fake.requests), [r.errors for r in fake.requests]
    assert not Job.objects.filter(status__in=Job.ACTIVE).exists()
    # The usage ledger and the provider's request log agree exactly.
    assert ledger_calls(job, fake) == len(fake.requests)


def test_storage_failing_mid_write_leaves_no_partial_file(fake, media, owner, monkeypatch):
    """The disk fails while the second image is written: the first image's files go too, the
    job is retried and then stores both images."""
    real_save = FileSystemStorage.save
    calls = {"n": 0}

    def flaky_save(storage, name, content, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:  # image 1's PNG, after image 0's PNG and thumbnail
            raise OSError(28, "No space left on device")
        return real_save(storage, name, content, *args, **kwargs)

    monkeypatch.setattr(FileSystemStorage, "save", flaky_save)
    job = lifecycle.job_create(
        user=owner, params=make_params(prompt="disk fills up", size="64x48", n=2)
    )
    with pytest.raises(OSError):  # a worker logs the crash; the row says what happened
        runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.error_code) == ("queued", "internal_error")
    assert_readable(job.error_message)
    assert stored_files(media) == set()

    job, _, _ = drive(job)
    ledger.record(SUITE, faults_injected=1, jobs_run=1, jobs_succeeded=job.status == "succeeded")
    assert (job.status, job.attempts, job.images.count()) == ("succeeded", 2, 2)
    assert stored_files(media) == expected_files(job)


def test_a_late_duplicate_delivery_changes_nothing(fake, media, owner):
    """Huey may deliver a task twice (a retry racing the reaper): the claim makes the second
    delivery a no-op, so the job ends once and stores its images once."""
    job = lifecycle.job_create(user=owner, params=make_params(prompt="twice", size="64x48"))
    job, _, _ = drive(job)
    before = stored_files(media)
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    ledger.record(SUITE, jobs_run=1, duplicate_deliveries=1, jobs_succeeded=1)
    assert (job.status, job.attempts, job.images.count()) == ("succeeded", 1, 1)
    assert len(fake.requests) == 1
    assert stored_files(media) == before == expected_files(job)
