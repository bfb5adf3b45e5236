"""Trust at the edges (issue 16): each test here failed on the release before the fix.

4: cancel honoured on every job transition; 5: the byte gate (replays of a rejected image);
6: webhook URLs httpx refuses; 7: signed URLs checked against current access; 8: invisible
characters inside blocked words; 10: oversized /v1 bodies are a 413.
"""

import base64
import datetime as dt
import json

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.services import membership_remove
from core.webhook_urls import WebhookUrlRejected, webhook_url_check
from gallery import services as gallery_services
from generation import lifecycle, reaper, runner, webhooks
from generation.backends import BackendError
from generation.models import BlockedTerm, Image, Job, WebhookDelivery
from generation.moderation import PromptBlocked, image_moderate, prompt_check
from generation.signed_urls import image_signed_urls
from tests.apiclient import assert_envelope, bearer, post_json
from tests.factories import make_image, make_job

# --- 4. A job canceled while running that then hits a retryable error ---------------------


class _CanceledMidCall:
    """A backend whose call is canceled by its user while it runs, then fails retryably."""

    def generate(self, request, *, on_progress, should_cancel):
        Job.objects.update(cancel_requested=True)  # the user pressed Cancel meanwhile
        raise BackendError("The image service is busy.", code="upstream_error", retryable=True)


@pytest.fixture
def canceled_mid_call(monkeypatch):
    monkeypatch.setattr(runner, "get_backend", lambda name: _CanceledMidCall())


@pytest.mark.django_db
def test_a_cancel_during_a_retryable_error_ends_the_job_canceled(
    owner, settings, canceled_mid_call, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]
    job = make_job(owner, run=False)
    Job.objects.filter(pk=job.pk).update(webhook_url="https://hooks.example/jobs")
    with django_capture_on_commit_callbacks() as enqueued:
        runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED
    assert job.lease_expires_at is None and job.finished_at is not None
    # Its concurrency slot is free, and its webhook fires.
    assert not Job.objects.filter(user=owner, status__in=Job.ACTIVE).exists()
    assert WebhookDelivery.objects.get(job=job).event == "job.canceled"
    assert len(enqueued) == 1  # the delivery, not a retry of the job


@pytest.mark.django_db
def test_the_reaper_ends_jobs_left_queued_with_a_cancel_request(owner):
    job = make_job(owner, run=False)
    # What the old release left behind: queued, cancel requested, never claimable.
    Job.objects.filter(pk=job.pk).update(
        cancel_requested=True, enqueued_at=timezone.now() - dt.timedelta(hours=1)
    )
    counts = reaper.jobs_reap()
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED
    assert counts["canceled"] == 1 and counts["reenqueued"] == 0


@pytest.mark.django_db
def test_a_delivered_task_of_a_cancel_requested_queued_job_cancels_it(owner):
    job = make_job(owner, run=False)
    Job.objects.filter(pk=job.pk).update(cancel_requested=True)
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED


@pytest.mark.django_db
def test_canceling_a_queued_job_announces_it(owner, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]
    job = make_job(owner, run=False)
    Job.objects.filter(pk=job.pk).update(webhook_url="https://hooks.example/jobs")
    lifecycle.job_cancel(job=job)
    assert job.status == Job.Status.CANCELED
    assert WebhookDelivery.objects.get(job=job).event == "job.canceled"


# --- 5. A rejected image replayed by its Idempotency-Key ----------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_replay_never_serves_a_rejected_image(owner, staff, client):
    headers = {**bearer(owner), "HTTP_IDEMPOTENCY_KEY": "replay-1"}
    body = {"prompt": "a kite", "size": "square", "response_format": "b64_json"}
    first = post_json(client, "/v1/images/generations", body, headers=headers)
    assert first.status_code == 200
    png = base64.b64decode(first.json()["data"][0]["b64_json"])
    image = Image.objects.get()
    image_moderate(image=image, actor=staff, to_state=Image.Moderation.REJECTED)
    replay = post_json(client, "/v1/images/generations", body, headers=headers)
    error = assert_envelope(replay, 410, code="images_withheld")
    assert error["job_id"] == str(image.job.public_id)
    assert base64.b64encode(png).decode()[:200] not in replay.content.decode()
    url_replay = post_json(
        client, "/v1/images/generations", {**body, "response_format": "url"}, headers=headers
    )
    assert url_replay.status_code in (409, 410)  # another body: a conflict; never the image


