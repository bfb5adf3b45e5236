"""Browser test: log in, generate, find the image in the gallery, star it, reseed it, share it,
and open the share link in a fresh anonymous browser context (Debian's Chromium)."""

import re

import pytest

from gallery.models import Favorite, ShareLink
from generation.models import Job
from tests.factories import PASSWORD, make_team, make_user

pytestmark = [
    pytest.mark.e2e,
]


def test_generate_find_star_reseed_share(live_server, browser):
    user = make_user("painter", team=make_team("Studio"))
    base = live_server.url
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)

    # Log in.
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "painter")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")

    # Generate (the demo backend runs at once in tests).
    page.fill("textarea[name=prompt]", "an e2e lighthouse in fog")
    page.click("#generate-form button[type=submit]")
    page.wait_for_selector("li.job-card .chip-succeeded")  # the feed, same page

    # Find it in the gallery (through the nav link) and star it without a reload.
    page.click("nav >> text=Gallery")
    page.wait_for_url(f"{base}/gallery/")
    page.fill("input[name=q]", "lighthouse")
    page.press("input[name=q]", "Enter")
    tile = page.locator("li.tile", has_text="an e2e lighthouse in fog")
    assert tile.count() == 1
    star = tile.locator("button.star")
    assert star.get_attribute("aria-pressed") == "false"
    star.click()
    page.wait_for_selector("li.tile button.star[aria-pressed=true]")
    assert Favorite.objects.filter(user=user).count() == 1

    # Open it and reseed it.
    tile.locator("a.tile-link").click()
    page.wait_for_url(re.compile(r"/images/[0-9a-f-]+/\?scope=mine&q=lighthouse$"))
    detail_url = page.url.split("?")[0]
    original = Job.objects.get(user=user)
    page.click("button:text-is('Reseed')")
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    page.wait_for_selector("#job-status.status-succeeded")
    reseeded = Job.objects.get(parent_image__job=original)
    assert reseeded.prompt == original.prompt and reseeded.seed != original.seed
    assert "Made from" in page.content()

    # Share the original; the link appears on its page.
    page.goto(detail_url)
    page.click("summary:has-text('Visibility and sharing')")
    page.click("button:text-is('Create share link')")
    page.wait_for_selector("input.share-url")
    share_url = page.locator("input.share-url").first.input_value()
    assert share_url == f"{base}/s/{ShareLink.objects.get().token}/"
    context.close()

    # A fresh anonymous context sees the shared image, and nothing else of the user's.
    anonymous = browser.new_context()
    visitor = anonymous.new_page()
    response = visitor.goto(share_url)
    assert response.status == 200
    image = visitor.locator(".share-figure img")
    image.wait_for()
    visitor.wait_for_function("document.querySelector('.share-figure img').naturalWidth > 0")
    assert "an e2e lighthouse in fog" in visitor.content()
    og_image = visitor.locator("meta[property='og:image']").get_attribute("content")
    assert og_image.startswith(f"{share_url}file/")
    assert visitor.goto(detail_url).status == 404
    visitor.goto(f"{base}/gallery/?scope=mine")
    assert "/accounts/login/" in visitor.url
    anonymous.close()
    assert ShareLink.objects.get().view_count == 1
