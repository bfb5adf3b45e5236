"""Webhooks: signed job events POSTed to a receiver on 127.0.0.1, recorded, retried."""

import datetime as dt
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import time_machine

from core.webhook_urls import WebhookUrlRejected, host_allowed, webhook_url_check
from generation import runner, tasks, webhooks
from generation.backends import BackendError
from generation.models import WebhookDelivery
from generation.webhooks import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    webhook_signature,
    webhook_signature_verify,
)
from tests.apiclient import bearer, post_json

pytestmark = pytest.mark.django_db


class Receiver:
    """A tiny HTTP server on 127.0.0.1 that records requests and answers scripted statuses."""

    def __init__(self, statuses=(200,)):
        self.statuses = list(statuses)
        self.requests: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                receiver.requests.append({"headers": dict(self.headers), "body": body})
                status = (
                    receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                )
                self.send_response(status)
                if 300 <= status < 400:
                    self.send_header("Location", "http://example.com/elsewhere")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/jobs"
        # shutdown() waits for serve_forever's next poll: 0.5 s by default, for every test.
        self.thread = threading.Thread(
            target=self.server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True
        )

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def allow_localhost(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_RETRY_BASE_DELAY = 30
    settings.WEBHOOK_TIMEOUT_SECONDS = 5


def _submit_and_run(client, owner, url, django_capture_on_commit_callbacks, **body):
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(
            client,
            "/v1/jobs",
            {"prompt": "a kite", "size": "square", "webhook_url": url, **body},
            headers=bearer(owner),
        )
    assert response.status_code == 202, response.content
    return response.json()["id"]


def test_succeeded_job_posts_a_signed_event_that_verifies(
    owner, client, allow_localhost, django_capture_on_commit_callbacks
):
    secret = client.get("/v1/webhooks/secret", **bearer(owner)).json()["secret"]
    with Receiver() as receiver:
        job_id = _submit_and_run(client, owner, receiver.url, django_capture_on_commit_callbacks)
    (request,) = receiver.requests
    headers = request["headers"]
    assert headers["X-Studio-Event"] == "job.succeeded"
    assert webhook_signature_verify(
        secret=secret,
        timestamp=headers[TIMESTAMP_HEADER],
        body=request["body"],
        signature=headers[SIGNATURE_HEADER],
    )
    event = json.loads(request["body"])
    assert event["type"] == "job.succeeded"
    assert event["id"] == headers["X-Studio-Delivery"]
    job = event["data"]["job"]
    assert job["id"] == job_id and job["status"] == "succeeded"
    assert job["images"][0]["url"].startswith("http://127.0.0.1:8000/v1/files/")

    shown = client.get(f"/v1/jobs/{job_id}", **bearer(owner)).json()["webhook"]
    (delivery,) = shown["deliveries"]
    assert delivery["status"] == "succeeded" and delivery["attempts"] == 1
    assert delivery["last_status_code"] == 200 and delivery["event"] == "job.succeeded"


def test_the_job_page_shows_deliveries_to_the_owner(
    owner, owner_client, client, allow_localhost, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        job_id = _submit_and_run(client, owner, receiver.url, django_capture_on_commit_callbacks)
    page = owner_client.get(f"/jobs/{job_id}/").content.decode()
    assert receiver.url in page and "job.succeeded" in page and "Delivered" in page


def test_failed_job_posts_job_failed(
    owner, client, allow_localhost, monkeypatch, django_capture_on_commit_callbacks
):
    class Refusing:
        name = "refusing"

        def generate(self, request, *, on_progress, should_cancel):
            raise BackendError("Prompt refused.", code="content_policy", retryable=False)

    monkeypatch.setattr(runner, "get_backend", lambda name=None: Refusing())
    with Receiver() as receiver:
        _submit_and_run(client, owner, receiver.url, django_capture_on_commit_callbacks)
    event = json.loads(receiver.requests[0]["body"])
    assert event["type"] == "job.failed"
    assert event["data"]["job"]["error"] == {"code": "content_policy", "message": "Prompt refused."}


def test_a_failed_delivery_is_retried_with_backoff_then_delivered(
    owner, client, allow_localhost, django_capture_on_commit_callbacks
):
    with Receiver(statuses=[500, 302, 200]) as receiver:
        _submit_and_run(client, owner, receiver.url, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get()
        assert delivery.status == "pending" and delivery.attempts == 1
        assert delivery.last_status_code == 500
        first_wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
        assert 29 <= first_wait <= 31

        # Too early: the scheduled retry does nothing.
        tasks.deliver_webhook(delivery.pk)
        assert len(receiver.requests) == 1

        with time_machine.travel(delivery.next_attempt_at + dt.timedelta(seconds=1)):
            with django_capture_on_commit_callbacks(execute=True):
                tasks.deliver_webhook(delivery.pk)  # what Huey runs when the delay is up
            delivery.refresh_from_db()
            assert delivery.last_status_code == 302  # redirects are not followed
            second_wait = (delivery.next_attempt_at - delivery.last_attempt_at).total_seconds()
            assert 59 <= second_wait <= 61  # doubled

        with time_machine.travel(delivery.next_attempt_at + dt.timedelta(seconds=1)):
            tasks.deliver_webhook(delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "succeeded" and delivery.attempts == 3
    assert len(receiver.requests) == 3
    # One event id across retries, so receivers can de-duplicate; each attempt signed afresh.
    assert len({r["headers"]["X-Studio-Delivery"] for r in receiver.requests}) == 1
    assert len({r["body"] for r in receiver.requests}) == 1


def test_delivery_gives_up_after_the_attempt_cap(
    owner, client, allow_localhost, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_MAX_ATTEMPTS = 2
    with Receiver(statuses=[503]) as receiver:
        _submit_and_run(client, owner, receiver.url, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get()
        with time_machine.travel(delivery.next_attempt_at + dt.timedelta(seconds=1)):
            webhooks.webhook_deliver(delivery_id=delivery.pk)
    delivery.refresh_from_db()
    assert delivery.status == "failed" and delivery.attempts == 2
    assert delivery.next_attempt_at is None
    assert "503" in delivery.last_error


def test_an_unreachable_receiver_is_recorded(
    owner, client, allow_localhost, django_capture_on_commit_callbacks
):
    with Receiver() as receiver:
        url = receiver.url
    # The receiver is gone: nothing listens on that port any more.
    _submit_and_run(client, owner, url, django_capture_on_commit_callbacks)
    delivery = WebhookDelivery.objects.get()
    assert delivery.status == "pending" and delivery.last_status_code is None
    assert "ConnectError" in delivery.last_error


def test_lost_retries_are_requeued_by_the_periodic_task(
    owner, client, allow_localhost, django_capture_on_commit_callbacks
):
    with Receiver(statuses=[500, 200]) as receiver:
        _submit_and_run(client, owner, receiver.url, django_capture_on_commit_callbacks)
        delivery = WebhookDelivery.objects.get()
        with time_machine.travel(delivery.next_attempt_at + dt.timedelta(minutes=5)):
            assert webhooks.webhook_deliveries_requeue_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == "succeeded"


def test_no_webhook_url_means_no_delivery(owner, django_capture_on_commit_callbacks):
    from tests.factories import make_job

    make_job(owner)
    assert not WebhookDelivery.objects.exists()


def test_rotating_the_secret_changes_signatures(owner, client):
    first = client.get("/v1/webhooks/secret", **bearer(owner)).json()["secret"]
    assert client.get("/v1/webhooks/secret", **bearer(owner)).json()["secret"] == first
    rotated = post_json(client, "/v1/webhooks/secret/rotate", {}, headers=bearer(owner))
    assert rotated.json()["secret"] != first and rotated.json()["secret"].startswith("whsec_")


def test_signature_verification_rejects_tampering_and_stale_timestamps():
    body = b'{"type":"job.succeeded"}'
    now = int(time.time())
    signature = webhook_signature(secret="whsec_a", timestamp=now, body=body)
    ok = {"secret": "whsec_a", "timestamp": str(now), "signature": signature}
    assert webhook_signature_verify(body=body, **ok)
    assert not webhook_signature_verify(body=body + b" ", **ok)
    assert not webhook_signature_verify(body=body, **{**ok, "secret": "whsec_b"})
    assert not webhook_signature_verify(body=body, **{**ok, "timestamp": str(now + 1)})
    stale = webhook_signature(secret="whsec_a", timestamp=now - 600, body=body)
    assert not webhook_signature_verify(
        body=body, secret="whsec_a", timestamp=str(now - 600), signature=stale
    )


@pytest.mark.parametrize(
    ("host", "port", "allowed", "expected"),
    [
        ("hooks.example.com", None, ["hooks.example.com"], True),
        ("HOOKS.example.com", 443, ["hooks.example.com"], True),
        ("a.hooks.example.com", None, ["*.example.com"], True),
        ("example.com.evil.net", None, ["*.example.com"], False),
        ("evilexample.com", None, ["*.example.com"], False),
        ("10.0.0.5", 9000, ["10.0.0.5:9000"], True),
        ("10.0.0.5", 9001, ["10.0.0.5:9000"], False),
        ("::1", 8000, ["[::1]:8000"], True),
        ("hooks.example.com", None, [], False),
    ],
)
def test_host_allow_list(host, port, allowed, expected):
    assert host_allowed(host, port, allowed) is expected


@pytest.mark.parametrize(
    "url",
    [
        "ftp://hooks.example.com/x",
        "http://user:pw@hooks.example.com/x",
        "http://hooks.example.com:99999/x",
        "hooks.example.com/x",
    ],
)
def test_malformed_webhook_urls_are_refused(url, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com"]
    with pytest.raises(WebhookUrlRejected):
        webhook_url_check(url)


def test_a_host_removed_from_the_allow_list_gets_no_more_deliveries(
    owner, client, allow_localhost, settings, django_capture_on_commit_callbacks
):
    with Receiver(statuses=[500]) as receiver:
        _submit_and_run(client, owner, receiver.url, django_capture_on_commit_callbacks)
        settings.WEBHOOK_ALLOWED_HOSTS = []
        delivery = WebhookDelivery.objects.get()
        with time_machine.travel(delivery.next_attempt_at + dt.timedelta(seconds=1)):
            webhooks.webhook_deliver(delivery_id=delivery.pk)
        assert len(receiver.requests) == 1  # not sent again
    delivery.refresh_from_db()
    assert "disabled" in delivery.last_error
