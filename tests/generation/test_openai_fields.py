"""OpenAI's other image fields, handled explicitly: quality, size "auto", output_format and
output_compression for delivered files (originals stay PNG), background, moderation, style and
user; unknown values are a 400 naming the field."""

import base64
import io

import httpx
import pytest
from PIL import Image as PILImage

from generation.models import Job
from tests.apiclient import assert_envelope, bearer, post_json

pytestmark = pytest.mark.django_db(transaction=True)


def _generate(client, who, /, **body):
    return post_json(
        client, "/v1/images/generations", {"prompt": "a kite", **body}, headers=bearer(who)
    )


@pytest.mark.parametrize(
    ("fmt", "pil_format"), [("jpeg", "JPEG"), ("webp", "WEBP"), ("png", "PNG")]
)
def test_output_format_is_the_delivered_files_format_and_the_original_stays_png(
    owner, client, fmt, pil_format
):
    response = _generate(
        client, owner, size="512x512", output_format=fmt, response_format="b64_json"
    )
    assert response.status_code == 200, response.content
    delivered = PILImage.open(io.BytesIO(base64.b64decode(response.json()["data"][0]["b64_json"])))
    assert delivered.format == pil_format and delivered.size == (512, 512)
    image = Job.objects.get().images.get()
    with image.file.open("rb") as handle:
        assert PILImage.open(handle).format == "PNG"


def test_output_compression_makes_smaller_jpegs(owner, client):
    sizes = []
    for compression in (95, 20):
        response = _generate(
            client,
            owner,
            size="512x512",
            seed=3,
            output_format="jpeg",
            output_compression=compression,
            response_format="b64_json",
        )
        sizes.append(len(base64.b64decode(response.json()["data"][0]["b64_json"])))
    assert sizes[1] < sizes[0]


def test_url_deliveries_carry_the_asked_format_too(owner, client, owner_client, live_server):
    response = post_json(
        client,
        "/v1/images/generations",
        {"prompt": "a kite", "size": "512x512", "output_format": "webp"},
        headers=bearer(owner),
    )
    url = response.json()["data"][0]["url"]
    download = httpx.get(url.replace("http://testserver", live_server.url))
    assert download.status_code == 200 and download.headers["content-type"] == "image/webp"
    page = owner_client.get(f"/images/{Job.objects.get().images.get().public_id}/file/")
    assert page["Content-Type"] == "image/png"  # signed-in pages serve the PNG original


def test_the_hosted_spelling_of_output_format_still_picks_b64_json(owner, client):
    response = _generate(client, owner, size="512x512", output_format="b64_json")
    item = response.json()["data"][0]
    assert (
        "b64_json" in item
        and PILImage.open(io.BytesIO(base64.b64decode(item["b64_json"]))).format == "PNG"
    )


def test_user_is_kept_on_the_job_and_moderation_and_style_are_accepted(owner, client):
    response = _generate(
        client,
        owner,
        size="512x512",
        user="end-user-42",
        moderation="low",
        style="natural",
        background="opaque",
    )
    assert response.status_code == 200, response.content
    assert Job.objects.get().end_user == "end-user-42"


def test_a_transparent_background_is_refused_naming_the_field(owner, client):
    assert_envelope(_generate(client, owner, background="transparent"), 400, param="background")
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("quality", "ultra"),
        ("output_format", "gif"),
        ("output_compression", 101),
        ("background", "sparkly"),
        ("moderation", "none"),
        ("style", "grunge"),
        ("size", "auto-ish"),
        ("user", "x" * 300),
    ],
)
def test_unknown_values_are_a_400_naming_the_field(owner, client, field, value):
    error = assert_envelope(_generate(client, owner, **{field: value}), 400)
    assert error["param"] == field, error
    assert not Job.objects.exists()


@pytest.mark.parametrize(
    ("quality", "steps", "acceleration"),
    [
        ("low", 20, "high"),
        ("medium", 30, "regular"),
        ("standard", 30, "none"),
        ("high", 50, "none"),
        ("hd", 50, "none"),
        ("auto", 30, "none"),
    ],
)
def test_quality_in_the_api_maps_by_the_table(owner, client, quality, steps, acceleration):
    response = post_json(
        client,
        "/v1/jobs",
        {"prompt": "x", "quality": quality, "size": "512x512"},
        headers=bearer(owner),
    )
    assert response.status_code == 202, response.content
    params = response.json()["params"]
    assert (params["num_inference_steps"], params["acceleration"]) == (steps, acceleration)


def test_size_auto_in_the_api_follows_the_prompts_aspect(owner, client):
    response = post_json(
        client,
        "/v1/jobs",
        {"prompt": "a tall portrait of a heron", "size": "auto"},
        headers=bearer(owner),
    )
    params = response.json()["params"]
    assert params["size"] == {"width": 1104, "height": 1472} and params["size_auto"] is True
