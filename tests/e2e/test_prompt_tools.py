"""In a real browser: enhance a prompt on the Create page, see the diff, edit the revision and
generate; pick a preset and see its settings fill the form. Screenshots at 1440 and 390 px go
to $QIS_SHOTS when it is set."""

import os
from pathlib import Path

import pytest

from generation.models import Job
from generation.presets.services import preset_create
from tests.factories import PASSWORD, make_team, make_user

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

SHOTS = os.environ.get("QIS_SHOTS")


def _shot(page, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def _login(page, live_server, username: str) -> None:
    page.goto(live_server.url + "/accounts/login/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password", exact=True).fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(live_server.url + "/")


@pytest.mark.parametrize("width", [1440, 390])
def test_enhance_preview_diff_edit_and_generate(browser, live_server, use_chat, width):
    use_chat(
        reply=lambda p, s: p.replace("a brass owl", "a polished brass owl") + ", warm lamplight"
    )
    make_user("maker", team=make_team("Studio"), role="owner")
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    _login(page, live_server, "maker")
    page.get_by_label("Prompt", exact=True).fill('a brass owl reading a map, "OPEN" on the sign')
    page.get_by_role("button", name="Enhance prompt").click()
    diff = page.locator("#revision-diff")
    diff.wait_for(state="visible")
    assert diff.locator("ins").all_inner_texts()[:2] == ["polished", " "]
    assert diff.locator("del").count() == 0  # "sign" kept: punctuation is its own token
    assert page.locator("#enhance-status").inner_text().startswith("Enhanced by fake-qwen")
    _shot(page, f"create-enhanced-{width}")
    revised = page.get_by_label("Revised prompt")
    revised.fill(revised.input_value() + ", at night")
    page.get_by_role("button", name="Generate").click()
    # The Create page stays; the new job joins its feed.
    page.locator("#feed li.job-card").first.wait_for()
    job = Job.objects.get()
    assert job.prompt == 'a brass owl reading a map, "OPEN" on the sign'
    assert job.revised_prompt.endswith("warm lamplight, at night")
    assert job.enhancement == Job.Enhancement.EDITED


def test_discarding_the_revision_draws_the_prompt(browser, live_server, use_chat):
    use_chat()
    make_user("maker")
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    _login(page, live_server, "maker")
    page.get_by_label("Prompt", exact=True).fill("a kite")
    page.get_by_role("button", name="Enhance prompt").click()
    page.locator("#revision-diff").wait_for(state="visible")
    page.get_by_role("button", name="Discard revision").click()
    assert page.locator("#revision").is_hidden()
    page.get_by_role("button", name="Generate").click()
    # The Create page stays; the new job joins its feed.
    page.locator("#feed li.job-card").first.wait_for()
    job = Job.objects.get()
    assert job.revised_prompt == "" and job.enhancement == ""


def test_picking_a_preset_fills_the_form(browser, live_server):
    user = make_user("maker")
    preset_create(
        user=user,
        name="Studio photo",
        values={
            "size": "native_3_4",
            "num_inference_steps": 12,
            "prompt_template": "studio photo of {prompt}",
        },
    )
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    page.set_default_timeout(20_000)
    _login(page, live_server, "maker")
    page.get_by_label("Preset").select_option(label="Studio photo")
    assert page.locator("input[name=size][value=native_3_4]").is_checked()
    assert page.get_by_label("Steps").input_value() == "12"
    assert "studio photo of {prompt}" in page.locator("#preset-template").inner_text()
    page.get_by_label("Prompt", exact=True).fill("a teapot")
    page.get_by_role("button", name="Generate").click()
    # The Create page stays; the new job joins its feed.
    page.locator("#feed li.job-card").first.wait_for()
    job = Job.objects.get()
    assert job.prompt == "studio photo of a teapot" and (job.width, job.height) == (1104, 1472)
    page.goto(live_server.url + "/presets/")
    _shot(page, "presets-1440")
