"""Prompt enhancement against a fake chat endpoint on 127.0.0.1: the revision is stored and
returned; a slow, failing or rule-breaking enhancer falls back to the original within the time
bound, with a note, and the job still succeeds; quoted text survives untouched."""

import json
import time

import pytest

from generation import runner
from generation.enhancement import team_system_prompts_update
from generation.imaging import read_parameters
from generation.models import BlockedTerm, Job, TeamPromptSettings
from generation.prompts.enhancer import prompt_enhance
from generation.prompts.rules import SYSTEM_PROMPT_EN, SYSTEM_PROMPT_ZH
from tests.apiclient import bearer, post_json
from tests.factories import make_job

pytestmark = pytest.mark.django_db

QUOTED = 'a bakery window with a hand-painted sign "OPEN 7–19" and a banner 「欢迎」'


def _file_parameters(image) -> dict:
    with image.file.open("rb") as handle:
        return read_parameters(handle.read())


# --- The revision is stored and returned ------------------------------------------------------


def test_an_enhanced_job_keeps_both_prompts_and_draws_the_revision(owner, use_chat):
    chat = use_chat()
    job = make_job(owner, prompt="a lighthouse", enhance=True)
    assert job.status == Job.Status.SUCCEEDED
    assert job.prompt == "a lighthouse"
    assert job.revised_prompt.startswith("a lighthouse, warm golden-hour light")
    assert job.enhancement == Job.Enhancement.ENHANCED
    assert "fake-qwen" in job.enhancement_note
    image = job.images.get()
    assert image.revised_prompt == job.revised_prompt
    parameters = _file_parameters(image)  # PNG text
    assert parameters["prompt"] == "a lighthouse"
    assert parameters["revised_prompt"] == job.revised_prompt and parameters["enhance"] is True
    (body,) = chat.requests
    assert body["model"] == "fake-qwen"
    assert body["messages"][1] == {"role": "user", "content": "a lighthouse"}
    assert chat.headers[0]["Authorization"] == "Bearer sk-enhancer-test"


def test_the_api_returns_the_revision_and_what_became_of_the_enhancement(
    owner, client, use_chat, django_capture_on_commit_callbacks
):
    use_chat()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(
            client, "/v1/jobs", {"prompt": "a kite", "enhance": True}, headers=bearer(owner)
        )
    assert response.status_code == 202, response.content
    job = client.get(f"/v1/jobs/{response.json()['id']}", **bearer(owner)).json()
    assert job["params"]["prompt"] == "a kite"
    assert job["params"]["revised_prompt"].startswith("a kite, warm golden-hour")
    assert job["enhancement"]["status"] == "enhanced"
    assert job["images"][0]["revised_prompt"] == job["params"]["revised_prompt"]


@pytest.mark.django_db(transaction=True)
def test_images_generations_answers_the_revised_prompt(owner, client, use_chat):
    use_chat()
    response = post_json(
        client,
        "/v1/images/generations",
        {"prompt": "a kite", "enhance": True, "response_format": "b64_json"},
        headers=bearer(owner),
    )
    assert response.status_code == 200, response.content
    assert response.json()["data"][0]["revised_prompt"].startswith("a kite, warm golden-hour")


@pytest.mark.django_db(transaction=True)
def test_the_openai_sdk_reads_revised_prompt_from_a_real_answer(live_server, owner, use_chat):
    import openai

    from accounts.keys import api_key_create

    use_chat()
    _, secret = api_key_create(user=owner, name="sdk")
    with openai.OpenAI(api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0) as sdk:
        result = sdk.images.generate(
            prompt="a brass owl", size="512x512", extra_body={"enhance": True}
        )
    assert result.data[0].revised_prompt.startswith("a brass owl, warm golden-hour light")


# --- Quoted text, languages, team prompts ---------------------------------------------------


def test_quoted_text_survives_the_rewrite_untouched(owner, use_chat):
    chat = use_chat()
    job = make_job(owner, prompt=QUOTED, enhance=True)
    system = chat.system_prompts()[0]
    assert system == SYSTEM_PROMPT_EN  # English words; the quoted Chinese decides nothing
    assert "exactly, character for character, inside quotation marks" in system
    assert '"OPEN 7–19"' in job.revised_prompt and "「欢迎」" in job.revised_prompt
    assert job.enhancement == Job.Enhancement.ENHANCED


