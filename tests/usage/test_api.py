"""The API side of usage: /v1/me with budgets, the dry-run estimate, `usage`/`cost` on jobs."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from accounts.keys import api_key_create
from generation import lifecycle
from generation.models import Job
from tests.apiclient import assert_envelope, bearer, post_json
from tests.factories import make_job
from tests.usage.conftest import budget
from usage.models import Reservation

pytestmark = pytest.mark.django_db


# --- /v1/me ---------------------------------------------------------------------------------


def test_me_shows_user_team_quota_and_usage(owner, client, settings, priced):
    settings.QUOTA_IMAGES_PER_DAY = 10
    make_job(owner, n=3)
    body = client.get("/v1/me", **bearer(owner)).json()
    assert body["user"]["username"] == "owner"
    assert body["team"]["name"] == "Studio" and body["team"]["role"] == "owner"
    assert body["quota"] == {
        "images_per_day": 10,
        "images_today": 3,
        "images_left": 7,
        "concurrent_jobs": settings.QUOTA_CONCURRENT_JOBS,
        "active_jobs": 0,
        "cost_today": 0.03,
        "currency": "USD",
    }
    assert body["api_key"]["name"] == "tests" and body["budgets"] == []


def test_me_lists_the_budgets_of_user_team_and_key(owner, team, client, priced):
    key, secret = api_key_create(user=owner, name="ci")
    budget(user=owner, budget=Decimal("5"), budget_period="day")
    budget(team=team, budget=Decimal("50"), soft_threshold_percent=90)
    budget(api_key=key, budget=Decimal("1"))
    make_job(owner, n=2)
    body = client.get("/v1/me", HTTP_AUTHORIZATION=f"Bearer {secret}").json()
    budgets = {b["scope"]: b for b in body["budgets"]}
    assert list(budgets) == ["team", "user", "api_key"]
    assert budgets["team"]["amount"] == 50 and budgets["team"]["soft_threshold_percent"] == 90
    assert budgets["user"]["period"] == "day" and budgets["user"]["spent"] == 0.02
    assert budgets["api_key"]["spent"] == 0  # made without the key
    assert budgets["team"]["resets_at"] > budgets["team"]["period_start"]


def test_me_is_about_the_caller_only(owner, outsider, client):
    make_job(owner, n=2)
    body = client.get("/v1/me", **bearer(outsider)).json()
    assert body["user"]["username"] == "outsider"
    assert body["team"]["name"] == "Elsewhere"
    assert body["quota"]["images_today"] == 0


def test_me_works_with_a_browser_session(owner_client):
    body = owner_client.get("/v1/me").json()
    assert body["user"]["username"] == "owner" and body["api_key"] is None


# --- POST /v1/estimates -----------------------------------------------------------------------


def test_estimate_prices_the_request_and_creates_nothing(owner, client, settings):
    settings.QWEN_IMAGE_BACKEND = "remote"
    response = post_json(
        client,
        "/v1/estimates",
        {"prompt": "a kite", "size": "square_hd", "n": 2},
        headers=bearer(owner),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["object"] == "estimate" and body["backend"] == "remote"
    assert body["usage"]["images"] == 2 and body["usage"]["megapixels"] == 2.097152
    assert body["cost"] == {
        "amount": 0.041944,
        "per_image": 0.020972,
        "currency": "USD",
        "estimated": True,
    }
    assert body["allowed"] is True and body["refusal"] is None
    assert not Job.objects.exists() and not Reservation.objects.exists()


def test_estimate_says_when_a_budget_would_refuse_the_job(owner, client, priced):
    budget(user=owner, budget=Decimal("0.02"), budget_period="day")
    make_job(owner, n=2)
    body = post_json(client, "/v1/estimates", {"prompt": "x"}, headers=bearer(owner)).json()
    assert body["allowed"] is False
    assert body["refusal"]["status"] == 402 and body["refusal"]["code"] == "budget_exceeded"
    assert body["refusal"]["retry_after"] > 0
    assert body["budgets"][0]["left"] == 0


def test_estimate_validates_like_a_job(owner, client):
    response = post_json(
        client, "/v1/estimates", {"prompt": "x", "size": "100x7"}, headers=bearer(owner)
    )
    assert_envelope(response, 400, code="invalid_parameter", param="size")


@pytest.mark.parametrize("who", ["anonymous", "outsider", "staff"])
def test_estimate_needs_a_caller_and_is_about_the_caller(who, owner, outsider, staff, client):
    budget(user=owner, budget=Decimal("0"))
    if who == "anonymous":
        assert_envelope(post_json(client, "/v1/estimates", {"prompt": "x"}), 401)
        return
    caller = {"outsider": outsider, "staff": staff}[who]
    body = post_json(client, "/v1/estimates", {"prompt": "x"}, headers=bearer(caller)).json()
    assert body["allowed"] is True  # the owner's zero budget is not theirs


def test_estimate_from_the_browser_needs_the_csrf_token(owner):
    browser = Client(enforce_csrf_checks=True)
    browser.force_login(owner)
    refused = post_json(browser, "/v1/estimates", {"prompt": "x"})
    assert_envelope(refused, 403, code="csrf_failed")


# --- usage and cost on jobs -------------------------------------------------------------------


def test_a_job_says_what_it_used_and_cost(owner, client, priced):
    job = make_job(owner, n=2)
    body = client.get(f"/v1/jobs/{job.public_id}", **bearer(owner)).json()
    assert body["usage"] == {
        "units": 2,
        "calls_refused": 0,
        "in_flight": 0,
        "megapixels": 0.524288,
        "steps": 60,
    }
    assert body["cost"] == {"amount": 0.02, "currency": "USD", "estimated": False}


def test_a_queued_job_shows_its_reserved_cost_as_an_estimate(owner, client, priced, monkeypatch):
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda **kwargs: None)  # no worker
    body = post_json(client, "/v1/jobs", {"prompt": "later", "n": 3}, headers=bearer(owner)).json()
    assert body["status"] == "queued"
    assert body["usage"]["units"] == 0
    assert body["cost"] == {"amount": 0.03, "currency": "USD", "estimated": True}


def test_the_job_list_reads_usage_for_the_whole_page_at_once(owner, client, settings):
    auth = bearer(owner)
    make_job(owner)
    client.get("/v1/jobs", **auth)  # the key's first use writes last_used_at
    with CaptureQueriesContext(connection) as few:
        client.get("/v1/jobs", **auth)
    for _ in range(5):
        make_job(owner)
    with CaptureQueriesContext(connection) as many:
        body = client.get("/v1/jobs", **auth).json()
    assert all(job["cost"] is not None for job in body["data"])
    assert len(many) == len(few)


def test_retry_through_a_key_counts_against_that_key(owner, client):
    key, secret = api_key_create(user=owner, name="ci")
    budget(api_key=key, images_per_day=1)
    job = make_job(owner, run=False)
    lifecycle.job_cancel(job=job)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {secret}"}
    assert client.post(f"/v1/jobs/{job.public_id}/retry", **auth).status_code == 202
    assert Reservation.objects.filter(api_key=key).count() == 1
    other = make_job(owner, run=False)
    lifecycle.job_cancel(job=other)
    refused = client.post(f"/v1/jobs/{other.public_id}/retry", **auth)
    assert_envelope(refused, 429, code="quota_exceeded")
