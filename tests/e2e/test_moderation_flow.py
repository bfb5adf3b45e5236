"""Browser test: a moderator works the queue with the keyboard; an owner reveals a blurred
image with a click (Debian's Chromium)."""

import pytest
from django.utils import timezone

from generation.models import Image, ModerationDecision
from tests.factories import PASSWORD, make_image, make_team, make_user

pytestmark = [
    pytest.mark.e2e,
]


def _login(browser, base, username):
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(20_000)
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")
    return page


def _flag(image: Image, minutes_ago: int) -> None:
    Image.objects.filter(pk=image.pk).update(
        moderation_state="flagged",
        review_requested_at=timezone.now() - timezone.timedelta(minutes=minutes_ago),
    )


def test_moderator_approves_and_rejects_with_the_keyboard(live_server, browser):
    owner = make_user("painter", team=make_team("Studio"))
    make_user("moderator", is_staff=True)
    first, second, third = (make_image(owner, prompt=f"queue image {i}") for i in range(3))
    for image, minutes in ((first, 30), (second, 20), (third, 10)):
        _flag(image, minutes)
    base = live_server.url
    page = _login(browser, base, "moderator")
    page.goto(f"{base}/moderation/")
    items = page.locator("li.queue-item")
    assert items.count() == 3
    # The first image is current; "a" approves it and moves on to the next.
    page.wait_for_selector("li.queue-item.current")
    page.keyboard.press("a")
    page.wait_for_selector(f"#item-{first.public_id}.done")
    assert "current" in (page.locator(f"#item-{second.public_id}").get_attribute("class") or "")
    # "j" skips the second; "r" rejects the third.
    page.keyboard.press("j")
    page.keyboard.press("r")
    page.wait_for_selector(f"#item-{third.public_id}.done")
    states = dict(Image.objects.values_list("pk", "moderation_state"))
    assert states == {first.pk: "approved", second.pk: "flagged", third.pk: "rejected"}
    assert ModerationDecision.objects.filter(via="queue").count() == 2
    # Typing a note does not trigger shortcuts.
    page.keyboard.press("k")
    page.fill(f"#note-{second.public_id}", "a rather abstract image")
    assert Image.objects.get(pk=second.pk).moderation_state == "flagged"


def test_owner_reveals_a_blurred_image(live_server, browser):
    owner = make_user("painter", team=make_team("Studio"))
    image = make_image(owner, prompt="a blurred one")
    _flag(image, 1)
    page = _login(browser, live_server.url, "painter")
    page.goto(f"{live_server.url}/images/{image.public_id}/")
    figure = page.locator("figure.detail-figure")
    assert "sensitive" in figure.get_attribute("class")
    blur = page.eval_on_selector("figure.detail-figure img", "el => getComputedStyle(el).filter")
    assert "blur" in blur
    page.click("figure.detail-figure [data-reveal]")
    assert "sensitive" not in figure.get_attribute("class")
    blur = page.eval_on_selector("figure.detail-figure img", "el => getComputedStyle(el).filter")
    assert "blur" not in blur
