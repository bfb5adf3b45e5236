"""POST /v1/images/edits (OpenAI multipart, the official SDK too) and the edit form of
POST /v1/jobs: spellings, limits and clear errors."""

import base64
import io

import openai
import pytest
from PIL import Image as PILImage

from accounts.keys import api_key_create
from generation.models import EditInput, Job
from tests.apiclient import assert_envelope, bearer, post_json
from tests.edits.helpers import box_mask, photo, pixels
from tests.factories import make_image

EDITS = "/v1/images/edits"


def _file(data: bytes, name: str = "source.png"):
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def _edit(client, user, **fields):
    fields.setdefault("prompt", "paint it gold")
    return client.post(EDITS, fields, **bearer(user))


def _decoded(item: dict) -> PILImage.Image:
    return PILImage.open(io.BytesIO(base64.b64decode(item["b64_json"])))


# --- The official OpenAI SDK against the live server ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_openai_sdk_images_edit_with_two_images_and_a_mask(live_server, owner):
    _, secret = api_key_create(user=owner, name="sdk")
    client = openai.OpenAI(api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0)
    result = client.images.edit(
        image=[
            ("boat.png", photo(256, 256, seed=1)),
            ("flag.jpg", photo(96, 96, seed=2, fmt="JPEG")),
        ],
        mask=("mask.png", box_mask(alpha=True)),
        prompt="put the flag on the boat",
        n=2,
        size="auto",
        response_format="b64_json",
    )
    assert len(result.data) == 2
    assert all(_decoded(item.model_dump()).size == (256, 256) for item in result.data)
    job = Job.objects.get()
    assert job.source == Job.Source.API and len(job.edit["images"]) == 2
    assert EditInput.objects.filter(job=job, role="mask").count() == 1
    urls = client.images.edit(image=("one.png", photo()), prompt="again", response_format="url")
    assert urls.data[0].url.startswith(f"{live_server.url}/v1/files/")


# --- Spellings --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("key", ["image", "image[]", "image[0]"])
def test_every_image_spelling_is_accepted(owner, client, key):
    response = _edit(client, owner, **{key: _file(photo())}, response_format="b64_json")
    assert response.status_code == 200, response.content
    assert _decoded(response.json()["data"][0]).size == (256, 256)


@pytest.mark.django_db(transaction=True)
def test_indexed_images_keep_their_order_and_ids_of_our_images_count_as_images(owner, client):
    mine = make_image(owner)
    response = _edit(
        client,
        owner,
        **{"image[1]": _file(photo(seed=5)), "image[0]": str(mine.public_id)},
        size="512x384",
    )
    assert response.status_code == 200, response.content
    edit = Job.objects.exclude(edit=None).get()
    first, second = edit.edit_inputs.order_by("position")
    assert first.source_image == mine and second.source_image is None
    assert edit.width == 512


@pytest.mark.django_db(transaction=True)
def test_wait_false_answers_202_with_the_job(owner, client):
    response = _edit(client, owner, image=_file(photo()), wait="false", visibility="team")
    assert response.status_code == 202
    body = response.json()
    assert body["params"]["edit"]["images"][0]["width"] == 256
    assert response["Location"].endswith(f"/v1/jobs/{body['id']}")
    assert Job.objects.get().visibility == "team"


@pytest.mark.django_db(transaction=True)
def test_an_idempotency_key_makes_the_multipart_post_safe_to_repeat(owner, client):
    headers = {**bearer(owner), "HTTP_IDEMPOTENCY_KEY": "edit-1"}
    data = photo()
    first = client.post(EDITS, {"prompt": "x", "image": _file(data)}, **headers)
    again = client.post(EDITS, {"prompt": "x", "image": _file(data)}, **headers)
    other = client.post(EDITS, {"prompt": "y", "image": _file(data)}, **headers)
    assert first.json()["job_id"] == again.json()["job_id"]
    assert_envelope(other, 409, code="idempotency_key_reused")
    assert Job.objects.count() == 1


# --- Refusals -----------------------------------------------------------------------------


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "param", "code"),
    [
        ({}, "image", "missing_image"),
        ({"image": "gif"}, "image[0]", "unsupported_image"),
        ({"image": "four"}, "image", "too_many_images"),
        ({"image": "png", "mask": "wrong-size"}, "mask", "mask_size_mismatch"),
        ({"image": "png", "size": "100x100"}, "size", "invalid_parameter"),
        ({"image": "png", "n": "lots"}, "n", None),
        ({"image": "png", "strength": "2"}, "strength", "invalid_parameter"),
        ({"image": "png", "response_format": "svg"}, "response_format", None),
        ({"image": "png", "stream": "true"}, "stream", None),
        ({"image": "png", "model": "gpt-image-1"}, "model", "model_not_found"),
    ],
)
def test_bad_requests_name_the_offending_field(owner, client, fields, param, code):
    gif = io.BytesIO()
    PILImage.new("RGB", (64, 64)).save(gif, "GIF")
    values = {
        "png": _file(photo()),
        "gif": _file(gif.getvalue(), "x.gif"),
        "four": [_file(photo(seed=i)) for i in range(4)],
        "wrong-size": _file(box_mask(300, 100, box=(0, 0, 10, 10))),
    }
    fields = {k: values.get(v, v) if isinstance(v, str) else v for k, v in fields.items()}
    assert_envelope(_edit(client, owner, **fields), 400, code=code, param=param)
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_an_image_id_you_cannot_see_is_not_found(owner, client):
    response = _edit(client, owner, image="00000000-0000-0000-0000-000000000000")
    assert_envelope(response, 404, code="image_not_found", param="image[0]")
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_a_missing_prompt_and_a_json_body_are_refused_clearly(owner, client):
    response = client.post(EDITS, {"image": _file(photo())}, **bearer(owner))
    assert_envelope(response, 400, param="prompt")
    response = post_json(client, EDITS, {"prompt": "x"}, headers=bearer(owner))
    assert_envelope(response, 415)


