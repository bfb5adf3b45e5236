"""The Create page: the prompt stays, the feed shows every job with words for its state, one
poll answers for all of the page's running jobs, forms explain what is wrong."""

import re

import pytest
from django.conf import settings
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from generation import lifecycle
from generation.models import Job
from tests.factories import make_job

pytestmark = pytest.mark.django_db

FORM = {
    "prompt": "a brass owl reading a map",
    "size": "landscape_4_3",
    "num_inference_steps": 30,
    "guidance_scale": 2.5,
    "acceleration": "none",
    "n": 2,
}


def _live(client, *jobs, keys=None):
    keys = keys or {}
    params = [f"{job.public_id}:{keys.get(job.pk, '')}" for job in jobs]
    return client.get(reverse("job-live"), {"job": params})


def test_generate_redirects_back_with_the_prompt_kept_and_the_job_on_top(owner, owner_client):
    response = owner_client.post(reverse("generate"), FORM)
    assert response.status_code == 302 and response["Location"] == reverse("generate")
    job = Job.objects.get(user=owner)
    page = owner_client.get(reverse("generate")).content.decode()
    assert ">a brass owl reading a map</textarea>" in page
    assert page.index(f'id="job-{job.public_id}"') < page.index("</ol>")
    # Two placeholders in the job's aspect ratio until its images are stored.
    assert page.count('viewBox="0 0 1024 768"') == 2


def test_generate_by_script_answers_the_new_card(owner, owner_client):
    response = owner_client.post(reverse("generate"), FORM, HTTP_ACCEPT="application/json")
    assert response.status_code == 201
    body = response.json()
    job = Job.objects.get(user=owner)
    assert body["job"]["id"] == str(job.public_id) and body["job"]["status"] == "queued"
    assert f'id="job-{job.public_id}"' in body["html"]
    assert body["job"]["phase"].startswith("Queued, next in line")


