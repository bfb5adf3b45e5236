"""Every error under /v1 is the same envelope with the right status; every response has an id."""

import pytest
from django.db import OperationalError
from django.test import Client

from accounts.keys import api_key_create, api_key_revoke
from generation import api as generation_api
from tests.apiclient import assert_envelope, bearer, post_json
from tests.factories import make_job

pytestmark = pytest.mark.django_db


def test_validation_error_is_400_naming_the_field(owner, client):
    response = post_json(
        client, "/v1/jobs", {"prompt": "x", "size": "100x100"}, headers=bearer(owner)
    )
    error = assert_envelope(response, 400, code="invalid_parameter", param="size")
    assert error["type"] == "invalid_request_error"
    assert "256" in error["message"]


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({}, "prompt"),
        ({"prompt": "x", "n": "many"}, "n"),
        ({"prompt": "x", "size": {"width": "wide", "height": 512}}, "size.width"),
        ({"prompt": "x", "acceleration": "warp"}, "acceleration"),
        ({"prompt": "x", "num_inference_steps": 0}, "num_inference_steps"),
        ({"prompt": "x", "seed": 2**32, "n": 2}, "seed"),
        ({"prompt": "x", "size": "portrait_huge"}, "size"),
        ({"prompt": "   "}, "prompt"),
    ],
)
def test_each_invalid_field_is_named_in_param(owner, client, body, param):
    response = post_json(client, "/v1/jobs", body, headers=bearer(owner))
    assert_envelope(response, 400, param=param)


def test_malformed_json_is_400(owner, client):
    response = client.post(
        "/v1/jobs", data="{nope", content_type="application/json", **bearer(owner)
    )
    assert_envelope(response, 400, code="invalid_json")


def test_unknown_key_is_401(client):
    response = client.get("/v1/jobs", HTTP_AUTHORIZATION="Bearer qis_not-a-real-key")
    assert_envelope(response, 401, code="invalid_api_key")
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_is_401_even_on_a_post(owner, client):
    key, secret = api_key_create(user=owner)
    api_key_revoke(key=key)
    response = post_json(client, "/v1/jobs", {"prompt": "x"}, HTTP_AUTHORIZATION=f"Bearer {secret}")
    assert_envelope(response, 401, code="invalid_api_key")


def test_no_credentials_is_401(anonymous_client):
    assert_envelope(anonymous_client.get("/v1/me"), 401, code="missing_api_key")


def test_session_post_without_csrf_token_is_403(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    response = post_json(client, "/v1/jobs", {"prompt": "x"})
    assert_envelope(response, 403, code="csrf_failed")


def test_session_post_with_csrf_token_works(owner):
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    client.get("/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    response = post_json(client, "/v1/jobs", {"prompt": "x"}, HTTP_X_CSRFTOKEN=token)
    assert response.status_code == 202, response.content


def test_another_users_job_is_404_not_403(owner, outsider, client):
    job = make_job(owner, run=False)
    response = client.get(f"/v1/jobs/{job.public_id}", **bearer(outsider))
    assert_envelope(response, 404, code="job_not_found")


def test_unknown_route_under_v1_is_an_enveloped_404(owner, client):
    response = client.get("/v1/no/such/thing", **bearer(owner))
    assert_envelope(response, 404, code="route_not_found")


def test_wrong_method_is_405_with_allow(owner, client):
    response = client.delete("/v1/jobs", **bearer(owner))
    assert_envelope(response, 405, code="method_not_allowed")
    assert "POST" in response["Allow"]


def test_idempotency_conflict_is_409(owner, client):
    headers = {**bearer(owner), "HTTP_IDEMPOTENCY_KEY": "order-1"}
    post_json(client, "/v1/jobs", {"prompt": "a"}, headers=headers)
    response = post_json(client, "/v1/jobs", {"prompt": "b"}, headers=headers)
    assert_envelope(response, 409, code="idempotency_key_reused", param="Idempotency-Key")
    assert response["x-should-retry"] == "false"


def test_quota_exceeded_is_429_with_retry_after(owner, client, settings):
    settings.QUOTA_CONCURRENT_JOBS = 1
    make_job(owner, run=False)
    response = post_json(client, "/v1/jobs", {"prompt": "x"}, headers=bearer(owner))
    assert_envelope(response, 429, code="quota_exceeded")
    assert int(response["Retry-After"]) >= 1


def test_crash_is_an_enveloped_500_without_details(owner, client, monkeypatch):
    def boom(**kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(generation_api.selectors, "jobs_page_for_user", boom)
    response = client.get("/v1/jobs", **bearer(owner))
    error = assert_envelope(response, 500, code="internal_error")
    assert "secret" not in error["message"]
    assert error["type"] == "api_error"


def test_database_busy_is_503_with_retry_after(owner, client, monkeypatch):
    def locked(**kwargs):
        raise OperationalError("database is locked")

    monkeypatch.setattr(generation_api.selectors, "jobs_page_for_user", locked)
    response = client.get("/v1/jobs", **bearer(owner))
    assert_envelope(response, 503, code="service_unavailable")
    assert int(response["Retry-After"]) >= 1


def test_every_response_carries_a_request_id(owner, client):
    for response in (
        client.get("/v1/me", **bearer(owner)),
        client.get("/v1/nope"),
        client.get("/"),
    ):
        assert len(response["X-Request-ID"]) >= 16


def test_a_sane_incoming_request_id_is_echoed_and_a_bad_one_replaced(owner, client):
    good = client.get("/v1/me", HTTP_X_REQUEST_ID="trace-42.a:b", **bearer(owner))
    assert good["X-Request-ID"] == "trace-42.a:b"
    bad = client.get("/v1/me", HTTP_X_REQUEST_ID="x" * 500, **bearer(owner))
    assert bad["X-Request-ID"] != "x" * 500 and len(bad["X-Request-ID"]) == 32
    evil = client.get("/v1/me", HTTP_X_REQUEST_ID="a\r\nSet-Cookie: x=1", **bearer(owner))
    assert "\n" not in evil["X-Request-ID"]


def test_openapi_documents_the_error_envelope_and_docs_need_no_cdn(client):
    schema = client.get("/v1/openapi.json").json()
    assert "Error" in schema["components"]["schemas"]
    job_get = schema["paths"]["/v1/jobs/{job_id}"]["get"]["responses"]
    assert {"401", "404", "429", "500", "503"} <= {str(code) for code in job_get}
    docs = client.get("/v1/docs")
    assert docs.status_code == 200
    html = docs.content.decode()
    assert "swagger-ui-bundle.js" in html and "cdn" not in html.lower()
