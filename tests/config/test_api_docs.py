"""/v1/docs works on a phone and every request body it offers for "Try it out" works as is."""

import pytest
from django.test import Client

from config.api import api
from generation.presets.services import preset_create
from tests.apiclient import bearer
from tests.factories import make_image

pytestmark = pytest.mark.django_db(transaction=True)  # the sync endpoint waits for its job


def _examples() -> list[tuple[str, str, dict]]:
    schema = api.get_openapi_schema()
    components = schema["components"]["schemas"]
    found = []
    for path, methods in schema["paths"].items():
        for method, operation in methods.items():
            body = operation.get("requestBody")
            if not body:
                continue
            if "application/json" not in body["content"]:
                # A multipart upload (POST /v1/images/edits): "Try it out" asks for the files;
                # tests/edits/test_api.py sends real ones.
                assert "multipart/form-data" in body["content"], (method, path)
                continue
            ref = body["content"]["application/json"]["schema"]
            if "$ref" not in ref:  # an optional body: anyOf [ref, null]
                ref = next(item for item in ref.get("anyOf", []) if "$ref" in item)
            component = components[ref["$ref"].rsplit("/", 1)[1]]
            assert "example" in component, f"{method.upper()} {path} has no example body"
            found.append((method, path, component["example"]))
    return found


def test_every_operation_with_a_body_has_an_example_that_works(owner, teammate, settings):
    settings.QUOTA_CONCURRENT_JOBS = 100
    headers = bearer(owner)
    mine = make_image(owner)
    theirs = make_image(teammate, visibility="public")  # one may report others' images only
    preset = preset_create(user=owner, name="Docs example", values={})
    client = Client()
    examples = _examples()
    assert len(examples) >= 8
    for method, path, body in examples:
        image = theirs if path.endswith("/report") else mine
        url = path.replace("{image_id}", str(image.public_id))
        url = url.replace("{preset_id}", str(preset.public_id))
        response = getattr(client, method)(
            url, data=body, content_type="application/json", **headers
        )
        assert response.status_code < 400, (method, path, response.content[:300])


def test_the_docs_page_has_a_viewport_and_a_way_back(anonymous_client):
    page = anonymous_client.get("/v1/docs").content.decode()
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert 'href="/"' in page and "swagger-ui" in page
