"""The fixed cast: owner, teammate, outsider, anonymous, staff; Debian's Chromium; and a tiny
random Qwen-Image pipeline for the local backend's tests."""

import os
from types import SimpleNamespace

import pytest
from django.test import Client

from generation.backends import reset_backends
from tests.factories import make_team, make_user


@pytest.fixture(autouse=True)
def _fresh_backends():
    reset_backends()
    yield
    reset_backends()


SKIP_LOCAL = "the [local] extra (torch, diffusers) is not installed: make test-deps installs it"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    # Set before diffusers imports huggingface_hub, which reads it once.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    pytest.importorskip("torch", reason=SKIP_LOCAL)
    pytest.importorskip("diffusers", reason=SKIP_LOCAL)
    pytest.importorskip("peft", reason=SKIP_LOCAL)
    from tests.generation.tiny_qwen import build_tiny_lora, build_tiny_pipeline

    root = tmp_path_factory.mktemp("tiny-qwen-image")
    return SimpleNamespace(
        model=build_tiny_pipeline(root),
        lora8=build_tiny_lora(root / "lightning" / "8steps.safetensors", seed=1),
        lora4=build_tiny_lora(root / "lightning" / "4steps.safetensors", seed=2),
        root=root,
    )


@pytest.fixture
def team(db):
    return make_team("Studio")


@pytest.fixture
def other_team(db):
    return make_team("Elsewhere")


@pytest.fixture
def owner(team):
    return make_user("owner", team=team, role="owner")


@pytest.fixture
def teammate(team):
    return make_user("teammate", team=team, role="member")


@pytest.fixture
def outsider(other_team):
    return make_user("outsider", team=other_team, role="owner")


@pytest.fixture
def staff(db):
    return make_user("staff", is_staff=True, is_superuser=True)


@pytest.fixture
def anonymous_client():
    return Client()


def _client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def owner_client(owner):
    return _client_for(owner)


@pytest.fixture
def teammate_client(teammate):
    return _client_for(teammate)


@pytest.fixture
def outsider_client(outsider):
    return _client_for(outsider)


@pytest.fixture
def staff_client(staff):
    return _client_for(staff)


CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


@pytest.fixture
def browser(monkeypatch):
    """Debian's Chromium through Playwright (`playwright install` cannot download browsers)."""
    if not os.path.exists(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (make browser)")
    from playwright.sync_api import sync_playwright

    # Playwright's sync API keeps an event loop on this thread; the ORM calls a test makes
    # between browser steps are still plain synchronous ones.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()
