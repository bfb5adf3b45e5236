"""The fixed cast: owner, teammate, outsider, anonymous, staff; Debian's Chromium; a fake chat
endpoint for the prompt enhancer."""

import os

import pytest
from django.test import Client

from generation.backends import reset_backends
from generation.prompts.enhancer import reset_enhancer
from tests.factories import make_team, make_user
from tests.fakes.chat import FakeChat


@pytest.fixture(autouse=True)
def _fresh_backends():
    reset_backends()
    reset_enhancer()
    yield
    reset_backends()
    reset_enhancer()


@pytest.fixture
def use_chat(settings):
    """use_chat(**fake_options) -> FakeChat: the prompt enhancer now talks to a fake
    OpenAI-compatible chat endpoint on 127.0.0.1 (tests/fakes/chat.py)."""
    fakes = []

    def start(**options) -> FakeChat:
        fake = FakeChat(**options).__enter__()
        fakes.append(fake)
        settings.PROMPT_ENHANCER = "chat"
        settings.PROMPT_ENHANCER_BASE_URL = fake.url
        settings.PROMPT_ENHANCER_MODEL = "fake-qwen"
        settings.PROMPT_ENHANCER_API_KEY = "sk-enhancer-test"
        settings.PROMPT_ENHANCER_TIMEOUT = 2.0
        reset_enhancer()
        return fake

    yield start
    for fake in fakes:
        fake.close()
    reset_enhancer()


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
