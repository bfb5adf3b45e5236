"""axe-core (axe-playwright-python 0.1.8, axe.min.js from the wheel, offline) over every page of
the studio, signed in and out, at desktop and phone widths: no serious or critical violation."""

import pytest

from tests.e2e.studio_world import build_world, sign_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

BLOCKING = {"serious", "critical"}


def _violations(page) -> list[str]:
    """axe-core over the page as it is now: its serious and critical violations."""
    from axe_playwright_python.sync_playwright import Axe

    response = Axe().run(page).response
    assert response["testEngine"]["version"].startswith("4.")  # axe really ran
    return [
        f"{v['id']} ({v['impact']}): {v['help']} — "
        + "; ".join(node["target"][0] for node in v["nodes"][:3])
        for v in response["violations"]
        if v["impact"] in BLOCKING
    ]


def _scan(page, base: str, paths: list[str]) -> dict[str, list[str]]:
    found = {}
    for path in paths:
        page.goto(base + path)
        page.wait_for_load_state("load")
        if bad := _violations(page):
            found[path] = bad
    return found


@pytest.mark.parametrize("width", [1280, 390])
def test_no_serious_or_critical_violations_anywhere(live_server, browser, width):
    world = build_world(staff=True)
    # bypass_csp lets the harness inject axe.min.js; the pages' own policy is tested elsewhere.
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    problems = _scan(page, live_server.url, world.signed_out_pages)
    sign_in(page, live_server.url)
    problems |= {
        f"(signed in) {path}": issues
        for path, issues in _scan(page, live_server.url, world.signed_in_pages).items()
    }
    context.close()
    assert problems == {}, "\n".join(f"{p}: {issues}" for p, issues in problems.items())


@pytest.mark.parametrize("width", [1280, 390])
def test_the_enhance_preview_is_accessible_and_fits_a_phone(live_server, browser, use_chat, width):
    """The Create page with the enhancer's revision open (diff, accept, edit, discard)."""
    use_chat(reply=lambda prompt, system: prompt.replace("owl", "polished owl") + ", lamplight")
    build_world()
    context = browser.new_context(viewport={"width": width, "height": 900}, bypass_csp=True)
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_in(page, live_server.url)
    page.get_by_label("Prompt", exact=True).fill("a brass owl reading a map")
    page.get_by_role("button", name="Enhance prompt").click()
    page.locator("#revision-diff").wait_for(state="visible")
    assert _violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()


@pytest.mark.parametrize("width", [1280, 390])
def test_the_edit_page_with_a_painted_mask_is_accessible_and_fits_a_phone(
    live_server, browser, width
):
    """The edit page as it is used: an image picked, a mask painted, the instruction typed."""
    world = build_world()
    context = browser.new_context(
        viewport={"width": width, "height": 900}, bypass_csp=True, has_touch=width < 500
    )
    context.set_default_timeout(20_000)
    page = context.new_page()
    sign_in(page, live_server.url)
    page.goto(f"{live_server.url}/edit/?image={world.image.public_id}")
    page.wait_for_selector("#mask-tools:not([hidden])")
    canvas = page.locator("#mask-canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    page.mouse.move(box["x"] + box["width"] * 0.3, box["y"] + box["height"] * 0.3)
    page.mouse.down()
    page.mouse.move(box["x"] + box["width"] * 0.6, box["y"] + box["height"] * 0.6, steps=6)
    page.mouse.up()
    assert "Painted" in page.inner_text("#mask-status")
    page.fill("textarea[name=prompt]", "paint the owl gold")
    assert _violations(page) == []
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    context.close()
