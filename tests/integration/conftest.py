"""The production stack for the integration suite: gunicorn, two Huey consumers, live services.

Runs only through `python -m tests.integration` (`make test-integration`), which sets the
production environment; elsewhere every test here is skipped. Consumers started outside the
test runner write to the real database, so the suite uses its own database (dropped and
recreated here), never Django's test database.
"""

import contextlib
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
WEB_PORTS = range(8300, 8350)
ENABLED = os.environ.get("QWEN_INTEGRATION_RUN") == "1"
logging.getLogger("httpx").setLevel(logging.WARNING)


def pytest_collection_modifyitems(config, items):
    if ENABLED:
        return
    skip = pytest.mark.skip(reason="needs live services: `make test-integration`")
    for item in items:
        if "integration" in item.keywords:
            item.add_marker(skip)


# --- Processes --------------------------------------------------------------------------------


@dataclass
class Process:
    name: str
    popen: subprocess.Popen
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig=signal.SIGINT, timeout: float = 15) -> None:
        if self.popen.poll() is None:
            os.killpg(self.popen.pid, sig)
            try:
                self.popen.wait(timeout)
            except subprocess.TimeoutExpired:
                os.killpg(self.popen.pid, signal.SIGKILL)
                self.popen.wait(5)


@dataclass
class Stack:
    base_url: str
    web: Process
    consumers: dict[str, Process]
    log_dir: Path
    processes: list[Process] = field(default_factory=list)

    def client(self) -> "WebClient":
        return WebClient(self.base_url)


def _spawn(name: str, args: list[str], log_dir: Path, **env) -> Process:
    log_path = log_dir / f"{name}.log"
    with log_path.open("wb") as log:
        popen = subprocess.Popen(  # noqa: S603 - our own commands
            args,
            cwd=BASE_DIR,
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: killpg reaches its workers
        )
    return Process(name, popen, log_path)


def _free_port() -> int:
    for port in WEB_PORTS:
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port in 8300-8349")


def _wait(what: str, condition, timeout: float, processes=()) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.popen.poll() is not None:
                raise RuntimeError(
                    f"{process.name} exited while waiting for {what}:\n{process.log()}"
                )
        if condition():
            return
        time.sleep(0.2)
    raise TimeoutError(f"timed out waiting for {what}")


# --- Services ---------------------------------------------------------------------------------


def _recreate_database() -> None:
    """Drop and create the suite's own database (settings name it) on the live server."""
    import psycopg
    from django.conf import settings
    from django.db import connections

    connections.close_all()
    db = settings.DATABASES["default"]
    with psycopg.connect(
        host=db["HOST"],
        port=db["PORT"] or 5432,
        user=db["USER"],
        password=db["PASSWORD"] or None,
        dbname="postgres",
        autocommit=True,
    ) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db["NAME"]}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db["NAME"]}"')


