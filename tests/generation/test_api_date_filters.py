"""Date filters and cursors with odd UTC offsets: answers, never a database error (PostgreSQL).

Dates are RFC 3339 `date-time` with an offset, as the OpenAPI document says (issue 16, item
12): any offset up to ±23:59 is taken (compared in UTC), a date without one is a 400, and a
valid date that falls outside what Python holds in UTC is clamped (it is before or after
every row), not refused.
"""

import pytest
from django.utils import timezone

from tests.apiclient import assert_envelope, bearer
from tests.factories import make_job, make_job_row

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
    assert_envelope(client.get("/v1/jobs", {"created_before": naive}, **auth), 400)


def test_job_list_date_out_of_range_in_utc_is_clamped(owner, client):
    make_job(owner)
    response = client.get(
        "/v1/jobs", {"created_before": "0001-01-01T00:00:00+05:00"}, **bearer(owner)
    )
    assert response.status_code == 200 and response.json()["data"] == []


def test_gallery_cursor_at_either_end_is_not_a_server_error(owner, client):
    make_job(owner)
    for cursor in ("0_5", "99999999999999999_5"):
        response = client.get("/v1/images", {"cursor": cursor}, **bearer(owner))
        assert response.status_code == 200, cursor
    assert client.get("/v1/images", {"cursor": "0_5"}, **bearer(owner)).json()["data"] == []
