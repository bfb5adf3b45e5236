"""Who may edit what, and who may see an edit's sources: you may only edit images you may see,
an edit is yours, and the sources of private images never leak (owner, teammate, outsider,
anonymous, staff on every endpoint)."""

import base64

import pytest
from django.core import signing
from django.test import Client

from generation.edits.signed import _SALT, edit_input_signed_url
from generation.models import Image, Job
from tests.apiclient import assert_envelope, bearer, post_json
from tests.edits.helpers import box_mask, make_edit, photo
from tests.factories import make_image

pytestmark = pytest.mark.django_db

# (visibility of the owner's image, who asks) → may they edit it?
MATRIX = [
    ("private", "owner", True),
    ("private", "teammate", False),
    ("private", "outsider", False),
    ("private", "staff", True),
    ("team", "teammate", True),
    ("team", "outsider", False),
    ("public", "outsider", True),
]


@pytest.fixture
def cast(owner, teammate, outsider, staff):
    return {"owner": owner, "teammate": teammate, "outsider": outsider, "staff": staff}


@pytest.mark.parametrize(("visibility", "who", "allowed"), MATRIX)
def test_multipart_edits_only_of_images_you_may_see(cast, client, visibility, who, allowed):
    source = make_image(cast["owner"], visibility=visibility)
    response = client.post(
        "/v1/images/edits",
        {"prompt": "gold", "image": str(source.public_id), "wait": "false"},
        **bearer(cast[who]),
    )
    if allowed:
        assert response.status_code == 202, response.content
        job = Job.objects.exclude(edit=None).get()
        assert job.user == cast[who] and job.visibility == "private"  # the edit is theirs
    else:
        error = assert_envelope(response, 404, code="image_not_found", param="image[0]")
        assert str(source.public_id) not in error["message"]
        assert not Job.objects.exclude(edit=None).exists()


@pytest.mark.parametrize(("visibility", "who", "allowed"), MATRIX)
def test_json_job_edits_only_of_images_you_may_see(cast, client, visibility, who, allowed):
    source = make_image(cast["owner"], visibility=visibility)
    body = {"prompt": "gold", "edit": {"images": [str(source.public_id)]}}
    response = post_json(client, "/v1/jobs", body, headers=bearer(cast[who]))
    if allowed:
        assert response.status_code == 202, response.content
    else:
        assert_envelope(response, 404, code="image_not_found", param="edit.images[0]")


def test_anonymous_callers_cannot_edit(owner, client):
    public = make_image(owner, visibility="public")
    response = client.post("/v1/images/edits", {"prompt": "x", "image": str(public.public_id)})
    assert_envelope(response, 401)
    body = {"prompt": "x", "edit": {"images": [str(public.public_id)]}}
    assert_envelope(post_json(client, "/v1/jobs", body), 401)


def test_held_images_cannot_be_edited_even_by_their_owner(owner, staff, client):
    held = make_image(owner)
    Image.objects.filter(pk=held.pk).update(moderation_state=Image.Moderation.FLAGGED)
    for user in (owner, staff):
        response = client.post(
            "/v1/images/edits", {"prompt": "x", "image": str(held.public_id)}, **bearer(user)
        )
        assert_envelope(response, 400, code="image_held")


# --- The edit page ----------------------------------------------------------------------------


@pytest.mark.parametrize(("visibility", "who", "allowed"), MATRIX)
def test_the_edit_page_opens_only_images_you_may_see(cast, visibility, who, allowed):
    source = make_image(cast["owner"], visibility=visibility)
    client = Client()
    client.force_login(cast[who])
    page = client.get(f"/edit/?image={source.public_id}")
    posted = client.post(
        "/edit/",
        {
            "image": str(source.public_id),
            "prompt": "gold",
            "num_inference_steps": 30,
            "guidance_scale": 4,
            "acceleration": "none",
            "n": 1,
            "size": "auto",
        },
    )
    if allowed:
        assert page.status_code == 200
        assert posted.status_code == 302
        assert Job.objects.exclude(edit=None).get().user == cast[who]
    else:
        assert page.status_code == posted.status_code == 404
        assert not Job.objects.exclude(edit=None).exists()