@pytest.mark.django_db
def test_the_zip_leaves_out_an_image_rejected_while_it_streams(owner, staff, owner_client):
    kept, rejected = make_image(owner), make_image(owner)
    response = owner_client.post(
        reverse("gallery-bulk"),
        {"action": "zip", "images": [str(kept.public_id), str(rejected.public_id)]},
    )
    assert response.status_code == 200
    image_moderate(image=rejected, actor=staff, to_state=Image.Moderation.REJECTED)
    import io
    import zipfile

    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    manifest = json.loads(archive.read("manifest.json"))
    assert [entry["id"] for entry in manifest] == [str(kept.public_id)]


@pytest.mark.django_db
def test_no_path_serves_a_rejected_image(owner, staff, owner_client, client, anonymous_client):
    image = make_image(owner, visibility="public")
    share = gallery_services.share_create(user=owner, image=image)
    signed = image_signed_urls(image)["url"]
    image_moderate(image=image, actor=staff, to_state=Image.Moderation.REJECTED)
    for url in (
        reverse("image-file", args=[image.public_id]),
        reverse("image-thumbnail", args=[image.public_id]),
        signed,
    ):
        assert owner_client.get(url).status_code == 404, url
    assert anonymous_client.get(reverse("share-file", args=[share.token])).status_code == 404


# --- 6. Webhook URLs that httpx refuses -----------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example/a\tb",
        "https://hooks.example/\x00",
        "https://hooks.example/a b",
        "https://hooks.example/\x7f",
        "https://hooks.example:99999/",
        "https://hooks.example/a\u2028b",
        "https://user:pw@hooks.example/",
        "https://hooks.example\\@evil.example/",
    ],
)
def test_urls_httpx_would_refuse_or_read_otherwise_are_refused(url, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]
    with pytest.raises(WebhookUrlRejected):
        webhook_url_check(url)


@pytest.mark.django_db
def test_a_tab_in_webhook_url_is_a_400_at_submission(owner, client, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]
    response = post_json(
        client,
        "/v1/jobs",
        {"prompt": "a kite", "webhook_url": "https://hooks.example/a\tb"},
        headers=bearer(owner),
    )
    assert_envelope(response, 400, code="webhook_url_not_allowed", param="webhook_url")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_delivery_to_a_url_httpx_refuses_fails_once_and_for_good(owner, settings):
    """Rows stored before the check (older releases) end failed, never pending for ever."""
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    job = make_job(owner)
    delivery = WebhookDelivery.objects.create(
        job=job, event="job.succeeded", url="https://hooks.example/a\tb", payload={}
    )
    monkey_check = webhooks.webhook_url_check
    try:  # the old check let it through
        webhooks.webhook_url_check = lambda url: url
        webhooks.webhook_deliver(delivery_id=delivery.pk)
    finally:
        webhooks.webhook_url_check = monkey_check
    delivery.refresh_from_db()
    assert delivery.status == WebhookDelivery.Status.FAILED
    assert delivery.attempts == 1 and delivery.lease_expires_at is None
    assert "InvalidURL" in delivery.last_error


