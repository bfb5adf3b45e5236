"""Jobs on QWEN_IMAGE_BACKEND=remote, end to end through runner.job_run and the fake endpoint."""

import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone

from generation import lifecycle, runner
from generation.imaging import read_parameters
from generation.models import Image, Job
from tests.factories import make_params
from tests.fakes.endpoint import FakeImageEndpoint

pytestmark = pytest.mark.django_db

KEY = "sk-remote-jobs-test-key"


@pytest.fixture
def fake(settings):
    with FakeImageEndpoint(max_lifetime=60, api_key=KEY) as endpoint:
        settings.QWEN_IMAGE_BACKEND = "remote"
        settings.QWEN_IMAGE_API_BASE = endpoint.url
        settings.QWEN_IMAGE_API_KEY = KEY
        settings.QWEN_IMAGE_OUTPUT_FORMAT = "url"
        settings.QWEN_IMAGE_CONNECT_TIMEOUT = 2.0
        settings.QWEN_IMAGE_READ_TIMEOUT = 2.0
        settings.QWEN_IMAGE_CALL_BUDGET = 5.0
        settings.GENERATION_MIN_SIDE = 16  # tiny images keep the tests fast
        yield endpoint


def queued_job(user, **params) -> Job:
    values = {"size": "64x48", "n": 1, "seed": 500}
    values.update(params)
    return lifecycle.job_create(user=user, params=make_params(**values))


def run(job: Job) -> Job:
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    return job


def test_form_to_worker_to_stored_images(
    fake, owner, owner_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("generate"),
            {
                "prompt": "a paper boat on a pond",
                "size": "custom",
                "width": 64,
                "height": 48,
                "num_inference_steps": 12,
                "guidance_scale": 4.0,
                "seed": 9000,
                "acceleration": "high",
                "enable_safety_checker": "on",
                "n": 2,
            },
        )
    job = Job.objects.get(user=owner)
    assert response.status_code == 302
    assert (job.status, job.backend, job.attempts) == ("succeeded", "remote", 1)
    # One call per image, each with n=1 and that image's seed, each valid against the spec.
    assert len(fake.requests) == 2 and all(r.valid for r in fake.requests)
    assert sorted(r.body["seed"] for r in fake.requests) == [9000, 9001]
    body = fake.requests[0].body
    assert body["size"] == {"width": 64, "height": 48}
    assert (body["num_inference_steps"], body["guidance_scale"]) == (12, 4.0)
    assert (body["acceleration"], body["enable_safety_checker"], body["n"]) == ("high", True, 1)
    images = list(job.images.order_by("index"))
    assert [image.seed for image in images] == [9000, 9001]
    for image in images:
        assert (image.width, image.height) == (64, 48)
        assert image.revised_prompt == "a paper boat on a pond"
        png = default_storage.open(image.file.name).read()
        assert read_parameters(png)["seed"] == image.seed
    status = owner_client.get(reverse("job-status", args=[job.public_id])).json()
    assert [image["seed"] for image in status["images"]] == [9000, 9001]


def test_rate_limited_then_succeeds_after_retry_after(fake, owner):
    fake.push("rate_limit", retry_after="7")
    job = run(queued_job(owner))
    assert (job.status, job.attempts, job.error_code) == ("queued", 1, "rate_limited")
    wait = (job.next_attempt_at - timezone.now()).total_seconds()
    assert 5.5 < wait <= 7.0  # Retry-After, not the (zero) test backoff
    job = run(job)
    assert (job.status, job.attempts, job.error_code) == ("succeeded", 2, "")
    assert len(fake.requests) == 2
    assert job.images.count() == 1


def test_server_errors_fail_the_job_at_the_attempt_cap(fake, owner, settings):
    settings.GENERATION_MAX_ATTEMPTS = 3
    fake.push("server_error", status=502, times=5)
    job = queued_job(owner)
    for _ in range(3):
        job = run(job)
    assert (job.status, job.attempts, job.error_code) == ("failed", 3, "upstream_error")
    assert "HTTP 502" in job.error_message and "gave up after 3 attempts" in job.error_message
    assert run(job).status == "failed"  # a late delivery does nothing
    assert len(fake.requests) == 3


def test_bad_request_fails_at_once_with_the_provider_message(fake, owner):
    fake.push("bad_request", message="prompt contains unsupported characters")
    job = run(queued_job(owner))
    assert (job.status, job.attempts, job.error_code) == ("failed", 1, "bad_request")
    assert "prompt contains unsupported characters" in job.error_message
    assert len(fake.requests) == 1


def test_a_wrong_key_fails_at_once(fake, owner, settings):
    settings.QWEN_IMAGE_API_KEY = "sk-wrong"
    job = run(queued_job(owner))
    assert (job.status, job.error_code) == ("failed", "upstream_auth")
    assert "sk-wrong" not in job.error_message


def test_a_timeout_is_retried(fake, owner, settings):
    settings.QWEN_IMAGE_READ_TIMEOUT = 0.2
    fake.push("slow", seconds=1.0)
    job = run(queued_job(owner))
    assert (job.status, job.error_code) == ("queued", "upstream_timeout")
    job = run(job)
    assert job.status == "succeeded"


def test_malformed_json_is_retried(fake, owner):
    fake.push("malformed_json")
    job = run(queued_job(owner))
    assert (job.status, job.error_code) == ("queued", "upstream_bad_json")
    assert run(job).status == "succeeded"


@pytest.mark.parametrize("fault", ["truncated_png", "decompression_bomb"])
def test_an_undecodable_image_is_refused(fake, owner, settings, fault):
    settings.GENERATION_MAX_ATTEMPTS = 1
    fake.push(fault)
    job = run(queued_job(owner))
    assert (job.status, job.error_code) == ("failed", "invalid_image")
    assert not Image.objects.filter(job=job).exists()


def test_a_refused_download_fails_at_once(fake, owner):
    fake.push("private_url", target="http://169.254.169.254/latest/meta-data/")
    job = run(queued_job(owner))
    assert (job.status, job.attempts, job.error_code) == ("failed", 1, "download_refused")


def test_provider_nsfw_flag_sends_the_image_to_moderation(fake, owner):
    fake.push("nsfw")
    job = run(queued_job(owner))
    image = job.images.get()
    assert image.provider_nsfw is True
    assert image.moderation_state == Image.Moderation.FLAGGED


def test_b64_answers_store_the_same_pixels_as_url_answers(fake, owner, settings):
    url_job = run(queued_job(owner, seed=77))
    settings.QWEN_IMAGE_OUTPUT_FORMAT = "b64_json"
    from generation.backends import reset_backends

    reset_backends()
    b64_job = run(queued_job(owner, seed=77))
    assert fake.requests[-1].body["output_format"] == "b64_json"
    assert url_job.images.get().pixel_sha256 == b64_job.images.get().pixel_sha256


def test_retry_timing_uses_the_backoff_when_there_is_no_retry_after(fake, owner, settings):
    settings.GENERATION_RETRY_BASE_DELAY = 3.0
    fake.push("server_error", status=500)
    job = run(queued_job(owner))
    assert job.next_attempt_at - timezone.now() > dt.timedelta(seconds=2)