@pytest.mark.django_db
def test_files_and_requests_over_the_limits_are_refused(owner, client, settings):
    settings.EDIT_MAX_UPLOAD_BYTES = 2000
    assert_envelope(_edit(client, owner, image=_file(photo())), 400, code="image_too_large")
    settings.EDIT_MAX_REQUEST_BYTES = 1000
    assert_envelope(_edit(client, owner, image=_file(photo())), 413, code="request_too_large")


# --- The JSON job form ------------------------------------------------------------------------


def _data_uri(data: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(data).decode()


@pytest.mark.django_db(transaction=True)
def test_a_json_job_edits_ids_and_uploads_with_a_mask(owner, client):
    mine = make_image(owner, size="square")
    body = {
        "prompt": "make it gold",
        "seed": 4,
        "edit": {
            "images": [str(mine.public_id), base64.b64encode(photo(seed=7)).decode()],
            "mask": _data_uri(box_mask(512, 512)),
            "strength": 0.8,
        },
    }
    response = post_json(client, "/v1/jobs", body, headers=bearer(owner))
    assert response.status_code == 202, response.content
    job = Job.objects.exclude(edit=None).get()
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert response.json()["params"]["edit"]["strength"] == 0.8
    assert job.edit_inputs.get(role="image", position=0).source_image == mine
    assert "image" not in response.json()["params"]["edit"]["images"][0]  # ids stay private
    result = job.images.get()
    assert pixels(result).getpixel((3, 3)) == pixels(mine).getpixel((3, 3))


@pytest.mark.django_db
def test_a_json_job_with_bad_edit_inputs_names_them(owner, client):
    bad = {"prompt": "x", "edit": {"images": ["not base64!"]}}
    assert_envelope(
        post_json(client, "/v1/jobs", bad, headers=bearer(owner)), 400, param="edit.images.0"
    )  # the schema's pattern (ids, data URIs, base64) refuses it before any decoding
    undecodable = {"prompt": "x", "edit": {"images": ["bm90IGFuIGltYWdl"]}}
    assert_envelope(
        post_json(client, "/v1/jobs", undecodable, headers=bearer(owner)),
        400,
        param="edit.images[0]",
    )
    mask = {
        "prompt": "x",
        "edit": {"images": [_data_uri(photo())], "mask": _data_uri(photo(64, 32))},
    }
    assert_envelope(
        post_json(client, "/v1/jobs", mask, headers=bearer(owner)), 400, param="edit.mask"
    )
    strong = {"prompt": "x", "edit": {"images": [_data_uri(photo())], "strength": 3}}
    assert_envelope(
        post_json(client, "/v1/jobs", strong, headers=bearer(owner)), 400, param="edit.strength"
    )
    empty = {"prompt": "x", "edit": {"images": []}}
    assert_envelope(
        post_json(client, "/v1/jobs", empty, headers=bearer(owner)), 400, param="edit.images"
    )
    assert not Job.objects.exists()


@pytest.mark.django_db
def test_the_openapi_schema_documents_the_multipart_edit(client):
    schema = client.get("/v1/openapi.json").json()
    body = schema["paths"]["/v1/images/edits"]["post"]["requestBody"]["content"]
    properties = body["multipart/form-data"]["schema"]["properties"]
    assert {"image", "mask", "prompt", "n", "size", "response_format"} <= set(properties)
    assert "EditIn" in str(schema["components"]["schemas"]["JobIn"])


@pytest.mark.django_db(transaction=True)
def test_a_photo_larger_than_djangos_form_limit_goes_through(owner, client, settings):
    big = photo(1600, 1200, seed=8)  # noise: about 5.8 MB, above DATA_UPLOAD_MAX_MEMORY_SIZE
    assert len(big) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = _edit(client, owner, image=_file(big), wait="false")
    assert response.status_code == 202, response.content
    job = Job.objects.get()
    assert (job.width, job.height) == (1600, 1200)  # size auto: the photo's own size


@pytest.mark.django_db
def test_huge_text_fields_are_a_413_not_a_crash(owner, client):
    response = _edit(client, owner, image="x", mask="A" * (3 * 1024 * 1024))
    assert_envelope(response, 413, code="request_too_large")
