"""The OpenAPI document states every limit the server enforces, and the server refuses what
the document calls invalid (issue 16, item 12). The full check is `st run`
(tests/reliability/test_schemathesis_run.py); these are its findings, pinned."""

import re

import pytest

from tests.apiclient import assert_envelope, bearer, post_json
from tests.factories import make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def schema(client):
    return client.get("/v1/openapi.json").json()


def _body(schema, name):
    return schema["components"]["schemas"][name]["properties"]


def test_the_prompt_limits_are_in_the_document_and_enforced(schema, client, owner, settings):
    prompt = _body(schema, "JobIn")["prompt"]
    assert prompt["minLength"] == 1
    assert prompt["maxLength"] == settings.GENERATION_MAX_PROMPT_LENGTH
    assert not re.search(prompt["pattern"], "   \t")  # blank is invalid, and refused:
    for bad in ("", "  \t ", "x\x00y", "x" * (settings.GENERATION_MAX_PROMPT_LENGTH + 1)):
        response = post_json(client, "/v1/jobs", {"prompt": bad}, headers=bearer(owner))
        assert_envelope(response, 400, param="prompt")


def test_sizes_steps_and_n_follow_the_settings(schema, client, owner, settings):
    settings.GENERATION_MAX_SIDE = 1024
    settings.GENERATION_MAX_IMAGES_PER_JOB = 3
    schema = client.get("/v1/openapi.json").json()
    job = _body(schema, "JobIn")
    assert job["n"]["anyOf"][0]["maximum"] == 3
    size = job["size"]["anyOf"][0]["anyOf"]
    assert "native_1_1" not in size[0]["enum"] and "square_hd" in size[0]["enum"]
    assert re.fullmatch(size[1]["pattern"], "1024x768")
    assert not re.fullmatch(size[1]["pattern"], "1040x768")
    assert size[2]["properties"]["width"]["multipleOf"] == 16
    # The server agrees: a preset past the limit is refused like any size.
    response = post_json(
        client, "/v1/jobs", {"prompt": "x", "size": "native_1_1"}, headers=bearer(owner)
    )
    assert_envelope(response, 400, param="size")


@pytest.mark.parametrize(
    "field,value",
    [("n", "2"), ("n", True), ("seed", 1.5), ("enable_safety_checker", 1), ("prompt", 5)],
)
def test_wrong_json_types_are_refused(client, owner, field, value):
    response = post_json(client, "/v1/jobs", {"prompt": "x", field: value}, headers=bearer(owner))
    assert_envelope(response, 400)


def test_integral_numbers_are_integers(client, owner):
    response = post_json(client, "/v1/jobs", {"prompt": "x", "n": 1.0}, headers=bearer(owner))
    assert response.status_code == 202


@pytest.mark.parametrize(
    "path,query",
    [
        ("/v1/jobs", {"created_before": "0.5"}),
        ("/v1/jobs", {"created_after": "1700000000"}),
        ("/v1/jobs", {"created_after": "2025-01-01T00:00:00"}),  # no offset
        ("/v1/jobs", {"cursor": "anything"}),
        ("/v1/images", {"to": "0"}),
        ("/v1/images", {"from": "20250101"}),
        ("/v1/images", {"cursor": "eyJ4IjoxfQ"}),
        ("/v1/images", {"flagged": "yes"}),
        ("/v1/images", {"collection": "00000000000000000000000000000000"}),
    ],
)
def test_query_values_the_document_calls_invalid_are_refused(client, owner, path, query):
    assert_envelope(client.get(path, query, **bearer(owner)), 400)


def test_any_cursor_of_the_documented_shape_is_a_valid_position(client, owner, schema):
    pattern = next(
        p["schema"]["anyOf"][0]["pattern"]
        for p in schema["paths"]["/v1/jobs"]["get"]["parameters"]
        if p["name"] == "cursor"
    )
    for cursor in ("0_0", "99999999999999999_999999999999999999"):
        assert re.fullmatch(pattern, cursor)
        assert client.get("/v1/jobs", {"cursor": cursor}, **bearer(owner)).status_code == 200
        assert client.get("/v1/images", {"cursor": cursor}, **bearer(owner)).status_code == 200


def test_old_dates_at_the_edge_of_the_calendar_are_answered(client, owner):
    for query in (
        {"created_after": "0001-01-01T00:00:00+01:00"},
        {"created_before": "9999-12-31T23:59:59-23:59"},
    ):
        assert client.get("/v1/jobs", query, **bearer(owner)).status_code == 200
    assert client.get("/v1/images", {"to": "9999-12-31"}, **bearer(owner)).status_code == 200


