"""The fixed cast: owner, teammate, outsider, anonymous, staff; shared read-only worlds;
Debian's Chromium; a fake chat endpoint for the prompt enhancer; and a tiny random Qwen-Image
pipeline for the local backend's tests."""

import contextlib
import os
from types import SimpleNamespace

import pytest
from django.contrib.auth import get_user_model
from django.db.models import Q
from django.test import Client

from accounts.models import Team
from generation.backends import reset_backends
from generation.prompts.enhancer import reset_enhancer
from tests.factories import make_team, make_user
from tests.fakes.chat import FakeChat
from usage.models import LedgerEntry, Reservation


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


SKIP_LOCAL = "the [local] extra (torch, diffusers) is not installed: make test-deps installs it"


@pytest.fixture(scope="session")
def tiny(tmp_path_factory):
    # Set before diffusers imports huggingface_hub, which reads it once.
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    pytest.importorskip("torch", reason=SKIP_LOCAL)
    pytest.importorskip("diffusers", reason=SKIP_LOCAL)
    pytest.importorskip("peft", reason=SKIP_LOCAL)
    import torch

    from tests.generation.tiny_qwen import build_tiny_lora, build_tiny_pipeline

    # One intra-op thread: the tiny model's ops take microseconds, and a pool of one thread per
    # core spinning against the rest of a busy machine made each job ~20× slower. Results
    # are the same on any thread count (the seeds fix the pixels, not the scheduling).
    torch.set_num_threads(1)

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


@pytest.fixture(scope="module")
def module_rows(django_db_setup, django_db_blocker):
    """Builds a module's shared world once, for tests that only read it.

    A module-scoped fixture builds inside `with module_rows():`; those rows are committed.
    Each test still runs in its own transaction that is rolled back, so what one test changes
    (even a POST that deletes the world's image) is gone before the next starts; database
    rows only: files a test deletes outright are not rolled back. After the module's last
    test, every user and team made inside the block is deleted, and with them every row they
    own (jobs, images, keys, collections, shares, invites, memberships). Usernames are unique:
    a test of the module that also asks for the fixed cast (`owner` …) clashes with a world
    that has its own "owner", so it uses the world's people instead.
    """
    users, teams = get_user_model().objects, Team.objects
    made: dict[str, set] = {"users": set(), "teams": set()}

    @contextlib.contextmanager
    def build():
        with django_db_blocker.unblock():
            known_users = set(users.values_list("pk", flat=True))
            known_teams = set(teams.values_list("pk", flat=True))
            try:
                yield
            finally:
                made["users"] |= set(users.exclude(pk__in=known_users).values_list("pk", flat=True))
                made["teams"] |= set(teams.exclude(pk__in=known_teams).values_list("pk", flat=True))

    yield build
    with django_db_blocker.unblock():
        # The usage ledger outlives its people on purpose (SET_NULL): the world's go by hand.
        for model in (LedgerEntry, Reservation):
            model.objects.filter(Q(user__in=made["users"]) | Q(team__in=made["teams"])).delete()
        users.filter(pk__in=made["users"]).delete()
        teams.filter(pk__in=made["teams"]).delete()


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
