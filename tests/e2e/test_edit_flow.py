"""Browser walk of editing: open an image → Edit → paint a mask (pointer and keyboard, undo)
→ result → before/after → Edit again → the lineage shows the chain. Screenshots go to
$EDIT_SCREENSHOTS when it is set (docs/screenshots/edit-*.png were made so)."""

import os
import re

import pytest

from generation.models import EditInput, Job
from tests.edits.helpers import pixels
from tests.factories import PASSWORD, make_image, make_team, make_user

pytestmark = [pytest.mark.e2e]


def _shot(page, name: str) -> None:
    folder = os.environ.get("EDIT_SCREENSHOTS")
    if folder:
        page.screenshot(path=os.path.join(folder, f"edit-{name}.png"), full_page=True)


def _login(page, base: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=username]", "editor")
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{base}/")


@pytest.mark.parametrize("viewport", [(1440, 1000), (390, 844)], ids=["desktop", "phone"])
def test_edit_paint_result_before_after_edit_again_lineage(live_server, browser, viewport):
    user = make_user("editor", team=make_team("Studio"))
    source = make_image(user, prompt="a red boat on a calm lake", size="square", seed=3)
    base = live_server.url
    width, height = viewport
    context = browser.new_context(viewport={"width": width, "height": height}, has_touch=True)
    page = context.new_page()
    page.set_default_timeout(30_000)
    _login(page, base)
    tag = "desktop" if width > 500 else "phone"

    # The image page offers Edit.
    page.goto(f"{base}/images/{source.public_id}/")
    page.click("a.edit-button")
    page.wait_for_url(re.compile(r"/edit/\?image="))
    page.wait_for_selector("#mask-tools:not([hidden])")

    # Paint with the pointer, undo it, paint again; then a keyboard stroke.
    canvas = page.locator("#mask-canvas")
    box = canvas.bounding_box()
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.3, y + h * 0.3)
    page.mouse.down()
    page.mouse.move(x + w * 0.6, y + h * 0.5, steps=8)
    page.mouse.up()
    assert "Painted" in page.inner_text("#mask-status")
    page.click("[data-mask-undo]")
    assert "Nothing painted" in page.inner_text("#mask-status")
    box = canvas.bounding_box()  # the click may have scrolled the page
    x, y, w, h = box["x"], box["y"], box["width"], box["height"]
    page.mouse.move(x + w * 0.25, y + h * 0.25)
    page.mouse.down()
    page.mouse.move(x + w * 0.5, y + h * 0.5, steps=8)
    page.mouse.up()
    canvas.focus()
    page.keyboard.press("Space")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    page.keyboard.press("Space")
    page.fill("textarea[name=prompt]", "paint the boat gold")
    _shot(page, f"page-{tag}")
    page.click("#edit-form button[type=submit]")
    page.wait_for_load_state()
    _shot(page, f"submitted-{tag}")

    # The result: a job page naming its source, then the image with before/after.
    page.wait_for_url(re.compile(r"/jobs/[0-9a-f-]+/$"))
    page.wait_for_selector("#job-status.status-succeeded")
    assert "Edited from" in page.content()
    job = Job.objects.exclude(edit=None).get()
    assert EditInput.objects.filter(job=job, role="mask").exists()
    result = job.images.get()
    # Outside the painted area nothing changed (the corners were never painted).
    before, after = pixels(source), pixels(result)
    assert after.getpixel((2, 2)) == before.getpixel((2, 2))
    assert after.getpixel((509, 509)) == before.getpixel((509, 509))
    page.click(f"#job-images a[href='/images/{result.public_id}/']")
    page.wait_for_url(re.compile(rf"/images/{result.public_id}/$"))
    page.wait_for_selector("figure.before-after.ba-js")
    page.locator("[data-ba-range]").fill("80")
    clip = page.eval_on_selector(".ba-after", "el => el.style.clipPath")
    assert "80%" in clip
    _shot(page, f"result-{tag}")

    # Edit again: the chain grows, and the lineage shows it both ways.
    page.click("a.edit-button")
    page.wait_for_url(re.compile(r"/edit/\?image="))
    page.fill("textarea[name=prompt]", "add a small flag")
    page.click("#edit-form button[type=submit]")
    page.wait_for_selector("#job-status.status-succeeded")
    second = Job.objects.exclude(edit=None).exclude(pk=job.pk).get()
    assert second.edit_inputs.get(role="image").source_image == result
    page.goto(f"{base}/images/{result.public_id}/")
    panel = page.locator("section.edit-panel")
    source_link = f".edit-sources a[href='/images/{source.public_id}/']"
    assert panel.locator(source_link).count() == 1
    child = second.images.get()
    child_link = f".edit-children a[href='/images/{child.public_id}/']"
    assert panel.locator(child_link).count() == 1
    _shot(page, f"lineage-{tag}")
    context.close()
