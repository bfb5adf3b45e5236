import pytest

from tests.apiclient import bearer
from tests.factories import make_job_row

pytestmark = pytest.mark.django_db


def test_me_shows_user_team_quota_and_usage(owner, client, settings):
    settings.QUOTA_IMAGES_PER_DAY = 10
    make_job_row(owner, n=3)
    body = client.get("/v1/me", **bearer(owner)).json()
    assert body["user"]["username"] == "owner"
    assert body["team"]["name"] == "Studio" and body["team"]["role"] == "owner"
    assert body["quota"] == {
        "images_per_day": 10,
        "images_today": 3,
        "images_left": 7,
        "concurrent_jobs": settings.QUOTA_CONCURRENT_JOBS,
        "active_jobs": 0,
    }
    assert body["api_key"]["name"] == "tests"


def test_me_is_about_the_caller_only(owner, outsider, client):
    make_job_row(owner, n=2)
    body = client.get("/v1/me", **bearer(outsider)).json()
    assert body["user"]["username"] == "outsider"
    assert body["team"]["name"] == "Elsewhere"
    assert body["quota"]["images_today"] == 0


def test_me_works_with_a_browser_session(owner_client):
    body = owner_client.get("/v1/me").json()
    assert body["user"]["username"] == "owner" and body["api_key"] is None
