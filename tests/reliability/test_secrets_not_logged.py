"""Secrets never reach the logs: a full flow, errors included, with every log line captured.

The flow signs in, makes an API key on the profile page and uses it (well and badly), runs jobs
(one on the remote backend with its provider key), shares an image and opens the link, revokes
it and opens it again (Django logs "Not Found: <path>"), creates and opens a team invite, and
crashes a page and an API call whose paths hold tokens (Django logs the path and the
traceback). Logging runs at DEBUG and the streams of every handler configured anywhere are
read back: no API key, share or invite token, signed-URL token, provider key, webhook secret,
password or private prompt may appear in them.
"""

from __future__ import annotations

import io
import logging
import re
import uuid

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import TeamInvite
from config.logging import RedactSecrets
from gallery.models import ShareLink
from generation.models import Job
from tests.factories import PASSWORD
from tests.fakes.endpoint import FakeImageEndpoint
from tests.reliability import ledger

SUITE = "secrets_in_logs"
PROVIDER_KEY = "sk-provider-secret-0123456789abcdef"
PRIVATE_PROMPT = "my private prompt about a zebra called Quintessa"

pytestmark = pytest.mark.django_db


# Loggers that see requests, jobs or keys: the project's, Django's and the web/queue stack's.
# (The model libraries of the local backend install handlers of their own on their loggers;
# they log about weights and tensors, never about requests, keys or tokens.)
OUR_LOGGERS = (
    "accounts", "axes", "config", "csp", "django", "gallery", "generation", "gunicorn",
    "httpcore", "httpx", "huey", "ninja", "py.warnings", "qwen", "storages",
)  # fmt: skip


def _handlers(*, ours_only: bool = False):
    """Every handler of every logger (or of ours and the root's), except pytest's own capture."""
    loggers = [logging.getLogger()] + [
        logger
        for name, logger in logging.root.manager.loggerDict.items()
        if isinstance(logger, logging.Logger)
        and (not ours_only or name.split(".")[0] in OUR_LOGGERS)
    ]
    seen = {}
    for logger in loggers:
        for handler in logger.handlers:
            if type(handler).__module__.startswith("_pytest") or isinstance(
                handler, logging.NullHandler
            ):
                continue
            seen[id(handler)] = handler
    return list(seen.values())


@pytest.fixture
def log_output():
    """What the configured handlers write, at DEBUG, for the duration of the test."""
    buffer = io.StringIO()
    root = logging.getLogger()
    old_level = root.level
    swapped = []
    for handler in _handlers():
        if isinstance(handler, logging.StreamHandler):
            swapped.append((handler, handler.setStream(buffer)))
    root.setLevel(logging.DEBUG)
    yield buffer
    root.setLevel(old_level)
    for handler, stream in swapped:
        handler.setStream(stream)


def test_every_configured_handler_redacts():
    handlers = _handlers(ours_only=True)
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, RedactSecrets) for f in handler.filters), handler


def _owner_browser(client: Client) -> None:
    response = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert response.status_code == 302