def test_links_lead_from_jobs_and_images_to_the_operations_on_them(schema):
    paths = schema["paths"]
    created = paths["/v1/jobs"]["post"]["responses"]["202"]["links"]
    assert created["GetJob"]["parameters"] == {"job_id": "$response.body#/id"}
    assert {"GetJob", "CancelJob", "RetryJob"} <= set(created)
    job = paths["/v1/jobs/{job_id}"]["get"]["responses"]["200"]["links"]
    assert job["GetImage"]["parameters"] == {"image_id": "$response.body#/images/0/id"}
    listed = paths["/v1/images"]["get"]["responses"]["200"]["links"]
    assert {"GetImage", "DeleteImage", "ShareImage", "ReseedImage"} <= set(listed)
    share = paths["/v1/images/{image_id}/share"]["post"]["responses"]["201"]["links"]
    assert share["RevokeShare"]["parameters"] == {"share_id": "$response.body#/id"}
    operation_ids = {
        op["operationId"] for item in paths.values() for op in item.values() if "operationId" in op
    }
    for links in (created, job, listed, share):
        assert {link["operationId"] for link in links.values()} <= operation_ids


def test_webhook_url_is_null_only_while_webhooks_are_off(client, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    off = _body(client.get("/v1/openapi.json").json(), "JobIn")["webhook_url"]
    assert off["type"] == "null"
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example", "*.corp.example"]
    on = _body(client.get("/v1/openapi.json").json(), "JobIn")["webhook_url"]["anyOf"][0]
    assert re.fullmatch(on["pattern"], "https://hooks.example/jobs?x=1")
    assert re.fullmatch(on["pattern"], "https://a.b.corp.example:8443/")
    for bad in ("https://evil.example/", "https://hooks.example/a b", "ftp://hooks.example/"):
        assert not re.fullmatch(on["pattern"], bad)


def test_an_object_or_nothing_is_the_optional_body(client, owner):
    image = make_job(owner).images.get()
    url = f"/v1/images/{image.public_id}/favorite"
    for body in ("[null]", "5", '"x"'):
        response = client.post(url, body, content_type="application/json", **bearer(owner))
        assert_envelope(response, 400)
    assert post_json(client, url, {"favorite": False}, headers=bearer(owner)).json() == {
        "id": str(image.public_id),
        "favorite": False,
    }


# --- Presets and prompt previews (issue 19's operations, now in the in-suite `st run`) -----


def test_preset_rules_are_in_the_document_and_enforced(schema, client, owner):
    preset = _body(schema, "PresetIn")
    template = preset["prompt_template"]["anyOf"][0]
    assert re.search(template["pattern"], "a photo of {prompt}, 35mm")
    assert re.search(template["pattern"], "")  # empty: the default {prompt}
    assert not re.search(template["pattern"], "a photo without a placeholder")
    assert not re.search(preset["name"]["pattern"], "   ")
    sizes = preset["size"]["anyOf"][0]["anyOf"]
    assert any(option.get("enum") == [""] for option in sizes)  # empty: unset, accepted
    refused = [
        ({"name": "p", "prompt_template": "no placeholder"}, "prompt_template"),
        ({"name": "   "}, "name"),
        ({"name": "p", "team": 0}, "team"),
        ({"name": "p", "enhance": "yes"}, "enhance"),
        ({"name": "p", "num_inference_steps": "8"}, "num_inference_steps"),
    ]
    for body, param in refused:
        response = post_json(client, "/v1/presets", body, headers=bearer(owner))
        assert_envelope(response, 400)
        assert param in response.content.decode(), (body, response.content)
    response = post_json(
        client,
        "/v1/presets",
        {"name": "p", "size": "", "prompt_template": ""},
        headers=bearer(owner),
    )
    assert response.status_code == 201, response.content


def test_a_preset_update_without_a_body_changes_nothing(client, owner):
    created = post_json(
        client, "/v1/presets", {"name": "p", "num_inference_steps": 8}, headers=bearer(owner)
    ).json()
    for body in (b"", b"null"):
        response = client.put(
            f"/v1/presets/{created['id']}",
            body,
            content_type="application/json",
            **bearer(owner),
        )
        assert response.status_code == 200, response.content
        assert response.json()["version"] == 1
        assert response.json()["values"]["num_inference_steps"] == 8
    response = client.put(
        f"/v1/presets/{created['id']}", b"7", content_type="application/json", **bearer(owner)
    )
    assert_envelope(response, 400)


def test_a_blank_prompt_preview_is_refused_as_the_document_says(schema, client, owner):
    prompt = _body(schema, "EnhanceIn")["prompt"]
    assert prompt["minLength"] == 1 and not re.search(prompt["pattern"], " \t")
    response = post_json(client, "/v1/prompts/enhance", {"prompt": "  "}, headers=bearer(owner))
    assert_envelope(response, 400, param="prompt")


def test_preset_responses_link_to_the_operations_on_the_preset(schema):
    links = schema["paths"]["/v1/presets"]["post"]["responses"]["201"]["links"]
    assert {"GetPreset", "UpdatePreset", "ApprovePreset", "DeletePreset"} <= set(links)
    assert links["ApprovePreset"]["parameters"] == {"preset_id": "$response.body#/id"}
