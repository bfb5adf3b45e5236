"""The async job API: submit, get, list, cancel, retry; idempotency; signed image URLs."""

import datetime as dt
import io

import pytest
import time_machine
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from PIL import Image as PILImage

from generation import idempotency, lifecycle, runner
from generation.backends import BackendError
from generation.models import Image, Job
from tests.apiclient import assert_envelope, bearer, post_json
from tests.factories import make_job, make_job_row

pytestmark = pytest.mark.django_db


@pytest.fixture
def auth(owner):
    return bearer(owner)


def _submit(client, auth, body=None, **extra):
    return post_json(client, "/v1/jobs", body or {"prompt": "a red kite"}, headers=auth, **extra)


# --- Submit and read ------------------------------------------------------------------------


def test_submit_answers_202_with_the_queued_job_and_the_job_runs(
    owner, client, auth, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = _submit(
            client, auth, {"prompt": "a red kite", "size": {"width": 640, "height": 384}, "n": 2}
        )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued" and body["images"] == []
    assert body["params"]["size"] == {"width": 640, "height": 384}
    assert response["Location"].endswith(f"/v1/jobs/{body['id']}")
    job = Job.objects.get(public_id=body["id"])
    assert job.source == Job.Source.API and job.user == owner

    done = client.get(f"/v1/jobs/{body['id']}", **auth).json()
    assert done["status"] == "succeeded" and done["progress"] == 1.0
    assert [image["seed"] for image in done["images"]] == [job.seed, job.seed + 1]
    assert {(i["width"], i["height"]) for i in done["images"]} == {(640, 384)}
    assert done["run_seconds"] is not None and done["error"] is None


def test_image_urls_are_absolute_signed_and_work_without_a_session(owner, client, auth):
    job = make_job_row(owner)
    image = client.get(f"/v1/jobs/{job.public_id}", **auth).json()["images"][0]
    assert image["url"].startswith("http://testserver/v1/files/")
    stranger = Client()  # no session, no key
    png = stranger.get(image["url"])
    assert png.status_code == 200 and png["Content-Type"] == "image/png"
    decoded = PILImage.open(io.BytesIO(b"".join(png.streaming_content)))
    assert decoded.size == (512, 512)
    thumb = stranger.get(image["thumbnail_url"])
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"


def test_signed_urls_expire(owner, client, auth, settings):
    settings.API_IMAGE_URL_MAX_AGE = 60
    job = make_job_row(owner)
    url = client.get(f"/v1/jobs/{job.public_id}", **auth).json()["images"][0]["url"]
    with time_machine.travel(timezone.now() + dt.timedelta(seconds=61)):
        assert_envelope(Client().get(url), 403, code="url_expired")


def test_tampered_signed_url_is_404(owner, client, auth):
    job = make_job_row(owner)
    url = client.get(f"/v1/jobs/{job.public_id}", **auth).json()["images"][0]["url"]
    assert_envelope(Client().get(url[:-3] + "abc"), 404)


def test_signed_url_stops_working_when_a_moderator_rejects_the_image(owner, client, auth):
    job = make_job_row(owner)
    url = client.get(f"/v1/jobs/{job.public_id}", **auth).json()["images"][0]["url"]
    Image.objects.filter(job=job).update(moderation_state=Image.Moderation.REJECTED)
    assert_envelope(Client().get(url), 404)


def test_unknown_model_is_refused(client, auth):
    response = _submit(client, auth, {"prompt": "x", "model": "dall-e-3"})
    assert_envelope(response, 400, code="model_not_found", param="model")


# --- Webhook URL checks at submit -----------------------------------------------------------


def test_webhook_url_on_an_unlisted_host_is_refused(client, auth, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com"]
    response = _submit(client, auth, {"prompt": "x", "webhook_url": "http://10.0.0.1/hook"})
    error = assert_envelope(response, 400, code="webhook_url_not_allowed", param="webhook_url")
    assert "10.0.0.1" in error["message"]
    assert not Job.objects.exists()


def test_webhooks_are_refused_when_no_host_is_allowed(client, auth, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    response = _submit(client, auth, {"prompt": "x", "webhook_url": "https://hooks.example.com/"})
    error = assert_envelope(response, 400, param="webhook_url")
    assert "disabled" in error["message"]


def test_webhook_url_on_a_listed_host_is_kept(client, auth, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["*.example.com"]
    response = _submit(
        client, auth, {"prompt": "x", "webhook_url": "https://ci.hooks.example.com/done"}
    )
    assert response.status_code == 202
    assert response.json()["webhook"] == {
        "url": "https://ci.hooks.example.com/done",
        "deliveries": [],
    }


# --- Idempotency ----------------------------------------------------------------------------


def test_same_key_and_body_return_the_same_job(client, auth):
    headers = {**auth, "HTTP_IDEMPOTENCY_KEY": "batch-7"}
    first = _submit(client, auth | headers, {"prompt": "x", "n": 1})
    again = _submit(client, auth | headers, {"n": 1, "prompt": "x"})  # key order differs
    assert first.status_code == again.status_code == 202
    assert first.json()["id"] == again.json()["id"]
    assert again["Idempotent-Replayed"] == "true"
    assert Job.objects.count() == 1


def test_same_key_with_another_body_is_a_409_naming_the_first_job(client, auth):
    headers = {**auth, "HTTP_IDEMPOTENCY_KEY": "batch-7"}
    first = _submit(client, headers, {"prompt": "x"})
    error = assert_envelope(_submit(client, headers, {"prompt": "y"}), 409)
    assert error["job_id"] == first.json()["id"]
    assert Job.objects.count() == 1


def test_keys_are_per_user(client, auth, outsider):
    _submit(client, {**auth, "HTTP_IDEMPOTENCY_KEY": "k"})
    other = _submit(client, {**bearer(outsider), "HTTP_IDEMPOTENCY_KEY": "k"})
    assert other.status_code == 202
    assert Job.objects.count() == 2


def test_a_racing_duplicate_gets_the_winners_job(client, auth, monkeypatch):
    real_create = idempotency.job_create
    winners = []

    def racing(**kwargs):
        winners.append(real_create(**kwargs))  # the other request commits first...
        return real_create(**kwargs)  # ...so ours hits the unique constraint

    monkeypatch.setattr(idempotency, "job_create", racing)
    response = _submit(client, {**auth, "HTTP_IDEMPOTENCY_KEY": "race"})
    assert response.status_code == 202
    assert response.json()["id"] == str(winners[0].public_id)
    assert Job.objects.count() == 1


def test_an_unprintable_idempotency_key_is_refused(client, auth):
    response = _submit(client, {**auth, "HTTP_IDEMPOTENCY_KEY": "x" * 201})
    assert_envelope(response, 400, param="Idempotency-Key")


# --- List -----------------------------------------------------------------------------------


def _make_jobs(user, count):
    jobs = []
    start = timezone.now() - dt.timedelta(hours=1)
    for i in range(count):
        with time_machine.travel(start + dt.timedelta(minutes=i), tick=False):
            jobs.append(make_job(user, run=False, prompt=f"job {i}"))
    return jobs


def test_list_pages_with_a_cursor_newest_first_without_repeats(owner, client, auth, settings):
    settings.QUOTA_CONCURRENT_JOBS = 100
    jobs = _make_jobs(owner, 5)
    seen, cursor, pages = [], None, 0
    while True:
        url = "/v1/jobs?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, **auth).json()
        pages += 1
        seen += [job["id"] for job in page["data"]]
        if not page["has_more"]:
            assert page["next_cursor"] is None
            break
        cursor = page["next_cursor"]
    assert pages == 3
    assert seen == [str(job.public_id) for job in reversed(jobs)]


def test_list_filters_by_status_and_creation_time(owner, client, auth, settings):
    settings.QUOTA_CONCURRENT_JOBS = 100
    jobs = _make_jobs(owner, 4)
    lifecycle.job_cancel(job=jobs[1])
    canceled = client.get("/v1/jobs?status=canceled", **auth).json()["data"]
    assert [job["id"] for job in canceled] == [str(jobs[1].public_id)]
    middle = client.get(
        "/v1/jobs",
        {
            "created_after": jobs[0].created_at.isoformat(),
            "created_before": jobs[3].created_at.isoformat(),
        },
        **auth,
    ).json()["data"]
    assert [job["id"] for job in middle] == [str(jobs[2].public_id), str(jobs[1].public_id)]


def test_list_refuses_a_forged_cursor(client, auth):
    assert_envelope(client.get("/v1/jobs?cursor=abc", **auth), 400, param="cursor")


def test_list_query_count_does_not_grow_with_the_page(owner, client, auth, settings):
    settings.QUOTA_CONCURRENT_JOBS = 100
    settings.QUOTA_IMAGES_PER_DAY = 1000

    def queries_for_listing():
        client.get("/v1/jobs", **auth)  # warm the key's last_used_at
        with CaptureQueriesContext(connection) as captured:
            response = client.get("/v1/jobs?limit=50", **auth)
        assert response.status_code == 200
        return len(captured), len(response.json()["data"])

    make_job_row(owner, n=2)
    small, listed = queries_for_listing()
    assert listed == 1
    for _ in range(6):
        make_job_row(owner, n=2)
    large, listed = queries_for_listing()
    assert listed == 7
    # Key lookup, jobs, images, deliveries, usage (the ledger, for the whole page): no COUNT,
    # no N+1.
    assert large == small <= 5


def test_list_shows_only_your_jobs(owner, outsider, teammate, client):
    make_job(owner, run=False)
    for user in (outsider, teammate):
        assert client.get("/v1/jobs", **bearer(user)).json()["data"] == []


# --- Cancel and retry -----------------------------------------------------------------------


def test_cancel_a_queued_job(owner, client, auth):
    job = make_job(owner, run=False)
    response = post_json(client, f"/v1/jobs/{job.public_id}/cancel", {}, headers=auth)
    assert response.status_code == 200 and response.json()["status"] == "canceled"
    again = post_json(client, f"/v1/jobs/{job.public_id}/cancel", {}, headers=auth)
    assert again.status_code == 200  # canceling twice is harmless


def test_cancel_a_finished_job_is_409(owner, client, auth):
    job = make_job_row(owner)
    response = post_json(client, f"/v1/jobs/{job.public_id}/cancel", {}, headers=auth)
    assert_envelope(response, 409, code="job_finished")


def test_retry_a_failed_job_requeues_it(owner, client, auth, monkeypatch):
    job = make_job(owner, run=False)
    lifecycle.job_fail(job=job, code="upstream_error", message="The provider is down.")
    failed = client.get(f"/v1/jobs/{job.public_id}", **auth).json()
    assert failed["error"] == {"code": "upstream_error", "message": "The provider is down."}
    response = post_json(client, f"/v1/jobs/{job.public_id}/retry", {}, headers=auth)
    assert response.status_code == 202
    assert response.json()["status"] == "queued" and response.json()["error"] is None


def test_retry_an_active_job_is_409(owner, client, auth):
    job = make_job(owner, run=False)
    response = post_json(client, f"/v1/jobs/{job.public_id}/retry", {}, headers=auth)
    assert_envelope(response, 409, code="job_not_retryable")


def test_a_failed_job_reports_its_error(owner, client, auth, monkeypatch):
    class Broken:
        name = "broken"

        def generate(self, request, *, on_progress, should_cancel):
            raise BackendError("Prompt refused.", code="content_policy", retryable=False)

    monkeypatch.setattr(runner, "get_backend", lambda name=None: Broken())
    job = make_job(owner)
    body = client.get(f"/v1/jobs/{job.public_id}", **auth).json()
    assert body["status"] == "failed"
    assert body["error"] == {"code": "content_policy", "message": "Prompt refused."}


# --- Ownership: every job route is a 404 for anyone else ------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"), [("get", ""), ("post", "/cancel"), ("post", "/retry")]
)
@pytest.mark.parametrize("intruder", ["outsider", "teammate"])
def test_other_users_get_404_on_every_job_route(owner, client, request, method, suffix, intruder):
    job = make_job(owner, run=False)
    lifecycle.job_fail(job=job, code="x", message="x")  # retryable state, to be sure it is 404
    headers = bearer(request.getfixturevalue(intruder))
    url = f"/v1/jobs/{job.public_id}{suffix}"
    response = getattr(client, method)(url, **headers)
    assert_envelope(response, 404)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED  # untouched


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/v1/jobs"),
        ("post", "/v1/jobs"),
        ("get", "/v1/jobs/00000000-0000-0000-0000-000000000000"),
        ("post", "/v1/jobs/00000000-0000-0000-0000-000000000000/cancel"),
        ("post", "/v1/jobs/00000000-0000-0000-0000-000000000000/retry"),
        ("post", "/v1/images/generations"),
        ("get", "/v1/webhooks/secret"),
        ("get", "/v1/me"),
    ],
)
def test_anonymous_gets_401_everywhere(anonymous_client, method, path):
    assert_envelope(getattr(anonymous_client, method)(path), 401)


def test_staff_can_read_any_job(owner, staff, client):
    job = make_job(owner, run=False)
    assert client.get(f"/v1/jobs/{job.public_id}", **bearer(staff)).status_code == 200
