import pytest
from django.urls import reverse

from generation.models import Job
from tests.factories import make_image_row, make_job

pytestmark = pytest.mark.django_db


def test_anonymous_is_sent_to_login(anonymous_client):
    response = anonymous_client.get(reverse("generate"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_generate_page_shows_form_quota_and_demo_banner(owner_client):
    response = owner_client.get(reverse("generate"))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Demo mode" in body
    assert "Landscape 4:3</span>" in body and "1024×768" in body
    assert "of 200 images" in body


def test_submitting_the_form_runs_a_job_and_shows_it(
    owner, owner_client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            reverse("generate"),
            {
                "prompt": "a tiny robot",
                "size": "square",
                "num_inference_steps": 30,
                "guidance_scale": 2.5,
                "acceleration": "none",
                "enable_safety_checker": "on",
                "n": 2,
            },
        )
    job = Job.objects.get(user=owner)
    assert response.status_code == 302
    assert response["Location"] == reverse("generate")  # back to Create, the job on top
    status = owner_client.get(reverse("job-status", args=[job.public_id])).json()
    assert status["status"] == "succeeded"
    assert [image["seed"] for image in status["images"]] == [job.seed, job.seed + 1]
    file = owner_client.get(status["images"][0]["url"])
    assert file.status_code == 200 and file["Content-Type"] == "image/png"
    thumb = owner_client.get(status["images"][0]["thumbnail_url"])
    assert thumb["Content-Type"] == "image/webp"
    page = owner_client.get(response["Location"]).content.decode()
    assert f'id="job-{job.public_id}"' in page
    assert ">a tiny robot</textarea>" in page  # the prompt stays in the box


def test_custom_size_must_be_a_multiple_of_16(owner_client):
    response = owner_client.post(
        reverse("generate"),
        {
            "prompt": "x",
            "size": "custom",
            "width": 1000,
            "height": 512,
            "num_inference_steps": 30,
            "guidance_scale": 2.5,
            "acceleration": "none",
            "n": 1,
        },
    )
    assert response.status_code == 200
    assert "multiples of 16" in response.content.decode()
    assert not Job.objects.exists()


def test_empty_prompt_keeps_what_was_typed(owner_client):
    response = owner_client.post(
        reverse("generate"),
        {
            "prompt": "",
            "negative_prompt": "blurry",
            "size": "square",
            "num_inference_steps": 30,
            "guidance_scale": 2.5,
            "acceleration": "none",
            "n": 1,
        },
    )
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
    assert "blurry" in response.content.decode()


def test_outsider_gets_404_for_job_page_status_and_cancel(owner, outsider_client):
    job = make_job(owner, run=False)
    for name in ("job-detail", "job-status"):
        assert outsider_client.get(reverse(name, args=[job.public_id])).status_code == 404
    assert outsider_client.post(reverse("job-cancel", args=[job.public_id])).status_code == 404
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED


def test_outsider_and_anonymous_get_404_for_private_image_files(
    owner, outsider_client, anonymous_client, teammate_client
):
    image = make_image_row(owner)
    for client in (outsider_client, anonymous_client, teammate_client):
        for name in ("image-file", "image-thumbnail"):
            assert client.get(reverse(name, args=[image.public_id])).status_code == 404


def test_owner_cancels_a_queued_job(owner, owner_client):
    job = make_job(owner, run=False)
    response = owner_client.post(reverse("job-cancel", args=[job.public_id]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED


def test_healthz_reports_database_queue_and_storage(anonymous_client, db):
    body = anonymous_client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["database"] == body["queue"] == body["storage"] == "ok"


def test_an_image_whose_file_is_gone_is_a_404_not_a_500(owner, owner_client):
    from django.core.files.storage import default_storage

    image = make_image_row(owner)
    default_storage.delete(image.file.name)
    assert owner_client.get(reverse("image-file", args=[image.public_id])).status_code == 404
    thumb = owner_client.get(reverse("image-thumbnail", args=[image.public_id]))
    assert thumb.status_code == 200 and thumb["Content-Type"] == "image/webp"