def test_a_failed_script_submit_lists_each_error_with_its_field(owner_client):
    response = owner_client.post(
        reverse("generate"),
        {**FORM, "prompt": "", "num_inference_steps": 0},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code == 400
    errors = {error["field"]: error for error in response.json()["errors"]}
    assert errors["prompt"]["id"] == "id_prompt"
    assert errors["num_inference_steps"]["id"] == "id_num_inference_steps"


def test_a_failed_submit_shows_a_focusable_summary_linking_to_each_field(owner_client):
    page = owner_client.post(reverse("generate"), {**FORM, "prompt": ""}).content.decode()
    assert "data-error-summary" in page and 'tabindex="-1"' in page
    assert 'href="#id_prompt"' in page
    # Advanced stays shut: none of its fields is wrong.
    assert re.search(r'<details class="advanced"\s*>', page)


def test_advanced_opens_only_when_one_of_its_fields_has_an_error(owner_client):
    page = owner_client.post(reverse("generate"), {**FORM, "guidance_scale": 99}).content.decode()
    assert re.search(r'<details class="advanced"\s+open>', page)
    assert 'href="#id_guidance_scale"' in page


def test_a_prompt_over_the_limit_is_refused_saying_by_how_much_never_cut(owner, owner_client):
    limit = settings.GENERATION_MAX_PROMPT_LENGTH
    page = owner_client.post(reverse("generate"), {**FORM, "prompt": "x" * (limit + 7)})
    body = page.content.decode()
    assert f"the limit is {limit:,}. Shorten it by 7 characters." in body
    assert not Job.objects.filter(user=owner).exists()
    assert "x" * (limit + 7) in body  # what was typed is all still there
    form = owner_client.get(reverse("generate")).content.decode()
    textarea = re.search(r"<textarea name=\"prompt\"[^>]*>", form).group(0)
    assert "maxlength" not in textarea and f'data-max-length="{limit}"' in textarea


def test_provider_only_controls_show_only_for_the_remote_backend(owner_client, settings):
    assert "safety checker</label>" not in owner_client.get(reverse("generate")).content.decode()
    assert (
        'type="hidden" name="enable_safety_checker"'
        in owner_client.get(reverse("generate")).content.decode()
    )
    settings.QWEN_IMAGE_BACKEND = "remote"
    assert "safety checker</label>" in owner_client.get(reverse("generate")).content.decode()


def test_the_feed_says_why_a_job_failed_and_offers_retry_and_edit(owner, owner_client):
    job = make_job(owner, run=False)
    lifecycle.job_fail(job=job, code="rate_limited", message="The image service is busy.")
    page = owner_client.get(reverse("generate")).content.decode()
    assert "Failed: The image service is busy." in page
    assert "retry in a minute" in page
    assert reverse("job-retry", args=[job.public_id]) in page
    assert reverse("job-edit", args=[job.public_id]) in page


def test_the_feed_lists_only_my_jobs(owner, teammate, owner_client):
    mine, theirs = make_job(owner, prompt="mine"), make_job(teammate, prompt="theirs")
    page = owner_client.get(reverse("generate")).content.decode()
    assert f'id="job-{mine.public_id}"' in page
    assert f'id="job-{theirs.public_id}"' not in page


# --- The one poll --------------------------------------------------------------------------


def test_one_poll_answers_for_every_running_job_of_the_page(owner, owner_client):
    queued = [make_job(owner, run=False, prompt=f"job {i}") for i in range(3)]
    body = _live(owner_client, *queued).json()
    assert {job["id"] for job in body["jobs"]} == {str(job.public_id) for job in queued}
    assert body["active"] == 3 and body["poll_ms"] > 0
    positions = sorted(job["queue_position"] for job in body["jobs"])
    assert positions == [1, 2, 3]
    assert all("html" in job for job in body["jobs"])  # the page knew no render key


def test_a_poll_sends_a_card_only_when_the_job_changed_state(owner, owner_client):
    job = make_job(owner, run=False)
    first = _live(owner_client, job).json()["jobs"][0]
    again = _live(owner_client, job, keys={job.pk: first["render_key"]}).json()["jobs"][0]
    assert "html" not in again
    lifecycle.job_cancel(job=job)
    changed = _live(owner_client, job, keys={job.pk: first["render_key"]}).json()["jobs"][0]
    assert changed["status"] == "canceled" and "Canceled" in changed["html"]


def test_the_poll_shows_nothing_of_other_peoples_jobs(owner, teammate_client, outsider_client):
    job = make_job(owner, run=False)
    for client in (teammate_client, outsider_client):
        assert _live(client, job).json()["jobs"] == []


def test_the_poll_needs_a_session_and_staff_may_look(owner, anonymous_client, staff_client):
    job = make_job(owner, run=False)
    assert _live(anonymous_client, job).status_code == 302
    assert [j["id"] for j in _live(staff_client, job).json()["jobs"]] == [str(job.public_id)]


def test_garbage_ids_in_a_poll_are_ignored(owner, owner_client):
    response = owner_client.get(reverse("job-live"), {"job": ["nope:1", "", "1:2:3"]})
    assert response.status_code == 200 and response.json()["jobs"] == []


def test_poll_query_count_does_not_grow_with_the_jobs_it_answers_for(owner, owner_client):
    def count(jobs):
        keys = {job.pk: "x" for job in jobs}  # stale keys: every card is drawn again
        with CaptureQueriesContext(connection) as captured:
            assert _live(owner_client, *jobs, keys=keys).status_code == 200
        return len(captured)

    done = [make_job(owner, prompt=f"done {i}") for i in range(6)]
    assert count(done[:1]) == count(done)


def test_the_status_json_keeps_the_api_shape_and_only_adds(owner, owner_client):
    job = make_job(owner)
    status = owner_client.get(reverse("job-status", args=[job.public_id])).json()
    api_keys = {
        "id",
        "status",
        "progress",
        "params",
        "error",
        "attempts",
        "source",
        "created_at",
        "started_at",
        "finished_at",
        "wait_seconds",
        "run_seconds",
        "images",
    }
    assert api_keys <= set(status)
    assert status["phase"].startswith("Done in")
