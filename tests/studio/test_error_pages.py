"""Branded error pages in every mode, and a local install that never shows Django's debug
pages: DEBUG off unless asked for, with a secret key made once and kept under var/."""

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client
from django.urls import reverse

from core.views import server_error

pytestmark = pytest.mark.django_db
BASE_DIR = Path(__file__).resolve().parents[2]
DEBUG_MARKERS = ("Using the URLconf", "Traceback", "DEBUG = True", "CSRF verification failed")


def _branded(response, code: int) -> str:
    body = response.content.decode()
    assert response.status_code == code
    assert 'class="error-page"' in body and "Qwen Image Studio" in body
    assert not any(marker in body for marker in DEBUG_MARKERS)
    return body


def test_unknown_page_is_a_branded_404_with_a_way_back(owner_client, anonymous_client):
    body = _branded(owner_client.get("/no/such/page/"), 404)
    assert "Back to Create" in body
    assert "Log in" in _branded(anonymous_client.get("/no/such/page/"), 404)


def test_a_missing_object_says_what_was_missing(owner_client):
    body = _branded(
        owner_client.get(reverse("job-detail", args=["0" * 8 + "-0000-0000-0000-" + "0" * 12])), 404
    )
    assert "No such job." in body


def test_a_form_without_its_csrf_token_gets_the_branded_page(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    body = _branded(client.post(reverse("generate"), {"prompt": "x"}), 403)
    assert "This form has expired" in body and "Nothing was changed" in body


def test_the_500_page_needs_no_database_and_gives_a_reference(rf):
    request = rf.get("/")
    request.request_id = "abc123"
    response = server_error(request)
    body = response.content.decode()
    assert response.status_code == 500
    assert "Something went wrong on our side" in body and "abc123" in body


def test_api_errors_stay_json(owner_client):
    response = owner_client.get("/v1/no-such-endpoint")
    assert response.status_code == 404 and response.json()["error"]["code"] == "route_not_found"


# --- The settings a local install gets ------------------------------------------------------

PROBE = (
    "import django; django.setup(); from django.conf import settings as s; "
    "print(s.DEBUG, s.HTTPS, s.SESSION_COOKIE_SECURE, s.SECRET_KEY)"
)


def _settings(var_dir, **env) -> subprocess.CompletedProcess:
    keep = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "QWEN_"))}
    return subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=BASE_DIR,
        env={
            **keep,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "QWEN_STUDIO_VAR_DIR": str(var_dir),
            **env,
        },
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_a_local_install_runs_without_debug_and_keeps_its_generated_key(tmp_path):
    first = _settings(tmp_path)
    assert first.returncode == 0, first.stderr
    debug, https, secure_cookie, key = first.stdout.split()[-4:]
    assert (debug, https, secure_cookie) == ("False", "False", "False")
    key_file = tmp_path / "secret_key"
    assert key_file.read_text().strip() == key and len(key) >= 50
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    again = _settings(tmp_path)
    assert again.stdout.split()[-1] == key  # sessions survive a restart


def test_a_deployment_must_bring_its_key_and_gets_https_hardening(tmp_path):
    refused = _settings(tmp_path, DJANGO_ALLOWED_HOSTS="images.example.com")
    assert refused.returncode != 0 and "DJANGO_SECRET_KEY must be set" in refused.stderr
    assert not (tmp_path / "secret_key").exists()
    deployed = _settings(
        tmp_path, DJANGO_ALLOWED_HOSTS="images.example.com", DJANGO_SECRET_KEY="k" * 60
    )
    assert deployed.stdout.split()[-4:-1] == ["False", "True", "True"]


def test_debug_pages_only_when_asked_for(tmp_path):
    result = _settings(tmp_path, DJANGO_DEBUG="1")
    assert result.stdout.split()[-4] == "True"