def test_a_rewrite_that_changes_quoted_text_is_not_drawn(owner, use_chat):
    use_chat(reply=lambda prompt, system: prompt.replace("OPEN 7–19", "Open 7-19") + ", dusk")
    job = make_job(owner, prompt=QUOTED, enhance=True)
    assert job.status == Job.Status.SUCCEEDED
    assert job.revised_prompt == "" and job.enhancement == Job.Enhancement.FALLBACK
    assert "changed the quoted text “OPEN 7–19”" in job.enhancement_note
    assert job.images.get().revised_prompt == ""
    assert "original prompt was used" in job.enhancement_note


def test_a_chinese_prompt_gets_the_chinese_rules(owner, use_chat):
    chat = use_chat(reply=lambda prompt, system: prompt + "，黄昏的暖光，电影感构图")
    job = make_job(owner, prompt="一只在读报纸的狐狸", enhance=True)
    assert chat.system_prompts() == [SYSTEM_PROMPT_ZH]
    assert job.revised_prompt == "一只在读报纸的狐狸，黄昏的暖光，电影感构图"


def test_a_teams_system_prompt_is_what_its_members_jobs_send(owner, teammate, team, use_chat):
    chat = use_chat()
    team_system_prompts_update(user=owner, team=team, en="Our house style: flat vector.", zh="")
    make_job(teammate, prompt="a fox", enhance=True)
    make_job(teammate, prompt="一只狐狸", enhance=True)
    assert chat.system_prompts() == ["Our house style: flat vector.", SYSTEM_PROMPT_ZH]


def test_only_team_owners_and_admins_set_its_system_prompts(teammate, team):
    from generation.enhancement import TeamPromptsNotAllowed

    with pytest.raises(TeamPromptsNotAllowed):
        team_system_prompts_update(user=teammate, team=team, en="mine now", zh="")
    assert not TeamPromptSettings.objects.exists()


# --- Bounded time, fallbacks ------------------------------------------------------------------


def test_a_slow_enhancer_falls_back_within_the_time_bound(owner, use_chat, settings):
    use_chat(delay=5.0)
    settings.PROMPT_ENHANCER_TIMEOUT = 0.5
    started = time.monotonic()
    job = make_job(owner, prompt="a lighthouse", enhance=True)
    elapsed = time.monotonic() - started
    assert job.status == Job.Status.SUCCEEDED
    assert job.enhancement == Job.Enhancement.FALLBACK and job.revised_prompt == ""
    assert "did not answer within 0.5 s" in job.enhancement_note
    assert elapsed < 3.0  # the bound plus the demo backend, never the enhancer's 5 s


def test_the_bound_holds_against_an_answer_that_trickles():
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from generation.prompts.enhancer import ChatEnhancer
    from generation.prompts.errors import EnhancerError

    class Trickle(BaseHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_POST(self):
            self.rfile.read(int(self.headers["Content-Length"]))
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            for _ in range(50):  # one byte every 0.1 s: each read is quick, the whole is not
                try:
                    self.wfile.write(b" ")
                    self.wfile.flush()
                except OSError:
                    return
                time.sleep(0.1)

    server = ThreadingHTTPServer(("127.0.0.1", 0), Trickle)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        enhancer = ChatEnhancer(
            base_url=f"http://127.0.0.1:{server.server_address[1]}/v1", model="m"
        )
        started = time.monotonic()
        with pytest.raises(EnhancerError) as raised:
            enhancer.complete(system="s", prompt="p", budget=0.6)
        assert raised.value.timed_out and time.monotonic() - started < 1.5
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("options", "note"),
    [
        ({"status": 503}, "unavailable (HTTP 503)"),
        ({"status": 401}, "unavailable (HTTP 401)"),
        ({"raw": b"<html>gateway</html>"}, "unexpected shape"),
        ({"reply": lambda prompt, system: "   "}, "returned nothing usable"),
        ({"reply": lambda prompt, system: "x" * 5000}, "longer than 2000 characters"),
    ],
)
def test_a_failing_enhancer_never_fails_the_job(owner, use_chat, options, note):
    use_chat(**options)
    job = make_job(owner, prompt="a lighthouse", enhance=True)
    assert job.status == Job.Status.SUCCEEDED
    assert job.enhancement == Job.Enhancement.FALLBACK and note in job.enhancement_note
    assert job.images.get().revised_prompt == ""


def test_an_enhancer_that_is_down_falls_back_at_once(owner, settings):
    settings.PROMPT_ENHANCER = "chat"
    settings.PROMPT_ENHANCER_BASE_URL = "http://127.0.0.1:9/v1"  # nothing listens there
    job = make_job(owner, prompt="a lighthouse", enhance=True)
    assert job.status == Job.Status.SUCCEEDED
    assert "could not be reached" in job.enhancement_note


