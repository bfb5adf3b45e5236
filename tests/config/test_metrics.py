"""/metrics (issue 16, item 11): Prometheus text for staff or METRICS_TOKEN, with what an
operator watches: requests, jobs by state, the queue, backend calls, webhook outcomes.
And JSON log lines carrying the request id."""

import datetime as dt
import io
import json
import logging

import pytest
from django.urls import reverse
from django.utils import timezone
from prometheus_client.parser import text_string_to_metric_families

from config.logging import JsonFormatter, RedactSecrets
from generation import runner
from generation.backends import BackendError
from generation.models import Job, WebhookDelivery
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db

TOKEN = {"HTTP_AUTHORIZATION": "Bearer test-metrics-token"}


def _samples(response) -> dict:
    """{(name, frozenset(labels)): value} of a scrape."""
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain")
    found = {}
    for family in text_string_to_metric_families(response.content.decode()):
        for sample in family.samples:
            found[(sample.name, frozenset(sample.labels.items()))] = sample.value
    return found


def _value(samples: dict, name: str, **labels) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def test_metrics_need_staff_or_the_token(client, owner, staff, settings):
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer wrong").status_code == 403
    client.force_login(owner)
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", **TOKEN).status_code == 200
    client.force_login(staff)
    assert client.get("/metrics").status_code == 200
    settings.METRICS_TOKEN = ""  # no token configured: no bearer works
    client.logout()
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer anything").status_code == 403


def test_jobs_by_state_and_the_oldest_queued_job(client, owner):
    make_job(owner)
    waiting = make_job(owner, run=False)
    Job.objects.filter(pk=waiting.pk).update(enqueued_at=timezone.now() - dt.timedelta(minutes=5))
    samples = _samples(client.get("/metrics", **TOKEN))
    assert _value(samples, "qwen_jobs", status="succeeded") == 1
    assert _value(samples, "qwen_jobs", status="queued") == 1
    assert _value(samples, "qwen_jobs", status="failed") == 0
    assert 299 <= _value(samples, "qwen_queue_oldest_job_age_seconds") < 400
    assert ("qwen_queue_depth", frozenset()) in samples


def test_backend_calls_and_errors_by_code(client, owner, monkeypatch):
    before = _samples(client.get("/metrics", **TOKEN))
    make_job(owner)

    class Busy:
        def generate(self, request, *, on_progress, should_cancel):
            raise BackendError("busy", code="rate_limited", retryable=True)

    monkeypatch.setattr(runner, "get_backend", lambda name: Busy())
    runner.job_run(job_id=make_job(owner, run=False).pk)
    after = _samples(client.get("/metrics", **TOKEN))
    calls = "qwen_backend_call_duration_seconds_count"
    assert (
        _value(after, calls, backend="demo", outcome="ok")
        - _value(before, calls, backend="demo", outcome="ok")
        == 1
    )
    errors = "qwen_backend_errors_total"
    assert (
        _value(after, errors, backend="demo", code="rate_limited", retryable="true")
        - _value(before, errors, backend="demo", code="rate_limited", retryable="true")
        == 1
    )


def test_requests_by_route_pattern_never_by_raw_path(client, owner):
    image_job = make_job(owner)
    client.force_login(owner)
    client.get(reverse("job-detail", args=[image_job.public_id]))
    text = client.get("/metrics", **TOKEN).content.decode()
    samples = _samples(client.get("/metrics", **TOKEN))
    assert (
        _value(samples, "qwen_http_requests_total", route="jobs/<uuid:public_id>/", status="200")
        >= 1
    )
    assert str(image_job.public_id) not in text
    assert "qwen_http_request_duration_seconds_bucket" in text


def test_webhook_outcomes(client, owner, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1:9"]  # the discard port: nothing listens
    settings.WEBHOOK_TIMEOUT_SECONDS = 1
    job = make_job(owner)
    delivery = WebhookDelivery.objects.create(
        job=job, event="job.succeeded", url="http://127.0.0.1:9/", payload={}
    )
    from generation.webhooks import webhook_deliver

    webhook_deliver(delivery_id=delivery.pk)
    samples = _samples(client.get("/metrics", **TOKEN))
    assert _value(samples, "qwen_webhook_deliveries", status="pending") == 1
    assert _value(samples, "qwen_webhook_attempts_total", status_class="none") >= 1


# --- JSON logs --------------------------------------------------------------------------------


def test_json_log_lines_carry_the_request_id(client, staff):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactSecrets())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        response = client.get("/no-such-page/", HTTP_X_REQUEST_ID="req-abc.123")
    finally:
        logger.removeHandler(handler)
    assert response["X-Request-ID"] == "req-abc.123"
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert lines, "Django logs the 404"
    assert {line["request_id"] for line in lines} == {"req-abc.123"}
    assert {"time", "level", "logger", "message"} <= set(lines[0])


def test_json_logs_redact_secrets():
    record = logging.LogRecord(
        "x", logging.INFO, __file__, 1, "GET /s/abcdefsecret/ with Bearer qis_%s", ("k" * 30,), None
    )
    RedactSecrets().filter(record)
    line = JsonFormatter().format(record)
    assert "abcdefsecret" not in line and "kkkk" not in line
    assert json.loads(line)["message"].startswith("GET /s/[redacted]/")


def test_production_settings_log_json(monkeypatch):
    import importlib

    import config.settings as settings_module

    monkeypatch.setenv("DJANGO_DEBUG", "0")
    monkeypatch.setenv("DJANGO_SECRET_KEY", "x" * 60)
    try:
        production = importlib.reload(settings_module)
        assert production.LOGGING["handlers"]["console"]["formatter"] == "json"
    finally:
        monkeypatch.undo()
        importlib.reload(settings_module)


def test_a_non_staff_user_cannot_read_metrics_with_a_session(client):
    client.force_login(make_user("plain"))
    assert client.get("/metrics").status_code == 401
