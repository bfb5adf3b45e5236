"""In a real browser: Generate on the Create page and watch its feed fill in without a reload."""

import threading
import time

import pytest
from django.db import connections

from gallery.models import Favorite
from generation.models import Job
from tests.factories import PASSWORD, make_team, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    context.set_default_timeout(20_000)
    return context.new_page()


class Consumer:
    """A Huey consumer on a thread: takes run_job off the real queue once `release()` is called.

    Huey runs in immediate mode in tests; here it is switched off, so the task really goes
    through the queue after the job's transaction commits, as it does under `make run`.
    """

    def __init__(self) -> None:
        from huey.contrib.djhuey import HUEY

        self.huey = HUEY
        self.released = threading.Event()
        self.stopped = threading.Event()
        self.ran: list[str] = []
        # The in-memory test database lives in one connection, which the live server's
        # threads share too (Django's LiveServerThread does the same).
        self.connection = connections["default"]
        self.thread = threading.Thread(target=self._loop, daemon=True)

    def _loop(self) -> None:
        connections["default"] = self.connection
        self.released.wait()
        while not self.stopped.is_set():
            task = self.huey.dequeue()
            if task is None:
                time.sleep(0.05)
                continue
            self.ran.append(task.name)
            self.huey.execute(task)

    def release(self) -> None:
        self.released.set()

    def __enter__(self) -> "Consumer":
        self.huey.immediate = False
        self.connection.inc_thread_sharing()
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.released.set()
        self.stopped.set()
        self.thread.join(timeout=10)
        self.connection.dec_thread_sharing()
        self.huey.flush()
        self.huey.immediate = True


def test_generate_keeps_the_prompt_and_the_feed_fills_in_then_star_and_reseed(
    live_server, page, settings
):
    """The daily loop on one page: Generate, watch the card go from queued to done with its
    images (one poll for the page, no reload), star and reseed from the feed."""
    from playwright.sync_api import expect

    settings.QWEN_IMAGE_DEMO_STEP_DELAY = 0.3  # ten steps: about 3 s of visible progress
    user = make_user("newcomer", team=make_team("Newcomers"), role="owner")

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("button", name="Generate")).to_be_visible()
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if "/jobs/live/" in r.url else None)

    with Consumer() as consumer:
        prompt = page.get_by_label("Prompt", exact=True)
        prompt.fill("two paper cranes over a harbour")
        page.get_by_text("Square · 512×512").click()
        page.get_by_label("Images", exact=True).select_option("2")
        page.evaluate("window.__sameDocument = true")
        prompt.press("Control+Enter")

        card = page.locator("li.job-card").first
        expect(card.locator(".chip")).to_have_text("Queued")
        expect(card.locator(".feed-tile.placeholder")).to_have_count(2)
        expect(prompt).to_have_value("two paper cranes over a harbour")  # the prompt stays

        consumer.release()  # now the worker picks the task off the queue
        expect(card.locator(".chip")).to_have_text("Succeeded", timeout=30_000)
        expect(card.locator(".feed-tile img")).to_have_count(2)
        loaded = "imgs => imgs.every(img => img.complete && img.naturalWidth > 0)"
        for _ in range(50):  # no wait_for_function: the page's CSP forbids eval
            if card.locator(".feed-tile img").evaluate_all(loaded):
                break
            page.wait_for_timeout(100)
        assert card.locator(".feed-tile img").evaluate_all(loaded)
        assert page.evaluate("window.__sameDocument") is True
        # One request per poll, however many jobs are running.
        assert polls and all(url.count("job=") == 1 for url in polls)

        # Star the first image from the feed, without a reload.
        tile = card.locator(".feed-tile").first
        tile.hover()
        star = tile.get_by_role("button", name="Star")
        star.click()
        expect(star).to_have_attribute("aria-pressed", "true")
        assert Favorite.objects.filter(user=user).count() == 1

        # Reseed it: a new job's card arrives at the top, the page stays.
        tile.hover()
        tile.get_by_role("button", name="Reseed").click()
        expect(page.locator("li.job-card")).to_have_count(2)
        new_card = page.locator("li.job-card").first
        expect(new_card.locator(".chip")).to_have_text("Succeeded", timeout=30_000)
        assert page.evaluate("window.__sameDocument") is True
        assert expect(prompt).to_have_value("two paper cranes over a harbour") is None

    reseeded = Job.objects.get(parent_image__isnull=False)
    assert reseeded.user == user and reseeded.n == 1