def s3_client():
    import boto3
    from botocore.config import Config
    from django.conf import settings

    return boto3.client(
        "s3",
        endpoint_url=settings.AWS_S3_ENDPOINT_URL,
        region_name=settings.AWS_S3_REGION_NAME,
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


def s3_keys(prefix: str = "") -> set[str]:
    from django.conf import settings

    keys: set[str] = set()
    paginator = s3_client().get_paginator("list_objects_v2")
    for page in paginator.paginate(Bucket=settings.AWS_STORAGE_BUCKET_NAME, Prefix=prefix):
        keys.update(item["Key"] for item in page.get("Contents", []))
    return keys


def _reset_bucket() -> None:
    from django.conf import settings

    client, bucket = s3_client(), settings.AWS_STORAGE_BUCKET_NAME
    # An existing bucket: us-east-1 answers 200, other regions raise. Empty it either way.
    with contextlib.suppress(client.exceptions.BucketAlreadyOwnedByYou):
        client.create_bucket(Bucket=bucket)
    for key in s3_keys():
        client.delete_object(Bucket=bucket, Key=key)
    assert not s3_keys()


# --- Fixtures ---------------------------------------------------------------------------------

_STACK: Stack | None = None


@pytest.fixture(scope="session")
def stack(django_db_blocker, tmp_path_factory):
    global _STACK
    from django.core.management import call_command
    from huey.contrib.djhuey import HUEY

    log_dir = Path(os.environ["QWEN_STUDIO_VAR_DIR"]) / "logs"
    log_dir.mkdir(parents=True, exist_ok=True)
    with django_db_blocker.unblock():
        _recreate_database()
        call_command("migrate", interactive=False, verbosity=0)
        call_command("collectstatic", interactive=False, clear=True, verbosity=0)
    _reset_bucket()
    HUEY.flush()

    manage = [sys.executable, "manage.py", "run_huey"]
    # Exactly one consumer runs the periodic scheduler (the reaper); the others get -n.
    scheduler = _spawn("consumer-scheduler", [*manage, "--workers", "2"], log_dir)
    worker = _spawn("consumer-worker", [*manage, "-n", "--workers", "2"], log_dir)
    port = _free_port()
    web = _spawn(
        "gunicorn",
        [str(Path(sys.executable).parent / "gunicorn"), "-c", "config/gunicorn.conf.py"],
        log_dir,
        GUNICORN_BIND=f"127.0.0.1:{port}",
        WEB_CONCURRENCY="2",
        GUNICORN_THREADS="4",
    )
    processes = [scheduler, worker, web]
    base_url = f"http://127.0.0.1:{port}"

    def web_healthy() -> bool:
        try:
            return httpx.get(f"{base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        _wait("gunicorn", web_healthy, 60, processes)
        for consumer in (scheduler, worker):
            _wait(consumer.name, lambda c=consumer: "consumer started" in c.log(), 60, processes)
    except Exception:
        for process in processes:
            process.stop(signal.SIGKILL)
        raise
    _STACK = Stack(
        base_url=base_url,
        web=web,
        consumers={"scheduler": scheduler, "worker": worker},
        log_dir=log_dir,
        processes=processes,
    )
    yield _STACK
    _STACK = None
    for consumer in (scheduler, worker):
        consumer.stop(signal.SIGINT)  # Huey's graceful stop: running tasks finish first
    web.stop(signal.SIGTERM)


@pytest.fixture
def live_db(django_db_blocker):
    """The suite's database (the one the live processes use), open to the test."""
    with django_db_blocker.unblock():
        yield
    from django.db import connections

    connections.close_all()


@pytest.fixture(scope="session")
def studio_users(stack, django_db_blocker):
    from tests.factories import make_team, make_user

    with django_db_blocker.unblock():
        studio, elsewhere = make_team("Studio"), make_team("Elsewhere")
        return {
            "owner": make_user("owner", team=studio, role="owner"),
            "outsider": make_user("outsider", team=elsewhere, role="owner"),
        }


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    if report.failed and _STACK is not None:
        for process in _STACK.processes:
            report.sections.append((f"{process.name} log (tail)", process.log()[-6000:]))


# --- A browser-like client ----------------------------------------------------------------


class WebClient:
    """Talks to gunicorn as a browser behind the TLS proxy would (X-Forwarded-Proto: https).

    The session and CSRF cookies are Secure, so they are carried by hand over this plain-HTTP
    hop; the Origin header satisfies Django's CSRF check for HTTPS requests.
    """

    def __init__(self, base_url: str) -> None:
        origin = "https://" + urlsplit(base_url).netloc
        self.http = httpx.Client(
            base_url=base_url,
            headers={"X-Forwarded-Proto": "https", "Origin": origin},
            timeout=30,
        )
        self.cookies: dict[str, str] = {}

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        headers = kwargs.pop("headers", {})
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        response = self.http.request(method, path, headers=headers, **kwargs)
        self.cookies.update(dict(response.cookies.items()))
        return response

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post_form(self, path: str, data: dict, **kwargs) -> httpx.Response:
        """POST a form with the CSRF token a page of ours has set (the cookie's value)."""
        token = self.cookies["csrftoken"]
        return self.request("POST", path, data={**data, "csrfmiddlewaretoken": token}, **kwargs)

    def login(self, username: str, password: str) -> None:
        page = self.get("/accounts/login/")
        assert page.status_code == 200 and "csrftoken" in self.cookies, page.text[:500]
        response = self.post_form("/accounts/login/", {"username": username, "password": password})
        assert response.status_code == 302, response.text[:500]

    def generate(self, *, prompt: str, n: int = 1, seed: int | None = None) -> str:
        """Submit the generate form; returns the new job's public id."""
        data = {
            "prompt": prompt,
            "negative_prompt": "",
            "size": "custom",
            "width": "256",
            "height": "256",
            "num_inference_steps": "10",
            "guidance_scale": "2.5",
            "seed": "" if seed is None else str(seed),
            "acceleration": "none",
            "n": str(n),
        }
        # As the Create page's script sends it: the answer names the new job for the feed.
        response = self.post_form("/", data, headers={"Accept": "application/json"})
        assert response.status_code == 201, response.text[:2000]
        return response.json()["job"]["id"]
