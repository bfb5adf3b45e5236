"""The edit page, the includes on the image, job and Create pages, and reseeding an edit from
its page."""

import io

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from generation.models import EditInput, Image, Job
from tests.edits.helpers import box_mask, make_edit, photo
from tests.factories import make_image

pytestmark = pytest.mark.django_db

FORM = {
    "prompt": "make it winter",
    "num_inference_steps": 30,
    "guidance_scale": 4,
    "acceleration": "none",
    "n": 1,
    "size": "auto",
    "strength": 1,
    "visibility": "private",
}


def _file(data: bytes, name: str = "up.png"):
    upload = io.BytesIO(data)
    upload.name = name
    return upload


def test_an_upload_with_a_ticked_reference_and_a_mask_file_becomes_an_edit_job(
    owner, owner_client, django_capture_on_commit_callbacks
):
    reference = make_image(owner)
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(
            "/edit/",
            {
                **FORM,
                "image_file": _file(photo(320, 240)),
                "references": [str(reference.public_id)],
                "mask_file": _file(box_mask(320, 240)),
            },
        )
    job = Job.objects.exclude(edit=None).get()
    assert response.status_code == 302 and response["Location"] == f"/jobs/{job.public_id}/"
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    roles = list(job.edit_inputs.order_by("role", "position").values_list("role", "source_image"))
    assert roles == [("image", None), ("image", reference.pk), ("mask", None)]
    page = owner_client.get(response["Location"]).content.decode()
    assert "Edited from" in page and f"/images/{reference.public_id}/" in page


def test_without_an_upload_the_first_ticked_image_is_the_one_edited(owner, owner_client):
    first, second = make_image(owner, seed=1), make_image(owner, seed=2)
    response = owner_client.post(
        "/edit/", {**FORM, "references": [str(first.public_id), str(second.public_id)]}
    )
    assert response.status_code == 302
    rows = Job.objects.exclude(edit=None).get().edit_inputs.order_by("position")
    assert [row.source_image for row in rows] == [first, second]


def test_refusals_are_listed_at_the_top_and_nothing_is_created(owner, owner_client):
    image = make_image(owner)
    response = owner_client.post(
        "/edit/", {**FORM, "image": str(image.public_id), "mask_file": _file(box_mask(300, 100))}
    )
    page = response.content.decode()
    assert response.status_code == 200 and 'role="alert"' in page
    assert "Mask: The mask is 300×100" in page
    nothing = owner_client.post("/edit/", {**FORM, "prompt": ""})
    assert "What should change?" in nothing.content.decode() and nothing.status_code == 200
    assert not Job.objects.exclude(edit=None).exists() and not EditInput.objects.exists()


def test_the_edit_page_lists_pickable_images_in_constant_queries(owner, owner_client):
    make_image(owner)
    with CaptureQueriesContext(connection) as few:
        assert owner_client.get("/edit/").status_code == 200
    for seed in range(5):
        make_image(owner, seed=100 + seed)
    with CaptureQueriesContext(connection) as many:
        page = owner_client.get("/edit/").content.decode()
    assert len(many) == len(few)
    assert page.count('name="references"') == 6


def test_held_images_are_not_offered_and_cannot_be_opened_for_editing(owner, owner_client):
    held = make_image(owner)
    Image.objects.filter(pk=held.pk).update(moderation_state=Image.Moderation.FLAGGED)
    assert owner_client.get(f"/edit/?image={held.public_id}").status_code == 404
    assert str(held.public_id) not in owner_client.get("/edit/").content.decode()
    assert "edit-button" not in owner_client.get(f"/images/{held.public_id}/").content.decode()


def test_the_image_page_offers_edit_to_signed_in_viewers_only(
    owner, outsider_client, anonymous_client
):
    public = make_image(owner, visibility="public")
    assert "Edit this image" in outsider_client.get(f"/images/{public.public_id}/").content.decode()
    assert (
        "edit-button" not in anonymous_client.get(f"/images/{public.public_id}/").content.decode()
    )


def test_the_create_page_links_the_editor(owner_client):
    assert 'href="/edit/"' in owner_client.get("/").content.decode()


def test_reseeding_someone_elses_edit_of_uploads_says_why_not(owner, teammate_client):
    result = make_edit(owner, visibility="team").images.get()
    response = teammate_client.post(f"/images/{result.public_id}/reseed/", follow=True)
    assert "made from images you cannot see" in response.content.decode()
    assert Job.objects.count() == 1


def test_the_edit_page_takes_uploads_past_djangos_form_limit_and_refuses_past_its_own(
    owner, owner_client, settings
):
    big = photo(1200, 1000)  # noise: a PNG larger than the form limit below
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = len(big) // 2
    response = owner_client.post("/edit/", {**FORM, "image_file": _file(big)})
    assert response.status_code == 302 and Job.objects.count() == 1
    settings.EDIT_MAX_REQUEST_BYTES = len(big) // 2
    response = owner_client.post("/edit/", {**FORM, "image_file": _file(big)})
    assert response.status_code == 413 and Job.objects.count() == 1
    assert "The upload is larger than" in response.content.decode()


def test_an_uploaded_source_leaves_through_the_byte_gate(owner, owner_client, staff_client):
    from generation.retention import jobs_trash

    job = make_edit(owner)
    upload = job.edit_inputs.get()
    assert owner_client.get(f"/edits/inputs/{upload.public_id}/").status_code == 200
    jobs_trash(user=owner, job_ids=[job.public_id])
    assert owner_client.get(f"/edits/inputs/{upload.public_id}/").status_code == 404
    assert staff_client.get(f"/edits/inputs/{upload.public_id}/").status_code == 200