@pytest.mark.django_db
def test_deliveries_never_go_past_the_attempt_cap(owner, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example"]
    settings.WEBHOOK_MAX_ATTEMPTS = 3
    job = make_job(owner)
    stuck = WebhookDelivery.objects.create(
        job=job, event="job.succeeded", url="https://hooks.example/", payload={}, attempts=5
    )
    assert webhooks.webhook_deliver(delivery_id=stuck.pk) is None
    stuck.refresh_from_db()
    assert stuck.attempts == 5
    webhooks.webhook_deliveries_requeue_due()
    stuck.refresh_from_db()
    assert stuck.status == WebhookDelivery.Status.FAILED


# --- 7. Signed file URLs stop with access ---------------------------------------------------


@pytest.mark.django_db
def test_a_signed_url_stops_when_the_image_is_made_private(owner, teammate, client):
    image = make_image(owner, visibility="team")
    listed = client.get("/v1/images", {"scope": "team"}, **bearer(teammate)).json()["data"]
    url = next(item["url"] for item in listed if item["id"] == str(image.public_id))
    assert client.get(url).status_code == 200
    gallery_services.image_set_visibility(user=owner, image=image, visibility="private")
    assert client.get(url).status_code == 404
    # The owner's own URL keeps working.
    own = client.get(f"/v1/images/{image.public_id}", **bearer(owner)).json()["url"]
    assert client.get(own).status_code == 200


@pytest.mark.django_db
def test_a_signed_url_stops_when_its_holder_leaves_the_team(owner, team, teammate, client):
    image = make_image(owner, visibility="team")
    url = client.get(f"/v1/images/{image.public_id}", **bearer(teammate)).json()["url"]
    assert client.get(url).status_code == 200
    membership = Membership.objects.get(user=teammate, team=team)
    membership_remove(by=membership, membership=membership)
    assert client.get(url).status_code == 404


@pytest.mark.django_db
def test_a_signed_url_stops_when_its_holder_is_deactivated(owner, client):
    image = make_image(owner)
    url = image_signed_urls(image, holder=owner)["url"]
    owner.is_active = False
    owner.save()
    assert client.get(url).status_code == 404


# --- 8. Invisible characters inside a blocked word ------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("hidden", ["\u034f", "\ufe0f", "\u180b", "\u3164", "\u200b", "\u00ad"])
def test_invisible_characters_do_not_hide_a_blocked_word(hidden):
    BlockedTerm.objects.create(term="gore", kind="word")
    with pytest.raises(PromptBlocked):
        prompt_check(prompt=f"a scene full of g{hidden}o{hidden}re")


@pytest.mark.django_db
def test_case_folding_and_compatibility_forms_do_not_hide_a_blocked_word():
    BlockedTerm.objects.create(term="strasse", kind="word")
    BlockedTerm.objects.create(term="gore", kind="word")
    for prompt in ("a STRAßE at night", "ｇｏｒｅ everywhere", "GORE"):
        with pytest.raises(PromptBlocked):
            prompt_check(prompt=prompt)
    prompt_check(prompt="a gorge at night")  # still whole words only


@pytest.mark.django_db
def test_the_api_refuses_a_blocked_word_with_a_hidden_character(owner, client):
    BlockedTerm.objects.create(term="gore", kind="word")
    response = post_json(client, "/v1/jobs", {"prompt": "go\u034fre"}, headers=bearer(owner))
    assert_envelope(response, 400, code="prompt_blocked", param="prompt")


# --- 10. Oversized bodies on /v1 --------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/v1/jobs", "/v1/images/generations", "/v1/collections"])
def test_an_oversized_body_is_a_413_with_the_envelope(owner, client, path):
    body = json.dumps({"prompt": "x" * (3 * 1024 * 1024)})
    response = client.post(path, data=body, content_type="application/json", **bearer(owner))
    assert_envelope(response, 413, code="request_too_large")
    assert response["x-should-retry"] == "false"
    assert "Traceback" not in response.content.decode()
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_an_oversized_body_without_auth_is_still_a_413(client):
    body = json.dumps({"prompt": "x" * (3 * 1024 * 1024)})
    response = client.post("/v1/jobs", data=body, content_type="application/json")
    assert_envelope(response, 413, code="request_too_large")


@pytest.mark.django_db
def test_a_signed_url_never_carries_a_rejected_image_even_for_staff(owner, staff, client):
    image = make_image(owner)
    url = image_signed_urls(image, holder=staff)["url"]
    assert client.get(url).status_code == 200
    image_moderate(image=image, actor=staff, to_state=Image.Moderation.REJECTED)
    assert client.get(url).status_code == 404
    client.force_login(staff)  # staff still see it on the pages, with their session
    assert client.get(reverse("image-file", args=[image.public_id])).status_code == 200
