"""In a real browser: submit the generate form and watch the job page fill in without a reload."""

import re
import threading
import time

import pytest
from django.db import connections

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


def test_submitted_job_appears_on_the_job_page_without_reloading(live_server, page, settings):
    from playwright.sync_api import expect

    settings.QWEN_IMAGE_DEMO_STEP_DELAY = 0.3  # ten steps: about 3 s of visible progress
    make_user("newcomer", team=make_team("Newcomers"), role="owner")

    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill("newcomer")
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Generate")).to_be_visible()

    with Consumer() as consumer:
        page.get_by_label("Prompt", exact=True).fill("two paper cranes over a harbour")
        page.get_by_text("Square · 512×512").click()
        page.get_by_label("Images", exact=True).select_option("2")
        page.get_by_role("button", name="Generate").click()
        page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]{36}/$"))

        # The page as first served: the job is waiting in the queue, no images yet.
        status = page.locator("#job-status")
        images = page.locator("#job-images img")
        expect(status).to_have_text("Queued")
        expect(images).to_have_count(0)
        page.evaluate("window.__sameDocument = true")
        navigations: list[str] = []
        page.on("framenavigated", lambda frame: navigations.append(frame.url))

        consumer.release()  # now the worker picks the task off the queue
        expect(status).to_have_text("Running", timeout=10_000)
        expect(page.locator("#job-progress")).to_be_visible()
        expect(status).to_have_text("Succeeded", timeout=30_000)
        expect(images).to_have_count(2)
        expect(page.locator("#job-progress")).to_be_hidden()
        expect(page.get_by_role("button", name="Cancel")).to_be_hidden()

    assert consumer.ran == ["run_job"]
    assert page.evaluate("window.__sameDocument") is True
    assert navigations == []
    # Both thumbnails really loaded, each labelled with its own seed.
    page.wait_for_function(
        "Array.from(document.querySelectorAll('#job-images img'))"
        ".every(img => img.complete && img.naturalWidth > 0)"
    )
    alts = images.evaluate_all("imgs => imgs.map(img => img.alt)")
    seeds = [int(re.search(r"seed (\d+)", alt).group(1)) for alt in alts]
    assert seeds[1] == seeds[0] + 1