def test_no_secret_reaches_the_logs(
    owner, teammate, log_output, settings, django_capture_on_commit_callbacks, monkeypatch
):
    settings.GENERATION_MIN_SIDE = 16
    secrets: dict[str, str] = {"password": PASSWORD, "private prompt": PRIVATE_PROMPT}
    browser = Client(raise_request_exception=False)
    _owner_browser(browser)

    # An API key, made on the profile page, shown once.
    page = browser.post(reverse("api-key-new"), {"name": "ci"}, follow=True).content.decode()
    key = re.search(r'id="new-secret"[^>]*value="(qis_[^"]+)"', page).group(1)
    secrets["api key"] = key
    api = Client(raise_request_exception=False, HTTP_AUTHORIZATION=f"Bearer {key}")
    assert api.get("/v1/me").status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        created = api.post(
            "/v1/jobs",
            {"prompt": PRIVATE_PROMPT, "size": "64x48", "visibility": "private"},
            content_type="application/json",
        )
    assert created.status_code == 202
    job = api.get(f"/v1/jobs/{created.json()['id']}").json()
    assert job["status"] == "succeeded"
    signed = job["images"][0]["url"]
    secrets["signed URL token"] = signed.rsplit("/", 1)[1]
    assert api.get(signed).status_code == 200
    secrets["webhook secret"] = api.get("/v1/webhooks/secret").json()["secret"]
    # Errors: a wrong key, an unknown job, a bad body, a wrong method.
    wrong = key[:-4] + "AAAA"
    secrets["wrong api key"] = wrong
    assert Client().get("/v1/me", HTTP_AUTHORIZATION=f"Bearer {wrong}").status_code == 401
    assert api.get(f"/v1/jobs/{uuid.uuid4()}").status_code == 404
    assert api.post("/v1/jobs", {"prompt": ""}, content_type="application/json").status_code == 400
    assert api.delete("/v1/me").status_code == 405

    # A share link: opened, revoked, opened again (gone: 410 for the page, which says it was
    # revoked; logged with its path).
    image_id = job["images"][0]["id"]
    browser.post(reverse("image-share", args=[image_id]))
    share = ShareLink.objects.get()
    secrets["share token"] = share.token
    anonymous = Client(raise_request_exception=False)
    for name in ("share", "share-embed", "share-file", "share-thumbnail"):
        assert anonymous.get(reverse(name, args=[share.token])).status_code == 200
    browser.post(reverse("share-revoke", args=[share.public_id]))
    for name in ("share", "share-embed", "share-file"):
        assert anonymous.get(reverse(name, args=[share.token])).status_code in (404, 410)

    # A team invite: made, opened by someone signed out, then an unknown one.
    team_id = owner.profile.current_team.public_id
    browser.post(reverse("team-invite-new", args=[team_id]), {"role": "member", "days": 3})
    invite = TeamInvite.objects.get()
    secrets["invite token"] = invite.token
    assert anonymous.get(reverse("invite-accept", args=[invite.token])).status_code == 200
    assert anonymous.get(reverse("invite-accept", args=[invite.token[::-1]])).status_code == 404

    # Crashes on paths that hold tokens: Django logs the path and the traceback.
    share2 = ShareLink.objects.create(user=owner, image_id=share.image_id, token="t" * 43)
    secrets["crashed share token"] = share2.token

    def explode(*args, **kwargs):
        raise RuntimeError(f"storage broke while serving {kwargs or args}")

    monkeypatch.setattr("gallery.services.share_record_view", explode)
    assert anonymous.get(reverse("share", args=[share2.token])).status_code == 500
    monkeypatch.setattr("generation.api_files.image_file_response", explode)
    assert api.get(signed).status_code == 500

    # The remote backend with its provider key: a refused key and a good call.
    with FakeImageEndpoint(max_lifetime=30, api_key=PROVIDER_KEY) as fake:
        settings.QWEN_IMAGE_BACKEND = "remote"
        settings.QWEN_IMAGE_API_BASE = fake.url
        settings.QWEN_IMAGE_API_KEY = PROVIDER_KEY
        secrets["provider key"] = PROVIDER_KEY
        fake.push("unauthorized")
        for _ in range(2):
            with django_capture_on_commit_callbacks(execute=True):
                api.post(
                    "/v1/jobs",
                    {"prompt": PRIVATE_PROMPT, "size": "64x48"},
                    content_type="application/json",
                )
        assert list(
            Job.objects.filter(backend="remote").order_by("pk").values_list("status", flat=True)
        ) == [
            "failed",
            "succeeded",
        ]

    output = log_output.getvalue()
    ledger.record(SUITE, log_lines=output.count("\n"), secrets_checked=len(secrets))
    # The flow really logged its errors (so a silent logger cannot pass this test) …
    assert "Gone: /s/[redacted]/" in output or "Not Found: /s/[redacted]/" in output
    assert "Internal Server Error: /s/[redacted]/" in output
    assert "unhandled API error on GET /v1/files/[redacted]" in output
    assert "event=failed" in output and "code=upstream_auth" in output
    # … and none of the secrets, nor a telling part of them.
    leaked = {
        what: value
        for what, value in secrets.items()
        if value in output or (len(value) > 24 and value[-16:] in output)
    }
    ledger.record(SUITE, secrets_leaked=len(leaked))
    assert leaked == {}
