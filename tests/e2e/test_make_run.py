"""A local install as `make run` starts it (no DJANGO_* variables, a fresh var/): no page ever
shows one of Django's debug pages, and the styles load without collectstatic.

The server is `manage.py runserver` on the settings `make run` gives; whichever server command
`make run` uses, DEBUG and the error pages come from these settings."""

import os
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

pytestmark = [pytest.mark.e2e]
BASE_DIR = Path(__file__).resolve().parents[2]
DEBUG_MARKERS = (
    "Using the URLconf",
    "Traceback",
    "You're seeing this error because you have",
    "CSRF verification failed. Request aborted.",
    "technical_500",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def local_install(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "QWEN_"))}
    env.update(
        QWEN_STUDIO_VAR_DIR=str(tmp_path),
        DJANGO_SETTINGS_MODULE="config.settings",
        DJANGO_SUPERUSER_PASSWORD="local-install-pass-9",
    )
    manage = [sys.executable, "manage.py"]
    run = {"cwd": BASE_DIR, "env": env, "check": True, "capture_output": True, "timeout": 300}
    subprocess.run([*manage, "migrate", "--noinput", "-v0"], **run)
    subprocess.run(
        [*manage, "createsuperuser", "--noinput", "--username", "ada", "--email", "a@example.com"],
        **run,
    )
    port = _free_port()
    server = subprocess.Popen(
        [*manage, "runserver", f"127.0.0.1:{port}", "--noreload"],
        cwd=BASE_DIR,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                httpx.get(base + "/healthz", timeout=2)
                break
            except httpx.TransportError:
                time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=20)


def _clean(response, status: int) -> str:
    body = response.text()
    assert response.status == status, (response.url, response.status)
    assert not any(marker in body for marker in DEBUG_MARKERS), response.url
    return body


def test_no_page_of_a_local_install_shows_a_django_debug_page(local_install, browser):
    base = local_install
    page = browser.new_context().new_page()
    page.set_default_timeout(20_000)
    missing = uuid.uuid4()
    for path, status in [
        ("/accounts/login/", 200),
        ("/no/such/page/", 404),
        (f"/images/{missing}/", 404),
        ("/s/not-a-token/", 404),
    ]:
        _clean(page.goto(base + path), status)
    css = page.request.get(base + "/static/css/app.css")
    assert css.status == 200 and ".create-layout" in css.text()  # no collectstatic needed

    page.goto(base + "/accounts/login/")
    page.fill("input[name=username]", "ada")
    page.fill("input[name=password]", "local-install-pass-9")
    page.click("main button[type=submit]")
    page.wait_for_url(base + "/")
    for path, status in [
        ("/", 200),
        ("/jobs/", 200),
        ("/gallery/", 200),
        (f"/jobs/{missing}/", 404),
        ("/moderation/", 200),
        ("/no/such/page/", 404),
    ]:
        _clean(page.goto(base + path), status)

    # A form posted without its CSRF token: the branded page, not Django's technical one.
    forged = page.request.post(base + "/", form={"prompt": "x"}, headers={"Origin": base})
    body = _clean(forged, 403)
    assert "This form has expired" in body
    # A crash would be the branded 500 (the handler is tested in tests/studio).
    assert "Not Found" not in _clean(page.goto(base + "/no/such/page/"), 404)
