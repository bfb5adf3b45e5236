"""The enhance preview (the Create page's ✨ and POST /v1/prompts/enhance): bounded, never an
error for a slow or absent enhancer, throttled, checked by the blocklist, owned."""

import time

import pytest

from generation.models import BlockedTerm, Job
from generation.presets import services
from tests.apiclient import assert_envelope, bearer, post_json

pytestmark = pytest.mark.django_db


def _preview(client, user, body):
    return post_json(client, "/v1/prompts/enhance", body, headers=bearer(user))


def test_the_api_preview_answers_the_revision_and_creates_no_job(owner, client, use_chat):
    chat = use_chat()
    response = _preview(client, owner, {"prompt": 'a sign "OPEN"'})
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "enhanced" and body["language"] == "en"
    assert body["revised_prompt"].startswith('a sign "OPEN", warm golden-hour')
    assert body["prompt"] == 'a sign "OPEN"'
    assert len(chat.requests) == 1 and not Job.objects.exists()


def test_a_preview_runs_the_presets_template_first(owner, client, use_chat):
    chat = use_chat()
    services.preset_create(
        user=owner, name="Ink", values={"prompt_template": "ink drawing of {prompt}"}
    )
    body = _preview(client, owner, {"prompt": "a crane", "preset": "Ink"}).json()
    assert body["prompt"] == "ink drawing of a crane"
    assert chat.requests[0]["messages"][1]["content"] == "ink drawing of a crane"


def test_a_slow_enhancer_does_not_hold_the_web_thread_past_its_bound(
    owner, client, use_chat, settings
):
    use_chat(delay=4.0)
    settings.PROMPT_ENHANCER_TIMEOUT = 0.4
    started = time.monotonic()
    body = _preview(client, owner, {"prompt": "a crane"}).json()
    assert time.monotonic() - started < 2.0
    assert body["status"] == "fallback" and body["revised_prompt"] == "a crane"
    assert "did not answer within 0.4 s" in body["note"]


def test_with_enhancement_off_the_preview_says_so(owner, client):
    body = _preview(client, owner, {"prompt": "a crane"}).json()
    assert body["status"] == "fallback" and "off on this server" in body["note"]


def test_a_blocked_prompt_is_refused_before_the_enhancer_sees_it(owner, client, use_chat):
    chat = use_chat()
    BlockedTerm.objects.create(term="forbidden")
    assert_envelope(
        _preview(client, owner, {"prompt": "a forbidden thing"}), 400, code="prompt_blocked"
    )
    assert chat.requests == []


def test_previews_are_throttled_per_user(owner, teammate, client, settings, use_chat):
    from django.core.cache import cache

    cache.clear()
    use_chat()
    settings.PROMPT_PREVIEWS_PER_MINUTE = 2
    for _ in range(2):
        assert _preview(client, owner, {"prompt": "x"}).status_code == 200
    response = _preview(client, owner, {"prompt": "x"})
    assert_envelope(response, 429, code="rate_limited")
    assert int(response["Retry-After"]) >= 1
    assert _preview(client, teammate, {"prompt": "x"}).status_code == 200  # someone else's budget


def test_an_empty_prompt_is_a_400(owner, client):
    assert_envelope(_preview(client, owner, {"prompt": "  "}), 400, param="prompt")


def test_the_preview_endpoints_by_role(client, owner, teammate, outsider, staff, use_chat):
    use_chat()
    assert_envelope(post_json(client, "/v1/prompts/enhance", {"prompt": "x"}), 401)
    for user in (owner, teammate, outsider, staff):
        assert _preview(client, user, {"prompt": "x"}).status_code == 200
    # The page endpoint: signed-in users only, with the CSRF token like any form.
    assert client.post("/prompts/enhance/", {"prompt": "x"}).status_code == 302
    for user in (owner, outsider, staff):
        client.force_login(user)
        response = client.post("/prompts/enhance/", {"prompt": "x"})
        assert response.status_code == 200 and response.json()["status"] == "enhanced"
    assert client.get("/prompts/enhance/").status_code == 405


def test_someone_elses_personal_preset_cannot_be_used_for_a_preview(
    owner, outsider, client, use_chat
):
    use_chat()
    preset = services.preset_create(
        user=owner, name="Mine", values={"prompt_template": "secret {prompt}"}
    )
    response = _preview(client, outsider, {"prompt": "x", "preset": str(preset.public_id)})
    assert_envelope(response, 404, code="preset_not_found", param="preset")
    client.force_login(outsider)
    assert (
        client.post(
            "/prompts/enhance/", {"prompt": "x", "preset": str(preset.public_id)}
        ).status_code
        == 400
    )


@pytest.mark.parametrize("prompt", ["x" * 2001, "a\x00b"])
def test_a_prompt_no_job_would_take_is_not_sent_to_the_enhancer(owner, client, use_chat, prompt):
    chat = use_chat()
    assert_envelope(_preview(client, owner, {"prompt": prompt}), 400, param="prompt")
    client.force_login(owner)
    assert client.post("/prompts/enhance/", {"prompt": prompt}).status_code == 400
    assert chat.requests == []