def test_enhancement_off_says_so_and_draws_the_original(owner):
    job = make_job(owner, prompt="a lighthouse", enhance=True)
    assert job.status == Job.Status.SUCCEEDED
    assert job.enhancement == Job.Enhancement.FALLBACK
    assert job.enhancement_note.startswith("Prompt enhancement is off on this server.")


def test_a_revision_that_breaks_the_blocklist_is_not_drawn(owner, use_chat):
    BlockedTerm.objects.create(term="gore")
    use_chat(reply=lambda prompt, system: prompt + ", with gore")
    job = make_job(owner, prompt="a battlefield at dawn", enhance=True)
    assert job.status == Job.Status.SUCCEEDED
    assert job.revised_prompt == "" and "prompt rules" in job.enhancement_note
    assert "gore" not in job.enhancement_note  # the term is not told


def test_a_retry_does_not_ask_the_enhancer_again(owner, use_chat, monkeypatch):
    chat = use_chat()
    calls = {"n": 0}
    real = runner.get_backend

    def flaky(name=None):
        backend = real(name)
        calls["n"] += 1
        if calls["n"] == 1:
            from generation.backends import BackendError

            class Once:
                name = "demo"

                def generate(self, request, **kwargs):
                    raise BackendError("busy", code="upstream_busy", retryable=True)

            return Once()
        return backend

    monkeypatch.setattr(runner, "get_backend", flaky)
    job = make_job(owner, prompt="a lighthouse", enhance=True)
    assert job.status == Job.Status.QUEUED  # retry scheduled
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2
    assert len(chat.requests) == 1 and job.revised_prompt


def test_size_auto_is_chosen_again_from_the_revision(owner, use_chat):
    use_chat(reply=lambda prompt, system: prompt + ", an ultra-wide cinematic panorama")
    job = make_job(owner, prompt="mountains at dawn", size="auto", enhance=True)
    assert (job.width, job.height, job.size_preset) == (1664, 928, "native_16_9")
    assert job.images.get().width == 1664


def test_a_revision_given_with_the_job_is_drawn_and_not_sent_to_the_enhancer(owner, use_chat):
    chat = use_chat()
    job = make_job(owner, prompt="a fox", revised_prompt="a red fox in snow", enhance=True)
    assert chat.requests == []
    assert job.revised_prompt == "a red fox in snow"
    assert job.enhancement == Job.Enhancement.ACCEPTED


def test_the_enhancer_call_is_bounded_for_any_caller(use_chat):
    use_chat(delay=3.0)
    started = time.monotonic()
    result = prompt_enhance(prompt="a fox", timeout=0.3)
    assert result.status == "fallback" and result.revised == "a fox"
    assert time.monotonic() - started < 1.0


def test_the_job_log_never_holds_the_prompt(owner, use_chat, caplog):
    use_chat()
    make_job(owner, prompt="my secret ballad", enhance=True)
    assert "secret ballad" not in caplog.text
    assert "event=enhanced" in caplog.text
    json.dumps(caplog.text)


# --- Both prompts travel with the job --------------------------------------------------------


def test_a_reseed_draws_the_same_revision_without_asking_again(owner, use_chat):
    from gallery.services import image_reseed

    chat = use_chat()
    job = make_job(owner, prompt="a lighthouse", enhance=True)
    again = image_reseed(user=owner, image=job.images.get(), mode="exact")
    runner.job_run(job_id=again.pk)
    again.refresh_from_db()
    assert again.revised_prompt == job.revised_prompt and again.prompt == "a lighthouse"
    assert len(chat.requests) == 1


def test_the_job_page_shows_what_was_drawn_and_why(owner, owner_client, use_chat):
    use_chat(status=503)
    fallback = make_job(owner, prompt="a lighthouse", enhance=True)
    page = owner_client.get(f"/jobs/{fallback.public_id}/").content.decode()
    assert "Original prompt used. The prompt enhancer is unavailable (HTTP 503)." in page
    use_chat()
    enhanced = make_job(owner, prompt="a kite", enhance=True)
    page = owner_client.get(f"/jobs/{enhanced.public_id}/").content.decode()
    assert "Drawn as:" in page and enhanced.revised_prompt in page


def test_use_these_settings_brings_the_revision_back_to_the_form(owner, owner_client, use_chat):
    use_chat()
    job = make_job(owner, prompt="a kite", enhance=True)
    from django.urls import reverse

    owner_client.post(reverse("image-use-settings", args=[job.images.get().public_id]))
    page = owner_client.get("/").content.decode()
    assert job.revised_prompt in page  # in the revision box, shown without a script
    assert 'aria-labelledby="revision-heading" >' in page  # not hidden
