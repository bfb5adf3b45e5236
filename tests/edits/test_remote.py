"""Edits on the remote backend against the fake endpoint: the hosted qwen-image-edit-plus body
by default, the single-image and OpenAI multipart shapes by configuration, sources as data URIs
or as our signed URLs (which the fake fetches from a live portal)."""

import base64
import io

import pytest
from PIL import Image as PILImage

from generation.models import Job
from tests.edits.helpers import box_mask, make_edit, photo, pixels
from tests.fakes.endpoint import EDITS_PATH, GENERATIONS_PATH, FakeImageEndpoint

KEY = "sk-remote-edit-test-key"


@pytest.fixture
def fake(settings):
    with FakeImageEndpoint(max_lifetime=60, api_key=KEY) as endpoint:
        settings.QWEN_IMAGE_BACKEND = "remote"
        settings.QWEN_IMAGE_API_BASE = endpoint.url
        settings.QWEN_IMAGE_API_KEY = KEY
        settings.QWEN_IMAGE_OUTPUT_FORMAT = "b64_json"
        settings.QWEN_IMAGE_CALL_BUDGET = 20.0
        settings.GENERATION_MIN_SIDE = 16
        yield endpoint


def _sources(body: dict) -> list[bytes]:
    return [base64.b64decode(url.split(",", 1)[1]) for url in body["image_urls"]]


@pytest.mark.django_db
def test_the_hosted_plus_shape_with_data_uris_one_call_per_image(fake, owner):
    job = make_edit(
        owner, images=[photo(64, 48, seed=1), photo(32, 32, seed=2)], n=2, seed=70, size="64x48"
    )
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert [r.path for r in fake.requests] == [GENERATIONS_PATH] * 2
    assert all(r.valid for r in fake.requests), [r.errors for r in fake.requests]
    body = fake.requests[0].body
    assert body["model"] == "qwen-image-edit-plus" and body["num_images"] == 1
    assert body["image_size"] == {"width": 64, "height": 48}
    assert sorted(r.body["seed"] for r in fake.requests) == [70, 71]
    stored = [row.sha256 for row in job.edit_inputs.order_by("position")]
    import hashlib

    assert [hashlib.sha256(data).hexdigest() for data in _sources(body)] == stored
    assert [i.width for i in job.images.all()] == [64, 64]


@pytest.mark.django_db
def test_a_mask_is_kept_by_the_portal_when_the_provider_takes_none(fake, owner):
    source = photo(64, 64)
    job = make_edit(owner, images=[source], mask=box_mask(64, 64, box=(16, 16, 47, 47)))
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert "mask" not in fake.requests[0].body
    after = pixels(job.images.get())
    before = PILImage.open(io.BytesIO(source)).convert("RGB")
    assert all(after.getpixel((x, 2)) == before.getpixel((x, 2)) for x in range(64))
    assert after.getpixel((32, 32)) != before.getpixel((32, 32))


@pytest.mark.django_db
def test_the_single_image_shape_refuses_references_clearly(fake, owner, settings):
    settings.QWEN_IMAGE_EDIT_BODY = "single"
    one = make_edit(owner, images=[photo(64, 48)])
    assert one.status == Job.Status.SUCCEEDED and fake.requests[-1].valid
    assert fake.requests[-1].body["image_url"].startswith("data:image/png;base64,")
    two = make_edit(owner, images=[photo(64, 48), photo(32, 32)])
    assert two.status == Job.Status.FAILED and two.error_code == "bad_request"
    assert "one source image" in two.error_message


@pytest.mark.django_db
def test_the_openai_multipart_shape_on_a_configured_path(fake, owner, settings):
    settings.QWEN_IMAGE_EDIT_BODY = "openai"
    settings.QWEN_IMAGE_EDIT_PATH = EDITS_PATH
    job = make_edit(owner, images=[photo(64, 48)], mask=box_mask(64, 48, box=(0, 0, 20, 20)))
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    (request,) = fake.requests
    assert request.path == EDITS_PATH and request.valid, request.errors
    assert request.body["image_count"] == 1 and request.body["mask"].endswith("bytes>")
    assert request.body["size"] == "64x48" and request.body["response_format"] == "b64_json"


@pytest.mark.django_db
def test_a_bad_shape_setting_fails_the_job_with_a_clear_message(fake, owner, settings):
    settings.QWEN_IMAGE_EDIT_BODY = "dalle"
    job = make_edit(owner, images=[photo(64, 48)])
    assert job.status == Job.Status.FAILED and job.error_code == "not_configured"
    assert "QWEN_IMAGE_EDIT_BODY" in job.error_message and not fake.requests


@pytest.mark.django_db
def test_provider_faults_are_retried_like_generations(fake, owner):
    fake.push("server_error", status=503)
    job = make_edit(owner, images=[photo(64, 48)])
    assert job.status == Job.Status.QUEUED and job.error_code == "upstream_error"


@pytest.mark.django_db(transaction=True)
def test_signed_urls_are_fetched_by_the_provider_from_the_portal(
    fake, owner, settings, live_server
):
    settings.QWEN_IMAGE_EDIT_SOURCES = "signed_url"
    settings.SITE_URL = live_server.url
    job = make_edit(owner, images=[photo(64, 48, seed=3)])
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    url = fake.requests[0].body["image_urls"][0]
    assert url.startswith(f"{live_server.url}/v1/edit-inputs/")
    # The job is over: the link no longer works.
    import httpx

    assert httpx.get(url).status_code == 404
