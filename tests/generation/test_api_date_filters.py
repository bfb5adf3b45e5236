"""Date filters and cursors with odd UTC offsets: answers, never a database error (PostgreSQL)."""

import base64

import pytest
from django.utils import timezone

from tests.apiclient import bearer
from tests.factories import make_job_row

pytestmark = pytest.mark.django_db


def test_job_list_date_filters_accept_any_utc_offset(owner, client):
    make_job_row(owner)
    auth = bearer(owner)
    # -16:52 is a valid ISO offset that PostgreSQL cannot take as is.
    response = client.get("/v1/jobs", {"created_before": "1947-07-31T16:47:29-16:52"}, **auth)
    assert response.status_code == 200 and response.json()["data"] == []
    response = client.get("/v1/jobs", {"created_after": "2000-01-01T00:00:00+23:30"}, **auth)
    assert response.status_code == 200 and len(response.json()["data"]) == 1
    naive = timezone.now().replace(tzinfo=None).isoformat()
    assert client.get("/v1/jobs", {"created_before": naive}, **auth).status_code == 200


def test_job_list_date_out_of_range_in_utc_is_a_client_error(owner, client):
    response = client.get(
        "/v1/jobs", {"created_before": "0001-01-01T00:00:00+05:00"}, **bearer(owner)
    )
    assert 400 <= response.status_code < 500


def test_gallery_cursor_with_an_odd_offset_is_not_a_server_error(owner, client):
    make_job_row(owner)
    cursor = base64.urlsafe_b64encode(b"1947-07-31T16:47:29-16:52|5").decode().rstrip("=")
    response = client.get("/v1/images", {"cursor": cursor}, **bearer(owner))
    assert response.status_code == 200 and response.json()["data"] == []
    cursor = base64.urlsafe_b64encode(b"0001-01-01T00:00:00+05:00|5").decode().rstrip("=")
    assert client.get("/v1/images", {"cursor": cursor}, **bearer(owner)).status_code == 400
