"""The prompt blocklist: checked once, in job_create, so the form, the API, reseeds and the CLI
all refuse a blocked prompt with a message that names the term."""

import io

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.urls import reverse

from generation import lifecycle
from generation.models import BlockedTerm, Job
from generation.moderation import PromptBlocked, prompt_check
from tests.apiclient import assert_envelope, bearer, post_json
from tests.factories import make_image_row, make_params

pytestmark = pytest.mark.django_db


def block(term: str, kind: str = "word", active: bool = True) -> BlockedTerm:
    item = BlockedTerm(term=term, kind=kind, active=active)
    item.full_clean()
    item.save()
    return item


@pytest.mark.parametrize(
    ("prompt", "blocked"),
    [
        ("a gore scene", True),
        ("GORE at dawn", True),  # case-insensitive
        ("gore.", True),  # punctuation is a word boundary
        ("a gorey story", False),  # whole words only
        ("algorithm forest", False),
        ("ｇｏｒｅ in full-width letters", True),  # look-alikes are folded (NFKC)
        ("go\u200bre with a zero-width space", True),  # invisible characters are dropped
    ],
)
def test_word_terms_match_whole_words_case_insensitively(prompt, blocked):
    block("gore")
    if blocked:
        with pytest.raises(PromptBlocked):
            prompt_check(prompt=prompt)
    else:
        prompt_check(prompt=prompt)


def test_phrases_match_whatever_the_spacing():
    block("blood  bath")
    with pytest.raises(PromptBlocked) as caught:
        prompt_check(prompt="a Blood\n   Bath in a castle")
    assert "Blood\n   Bath" in caught.value.message
    prompt_check(prompt="a bloody bath")


def test_terms_in_scripts_without_spaces_match_inside_words():
    block("血腥")
    with pytest.raises(PromptBlocked):
        prompt_check(prompt="一个血腥的场景")


def test_patterns_are_regular_expressions():
    block(r"\bkill(ing|ed)?\b", kind="pattern")
    with pytest.raises(PromptBlocked) as caught:
        prompt_check(prompt="Killing time in a garden")
    assert "“Killing”" in caught.value.message
    prompt_check(prompt="a skilled painter")


def test_inactive_terms_are_ignored():
    block("gore", active=False)
    prompt_check(prompt="gore")


def test_admin_refuses_a_broken_pattern_and_an_empty_one():
    with pytest.raises(ValidationError, match="Not a valid regular expression"):
        block("(unclosed", kind="pattern")
    with pytest.raises(ValidationError, match="empty prompt"):
        block("x*", kind="pattern")
    with pytest.raises(ValidationError):
        block("   ")


def test_job_create_refuses_and_creates_no_job(owner):
    block("gore")
    with pytest.raises(PromptBlocked) as caught:
        lifecycle.job_create(user=owner, params=make_params(prompt="lots of gore"))
    assert caught.value.message == (
        "The prompt contains “gore”, which is not allowed on this portal. Remove it and try again."
    )
    assert not Job.objects.exists()


def test_negative_prompts_may_name_blocked_terms(owner):
    block("gore")
    job = lifecycle.job_create(
        user=owner, params=make_params(prompt="a meadow", negative_prompt="gore, blood")
    )
    assert job.pk


def test_the_form_shows_the_message_on_the_prompt_field(owner, owner_client):
    block("gore")
    response = owner_client.post(
        reverse("generate"),
        {
            "prompt": "a gore scene",
            "size": "square",
            "num_inference_steps": 4,
            "guidance_scale": 2.5,
            "acceleration": "none",
            "n": 1,
        },
    )
    assert response.status_code == 200
    form = response.context["form"]
    assert form.errors["prompt"] == [
        "The prompt contains “gore”, which is not allowed on this portal. Remove it and try again."
    ]
    assert "which is not allowed on this portal" in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/images/generations"])
def test_the_api_answers_400_prompt_blocked(path, owner, client):
    block("gore")
    response = post_json(client, path, {"prompt": "GORE galore"}, headers=bearer(owner))
    error = assert_envelope(response, 400, code="prompt_blocked", param="prompt")
    assert "“GORE”" in error["message"]
    assert not Job.objects.exists()


def test_a_reseed_of_an_image_whose_prompt_is_now_blocked_is_refused(owner, owner_client, client):
    image = make_image_row(owner, prompt="a gore scene")  # made before the word was blocked
    block("gore")
    response = owner_client.post(reverse("image-reseed", args=[image.public_id]), follow=True)
    assert "which is not allowed on this portal" in response.content.decode()
    api = post_json(client, f"/v1/images/{image.public_id}/reseed", {}, headers=bearer(owner))
    assert_envelope(api, 400, code="prompt_blocked", param="prompt")
    assert Job.objects.count() == 1


def test_a_retry_is_checked_again(owner, client):
    job = lifecycle.job_create(user=owner, params=make_params(prompt="gore"))
    Job.objects.filter(pk=job.pk).update(status=Job.Status.FAILED)
    block("gore")
    response = post_json(client, f"/v1/jobs/{job.public_id}/retry", {}, headers=bearer(owner))
    assert_envelope(response, 400, code="prompt_blocked", param="prompt")


def test_the_cli_refuses_the_prompt_and_says_why(owner):
    block("gore")
    err = io.StringIO()
    with pytest.raises(CommandError, match="1 of 1 jobs did not succeed"):
        call_command("generate", "so much gore", user="owner", stderr=err, stdout=io.StringIO())
    assert "refused: The prompt contains “gore”" in err.getvalue()
    assert not Job.objects.exists()


def test_admin_can_add_a_term(staff_client):
    response = staff_client.post(
        reverse("admin:generation_blockedterm_add"),
        {"term": "gore", "kind": "word", "active": "on", "note": "policy 3.1"},
    )
    assert response.status_code == 302, response.content
    term = BlockedTerm.objects.get()
    assert term.created_by.username == "staff"
    bad = staff_client.post(
        reverse("admin:generation_blockedterm_add"), {"term": "(", "kind": "pattern"}
    )
    assert bad.status_code == 200 and b"Not a valid regular expression" in bad.content
