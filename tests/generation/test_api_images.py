"""POST /v1/images/generations: the hosted body and OpenAI's spellings, waiting for the job."""

import base64
import io

import httpx
import openai
import pytest
from PIL import Image as PILImage

from accounts.keys import api_key_create, api_key_revoke
from generation import runner
from generation.backends import BackendError
from generation.models import Job
from tests.apiclient import assert_envelope, bearer, post_json


def _decode(b64: str) -> PILImage.Image:
    return PILImage.open(io.BytesIO(base64.b64decode(b64)))


# --- The official OpenAI SDK against the live server ----------------------------------------


@pytest.fixture
def sdk(live_server, owner):
    _, secret = api_key_create(user=owner, name="sdk")
    with openai.OpenAI(api_key=secret, base_url=f"{live_server.url}/v1", max_retries=0) as client:
        yield client


@pytest.mark.django_db(transaction=True)
def test_openai_sdk_b64_json_two_images_of_a_custom_size(sdk):
    result = sdk.images.generate(
        model="qwen-image", prompt="two foxes", n=2, size="640x384", response_format="b64_json"
    )
    assert len(result.data) == 2
    for item in result.data:
        image = _decode(item.b64_json)
        assert image.format == "PNG" and image.size == (640, 384)
        assert item.revised_prompt == "two foxes"
    assert result.created > 0
    assert Job.objects.get().source == Job.Source.API


@pytest.mark.django_db(transaction=True)
def test_openai_sdk_urls_download_without_a_session(sdk, live_server):
    result = sdk.images.generate(prompt="a lighthouse", size="512x512", response_format="url")
    (item,) = result.data
    assert item.url.startswith(f"{live_server.url}/v1/files/")
    download = httpx.get(item.url)  # no key, no cookie
    assert download.status_code == 200
    assert PILImage.open(io.BytesIO(download.content)).size == (512, 512)


@pytest.mark.django_db(transaction=True)
def test_openai_sdk_with_an_invalid_key_raises_authentication_error(live_server, owner):
    key, secret = api_key_create(user=owner)
    api_key_revoke(key=key)
    for api_key in ("qis_unknown", secret):
        client = openai.OpenAI(api_key=api_key, base_url=f"{live_server.url}/v1", max_retries=0)
        with pytest.raises(openai.AuthenticationError) as raised:
            client.images.generate(prompt="x")
        assert raised.value.code == "invalid_api_key"
    assert not Job.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_openai_sdk_with_an_invalid_size_names_the_param(sdk):
    with pytest.raises((openai.BadRequestError, openai.UnprocessableEntityError)) as raised:
        sdk.images.generate(prompt="x", size="100x100")
    assert raised.value.param == "size"
    assert raised.value.status_code == 400
    assert "between 256" in raised.value.message


@pytest.mark.django_db(transaction=True)
def test_openai_sdk_extras_are_honoured_or_accepted(sdk):
    result = sdk.images.generate(
        prompt="x",
        size="auto",
        quality="hd",
        style="vivid",
        user="robot-7",
        output_format="png",
        response_format="b64_json",
    )
    # auto: the native size closest to the default preset's 4:3; hd: Qwen's 50 steps.
    assert _decode(result.data[0].b64_json).size == (1472, 1104)
    job = Job.objects.get()
    assert (job.num_inference_steps, job.acceleration, job.end_user) == (50, "none", "robot-7")
    assert job.size_auto and job.size_preset == "native_4_3"


# --- The hosted endpoint's own body ---------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_hosted_body_with_size_object_and_output_format(owner, client):
    response = post_json(
        client,
        "/v1/images/generations",
        {
            "model": "qwen-image",
            "prompt": "a kite",
            "size": {"width": 768, "height": 512},
            "num_inference_steps": 8,
            "guidance_scale": 4.0,
            "seed": 1234,
            "negative_prompt": "blurry",
            "acceleration": "regular",
            "enable_safety_checker": False,
            "n": 1,
            "output_format": "b64_json",
        },
        headers=bearer(owner),
    )
    assert response.status_code == 200, response.content
    body = response.json()
    assert set(body["data"][0]) == {"b64_json", "revised_prompt"}
    assert _decode(body["data"][0]["b64_json"]).size == (768, 512)
    job = Job.objects.get(public_id=body["job_id"])
    assert (job.seed, job.num_inference_steps, job.acceleration) == (1234, 8, "regular")
    assert job.negative_prompt == "blurry" and job.enable_safety_checker is False


@pytest.mark.django_db(transaction=True)
def test_preset_name_and_idempotent_repeat(owner, client):
    headers = {**bearer(owner), "HTTP_IDEMPOTENCY_KEY": "same-call"}
    body = {"prompt": "a kite", "size": "square"}
    first = post_json(client, "/v1/images/generations", body, headers=headers)
    again = post_json(client, "/v1/images/generations", body, headers=headers)
    assert first.status_code == again.status_code == 200
    assert first.json()["job_id"] == again.json()["job_id"]
    assert Job.objects.count() == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(("code", "status"), [("upstream_error", 502), ("content_policy", 400)])
def test_a_failed_job_answers_an_error_with_the_job_id(owner, client, monkeypatch, code, status):
    class Down:
        name = "down"

        def generate(self, request, *, on_progress, should_cancel):
            raise BackendError("It did not work.", code=code, retryable=False)

    monkeypatch.setattr(runner, "get_backend", lambda name=None: Down())
    response = post_json(client, "/v1/images/generations", {"prompt": "x"}, headers=bearer(owner))
    error = assert_envelope(response, status, code=code)
    assert error["job_id"] == str(Job.objects.get().public_id)
    assert response["x-should-retry"] == "false"


@pytest.mark.django_db
def test_a_wait_that_runs_out_answers_504_with_the_job_id_to_poll(owner, client, settings):
    settings.API_SYNC_WAIT_SECONDS = 0.2
    settings.API_SYNC_POLL_SECONDS = 0.05
    # Inside the test transaction the job is never enqueued: it stays queued.
    response = post_json(client, "/v1/images/generations", {"prompt": "x"}, headers=bearer(owner))
    error = assert_envelope(response, 504, code="generation_timeout")
    job = Job.objects.get()
    assert error["job_id"] == str(job.public_id)
    assert response["Location"].endswith(f"/v1/jobs/{job.public_id}")
    assert response["x-should-retry"] == "false"  # an SDK must not resubmit
    polled = client.get(f"/v1/jobs/{job.public_id}", **bearer(owner))
    assert polled.json()["status"] == "queued"
