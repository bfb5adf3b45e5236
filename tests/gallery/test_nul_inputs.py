"""NUL characters in input: a clear answer, never a database error (PostgreSQL text refuses
NUL, SQLite does not, so these matter most in the PostgreSQL run of the suite)."""

import json

import pytest

from tests.apiclient import bearer
from tests.factories import make_image_row, make_job_row

pytestmark = pytest.mark.django_db


def test_collection_name_with_nul_is_refused(owner, client):
    response = client.post(
        "/v1/collections",
        data=json.dumps({"name": "a\x00b"}),
        content_type="application/json",
        **bearer(owner),
    )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "name"


def test_gallery_filters_ignore_nul(owner, client, owner_client):
    make_job_row(owner)
    response = client.get("/v1/images", {"model": "qwen-image\x00"}, **bearer(owner))
    assert response.status_code == 200 and len(response.json()["data"]) == 1
    assert owner_client.get("/gallery/", {"backend": "demo\x00"}).status_code == 200


def test_report_note_with_nul_is_kept_without_it(owner, outsider, client):
    from generation.models import Report

    image = make_image_row(owner, visibility="public")
    response = client.post(
        f"/v1/images/{image.public_id}/report",
        data=json.dumps({"reason": "other", "note": "see\x00 this"}),
        content_type="application/json",
        **bearer(outsider),
    )
    assert response.status_code < 300, response.content
    assert Report.objects.get(image=image).note == "see this"