def test_the_edit_page_asks_anonymous_visitors_to_log_in(owner, anonymous_client):
    public = make_image(owner, visibility="public")
    response = anonymous_client.get(f"/edit/?image={public.public_id}")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Uploaded sources: their owner and staff only ---------------------------------------------


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 200), ("teammate", 404), ("outsider", 404), ("staff", 200)]
)
def test_uploaded_sources_and_masks_are_served_to_the_edit_owner_and_staff(cast, who, status):
    job = make_edit(cast["owner"], mask=box_mask(), visibility="public")
    client = Client()
    client.force_login(cast[who])
    for row in job.edit_inputs.all():
        assert client.get(f"/edits/inputs/{row.public_id}/").status_code == status


def test_uploaded_sources_are_not_served_to_anonymous_visitors(owner, anonymous_client):
    job = make_edit(owner, visibility="public")
    row = job.edit_inputs.get()
    response = anonymous_client.get(f"/edits/inputs/{row.public_id}/")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_copies_of_gallery_sources_are_never_served_from_the_inputs_url(owner, owner_client):
    source = make_image(owner)
    row = make_edit(owner, images=[str(source.public_id)]).edit_inputs.get()
    assert owner_client.get(f"/edits/inputs/{row.public_id}/").status_code == 404


def test_a_public_edit_of_a_private_image_never_shows_the_source(
    owner, teammate_client, outsider_client, anonymous_client, owner_client
):
    private = make_image(owner)
    result = make_edit(owner, images=[str(private.public_id)], visibility="public").images.get()
    for client in (teammate_client, outsider_client, anonymous_client):
        page = client.get(f"/images/{result.public_id}/").content.decode()
        assert str(private.public_id) not in page and "/edits/inputs/" not in page
        assert "Before / after" not in page
        assert client.get(f"/images/{private.public_id}/").status_code == 404
    assert (
        str(private.public_id) in owner_client.get(f"/images/{result.public_id}/").content.decode()
    )


def test_a_public_edit_of_an_upload_never_shows_the_upload(owner, outsider_client, owner_client):
    result = make_edit(owner, visibility="public", mask=box_mask()).images.get()
    others = outsider_client.get(f"/images/{result.public_id}/").content.decode()
    assert "/edits/inputs/" not in others and "Edit again" in others
    assert "/edits/inputs/" in owner_client.get(f"/images/{result.public_id}/").content.decode()


# --- Signed source URLs (for providers) ----------------------------------------------------


def test_signed_source_urls_work_without_a_session_only_while_the_job_runs(owner, client):
    job = make_edit(owner, run=False)
    row = job.edit_inputs.get()
    url = edit_input_signed_url(row)
    path = url.split("://", 1)[1].split("/", 1)[1]
    assert client.get(f"/{path}").status_code == 200
    Job.objects.filter(pk=job.pk).update(status=Job.Status.SUCCEEDED)
    assert_envelope(client.get(f"/{path}"), 404)
    assert_envelope(client.get("/v1/edit-inputs/forged-token"), 404)


def test_expired_signed_source_urls_are_refused(owner, client, settings):
    job = make_edit(owner, run=False)
    token = signing.dumps(job.edit_inputs.get().public_id.hex, salt=_SALT)
    settings.QWEN_IMAGE_EDIT_SOURCE_URL_MAX_AGE = -1
    assert_envelope(client.get(f"/v1/edit-inputs/{token}"), 403, code="url_expired")


def test_job_json_with_the_edit_is_the_owners_business(owner, outsider, client):
    job = make_edit(owner, images=[base64.b64encode(photo()).decode()])
    response = client.get(f"/v1/jobs/{job.public_id}", **bearer(outsider))
    assert_envelope(response, 404)
    assert client.get(f"/v1/jobs/{job.public_id}", **bearer(owner)).json()["params"]["edit"]


def test_the_gallery_api_shows_edit_lineage_only_where_the_viewer_may_see(owner, teammate, client):
    private = make_image(owner)
    team = make_image(owner, visibility="team")
    result = make_edit(
        owner, images=[str(team.public_id), str(private.public_id)], visibility="team"
    ).images.get()
    mine = client.get(f"/v1/images/{result.public_id}", **bearer(owner)).json()
    assert [i["id"] for i in mine["edited_from"]] == [str(team.public_id), str(private.public_id)]
    theirs = client.get(f"/v1/images/{result.public_id}", **bearer(teammate)).json()
    assert [i["id"] for i in theirs["edited_from"]] == [str(team.public_id)]
    assert str(private.public_id) not in str(theirs)
    source = client.get(f"/v1/images/{team.public_id}", **bearer(teammate)).json()
    assert [i["id"] for i in source["edits"]] == [str(result.public_id)]
