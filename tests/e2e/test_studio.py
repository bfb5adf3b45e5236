"""The studio in Debian's Chromium: failed and canceled jobs found on My jobs and retried, a
failed submit focuses the error summary, a revoked link says so (410), and at 390 px no page
scrolls sideways and the menu folds."""

import pytest

from generation.models import Job
from tests.e2e.studio_world import build_world, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def world(db):
    return build_world()


def _page(browser, width=1280, height=900, **options):
    context = browser.new_context(viewport={"width": width, "height": height}, **options)
    context.set_default_timeout(20_000)
    return context.new_page()


def test_failed_and_canceled_jobs_are_found_on_my_jobs_and_retried(live_server, browser, world):
    from playwright.sync_api import expect

    page = _page(browser)
    sign_in(page, live_server.url)
    page.get_by_role("link", name="Jobs").first.click()
    expect(page.get_by_role("heading", name="My jobs")).to_be_visible()

    page.get_by_role("link", name="Failed", exact=True).click()
    row = page.locator("tr", has_text="a fox reading, which failed")
    expect(row).to_contain_text("The image service is rate limiting requests.")
    expect(row).to_contain_text("retry in a minute")
    row.get_by_role("button", name="Retry").click()
    expect(page.get_by_text("Job queued again.")).to_be_visible()
    world.failed.refresh_from_db()
    assert world.failed.status == Job.Status.SUCCEEDED  # the demo backend ran it at once

    page.get_by_role("link", name="Canceled", exact=True).click()
    row = page.locator("tr", has_text="a canceled teapot")
    row.get_by_role("button", name="Retry").click()
    world.canceled.refresh_from_db()
    assert world.canceled.status == Job.Status.SUCCEEDED


@pytest.mark.parametrize("javascript", [True, False])
def test_a_failed_submit_puts_focus_on_the_error_summary(live_server, browser, world, javascript):
    from playwright.sync_api import expect

    page = _page(browser, java_script_enabled=javascript)
    sign_in(page, live_server.url)
    page.fill("textarea[name=prompt]", "   ")
    page.click("summary:has-text('Advanced')")
    page.fill("#id_num_inference_steps", "0")
    page.click("#generate-form .generate-button")
    summary = page.locator("[data-error-summary]")
    expect(summary).to_be_focused()
    expect(summary.get_by_role("link", name="Prompt")).to_be_visible()
    if javascript:
        summary.get_by_role("link", name="Steps").click()
        expect(page.locator("#id_num_inference_steps")).to_be_focused()
    assert not Job.objects.filter(prompt="").exists()


def test_a_prompt_over_the_limit_is_counted_and_refused_never_cut(live_server, browser, world):
    from playwright.sync_api import expect

    page = _page(browser)
    sign_in(page, live_server.url)
    prompt = page.locator("textarea[name=prompt]")
    prompt.fill("word " * 401)  # 2,005 characters
    expect(page.locator("[data-counter]")).to_have_class("counter over")
    page.click("#generate-form .generate-button")
    expect(page.locator("[data-error-summary]")).to_contain_text("Shorten it by 5 characters")
    assert len(prompt.input_value()) == 2005


def test_a_revoked_share_link_answers_410_with_a_branded_page(live_server, browser, world):
    from playwright.sync_api import expect

    page = _page(browser)
    response = page.goto(f"{live_server.url}/s/{world.revoked_token}/")
    assert response.status == 410
    expect(page.get_by_role("heading", name="This link was revoked")).to_be_visible()
    expect(page.get_by_role("link", name="Public gallery")).to_be_visible()


def _no_sideways_scroll(page, base, paths):
    wide = {}
    for path in paths:
        page.goto(base + path)
        width = page.evaluate("document.documentElement.scrollWidth")
        if width > 390:
            wide[path] = width
    return wide


def test_the_phone_layout_never_scrolls_sideways(live_server, browser, world):
    from playwright.sync_api import expect

    page = _page(browser, width=390, height=844, is_mobile=True, has_touch=True)
    assert _no_sideways_scroll(page, live_server.url, world.signed_out_pages) == {}
    sign_in(page, live_server.url)
    assert _no_sideways_scroll(page, live_server.url, world.signed_in_pages) == {}

    # The menu folds into one button and opens on a tap.
    page.goto(live_server.url + "/")
    menu = page.get_by_role("button", name="Menu")
    expect(menu).to_be_visible()
    expect(page.get_by_role("link", name="Usage")).to_be_hidden()
    menu.click()
    expect(page.get_by_role("link", name="Usage")).to_be_visible()
    # Tables become cards: every row's actions are on screen.
    page.goto(live_server.url + "/jobs/")
    for button in page.get_by_role("button", name="Retry").all():
        box = button.bounding_box()
        assert box and box["x"] >= 0 and box["x"] + box["width"] <= 390
