"""Image actions: reseed, variations, regenerate exactly, use settings, star, visibility,
delete, bulk actions (with ownership), ZIP downloads and the compare view."""

import io
import json
import zipfile

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse

from gallery import services
from gallery.models import Favorite
from generation.models import Image, Job
from tests.apiclient import assert_envelope, bearer, post_json
from tests.factories import make_image_row, make_job
from tests.gallery.helpers import grid, ids

pytestmark = pytest.mark.django_db

REPRODUCED = (
    "prompt",
    "negative_prompt",
    "width",
    "height",
    "num_inference_steps",
    "guidance_scale",
    "acceleration",
    "enable_safety_checker",
)


def _reseed(client, image, mode, capture):
    with capture(execute=True):
        response = client.post(reverse("image-reseed", args=[image.public_id]), {"mode": mode})
    assert response.status_code == 302, response.content
    return response


def _same_params(job, original):
    return all(getattr(job, f) == getattr(original.job, f) for f in REPRODUCED)


def test_reseed_makes_one_image_with_a_new_seed_and_a_parent(
    owner, owner_client, django_capture_on_commit_callbacks
):
    image = make_job(owner, seed=1000, size="landscape_4_3", num_inference_steps=12).images.get()
    response = _reseed(owner_client, image, "reseed", django_capture_on_commit_callbacks)
    job = Job.objects.exclude(pk=image.job_id).get()
    assert response["Location"] == reverse("job-detail", args=[job.public_id])
    assert job.parent_image == image and job.n == 1 and job.user == owner
    assert _same_params(job, image)
    assert job.status == Job.Status.SUCCEEDED
    assert job.images.get().seed == job.seed != image.seed


def test_variations_are_one_job_of_four_following_seeds(
    owner, owner_client, django_capture_on_commit_callbacks
):
    image = make_job(owner, seed=77).images.get()
    _reseed(owner_client, image, "variations", django_capture_on_commit_callbacks)
    job = Job.objects.get(parent_image=image)
    assert (job.seed, job.n) == (78, 4) and _same_params(job, image)
    assert list(job.images.order_by("index").values_list("seed", flat=True)) == [78, 79, 80, 81]


def test_regenerate_exactly_reuses_the_seed_and_reports_matching_pixels(
    owner, owner_client, django_capture_on_commit_callbacks
):
    image = make_job(owner, seed=4242).images.get()
    _reseed(owner_client, image, "exact", django_capture_on_commit_callbacks)
    job = Job.objects.get(parent_image=image)
    assert (job.seed, job.n) == (4242, 1) and _same_params(job, image)
    copy = job.images.get()
    assert copy.pixel_sha256 == image.pixel_sha256  # the demo backend is deterministic
    page = owner_client.get(reverse("image-detail", args=[copy.public_id])).content.decode()
    assert "Reproduced exactly" in page
    detail = owner_client.get(f"/v1/images/{copy.public_id}").json()
    assert detail["reproduction"]["pixels_match"] is True
    assert detail["reseeded_from"]["id"] == str(image.public_id)
    # The original lists its reseeds.
    original = owner_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert str(copy.public_id) in original

    # Had the pixels come out different, the page says so.
    Image.objects.filter(pk=copy.pk).update(pixel_sha256="0" * 64)
    page = owner_client.get(reverse("image-detail", args=[copy.public_id])).content.decode()
    assert "Pixels differ" in page and "Reproduced exactly" not in page


def test_teammate_reseeds_a_team_image_into_their_own_private_job(
    owner, teammate, teammate_client, image_of, django_capture_on_commit_callbacks
):
    image = image_of(owner, "team")
    _reseed(teammate_client, image, "reseed", django_capture_on_commit_callbacks)
    job = Job.objects.get(parent_image=image)
    assert job.user == teammate and job.visibility == "private"


def test_outsider_cannot_reseed_a_private_image(owner, outsider_client, image_of):
    image = image_of(owner, "private")
    response = outsider_client.post(reverse("image-reseed", args=[image.public_id]))
    assert response.status_code == 404
    assert not Job.objects.filter(parent_image=image).exists()


def test_reseed_respects_the_quota(owner, owner_client, image_of, settings):
    image = image_of(owner)
    settings.QUOTA_IMAGES_PER_DAY = 1
    response = owner_client.post(reverse("image-reseed", args=[image.public_id]))
    assert response.status_code == 302
    assert response["Location"] == reverse("image-detail", args=[image.public_id])
    assert not Job.objects.filter(parent_image=image).exists()


def test_use_these_settings_prefills_the_generate_form(owner, owner_client):
    image = make_image_row(owner, prompt="a quiet harbour", seed=321, num_inference_steps=17)
    response = owner_client.post(reverse("image-use-settings", args=[image.public_id]))
    assert response["Location"] == reverse("generate")
    form = owner_client.get(reverse("generate")).content.decode()
    assert "a quiet harbour" in form
    assert 'name="seed" value="321"' in form
    assert 'name="num_inference_steps" value="17"' in form


def test_star_toggles_and_answers_json_for_scripts(owner, owner_client, outsider_client, image_of):
    image = image_of(owner, "private")
    url = reverse("image-favorite", args=[image.public_id])
    response = owner_client.post(url, HTTP_ACCEPT="application/json")
    assert response.json() == {"favorite": True}
    assert owner_client.post(url, {"favorite": "1"}, HTTP_ACCEPT="application/json").json() == {
        "favorite": True
    }
    assert owner_client.post(url, HTTP_ACCEPT="application/json").json() == {"favorite": False}
    assert outsider_client.post(url).status_code == 404
    assert not Favorite.objects.exists()


def test_visibility_is_changed_by_the_owner_only(
    owner, owner_client, teammate_client, outsider_client, image_of
):
    image = image_of(owner, "team")
    url = reverse("image-visibility", args=[image.public_id])
    teammate_client.post(url, {"visibility": "public"})
    assert outsider_client.post(url, {"visibility": "public"}).status_code == 404
    image.refresh_from_db()
    assert image.visibility == "team"
    owner_client.post(url, {"visibility": "public"})
    image.refresh_from_db()
    assert image.visibility == "public"
    owner_client.post(url, {"visibility": "everyone"})
    image.refresh_from_db()
    assert image.visibility == "public"


def test_delete_moves_to_the_trash_for_the_owner_only(
    owner, owner_client, teammate_client, image_of, django_capture_on_commit_callbacks
):
    image = image_of(owner, "team")
    url = reverse("image-delete", args=[image.public_id])
    teammate_client.post(url)
    assert Image.objects.get(pk=image.pk).deleted_at is None
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(url)
    assert response["Location"] == reverse("gallery")
    # Hidden (a 404 even for its owner), files kept until the purge or "Delete for good".
    assert Image.objects.get(pk=image.pk).deleted_at is not None
    assert owner_client.get(reverse("image-detail", args=[image.public_id])).status_code == 404
    assert default_storage.exists(image.file.name)
    assert default_storage.exists(image.thumbnail.name)


# --- Bulk ----------------------------------------------------------------------------------


def _bulk(client, images, action, **extra):
    return client.post(
        reverse("gallery-bulk"),
        {"images": [str(i.public_id) for i in images], "action": action, **extra},
    )


def test_bulk_delete_and_visibility_touch_only_own_images(
    owner, teammate, owner_client, image_of, django_capture_on_commit_callbacks
):
    mine = [image_of(owner, "private"), image_of(owner, "private")]
    theirs = image_of(teammate, "team")
    _bulk(owner_client, [*mine, theirs], "visibility", visibility="public")
    assert set(Image.objects.filter(visibility="public").values_list("pk", flat=True)) == {
        i.pk for i in mine
    }
    with django_capture_on_commit_callbacks(execute=True):
        _bulk(owner_client, [mine[0], theirs], "delete")
    live = Image.objects.filter(deleted_at__isnull=True)
    assert set(live.values_list("pk", flat=True)) == {mine[1].pk, theirs.pk}
    assert default_storage.exists(theirs.file.name)


def test_bulk_add_to_collection_takes_only_visible_images_into_own_collections(
    owner, teammate, outsider, owner_client, image_of
):
    mine, team, hidden = image_of(owner), image_of(teammate, "team"), image_of(outsider)
    collection = services.collection_create(user=owner, name="Picks")
    _bulk(owner_client, [mine, team, hidden], "collect", collection=collection.public_id)
    assert set(collection.items.values_list("image_id", flat=True)) == {mine.pk, team.pk}
    # Somebody else's collection: refused.
    theirs = services.collection_create(user=teammate, name="Theirs", visibility="team")
    _bulk(owner_client, [mine], "collect", collection=theirs.public_id)
    assert not theirs.items.exists()
    _bulk(owner_client, [team], "uncollect", collection=collection.public_id)
    assert list(collection.items.values_list("image_id", flat=True)) == [mine.pk]


def test_bulk_unknown_action_is_a_400_that_names_the_actions(owner, owner_client, image_of):
    image = image_of(owner)
    response = _bulk(owner_client, [image], "shred")
    assert response.status_code == 400
    assert b"Unknown action 'shred'" in response.content
    assert b"compare, zip, delete" in response.content
    assert Image.objects.filter(pk=image.pk).exists()


def test_bulk_with_nothing_selected_explains(owner_client):
    response = owner_client.post(reverse("gallery-bulk"), {"action": "zip"}, follow=True)
    assert b"Select at least one image" in response.content


def test_zip_streams_the_visible_originals_and_a_manifest(
    owner, teammate, outsider, owner_client, image_of
):
    mine = image_of(owner, prompt="Zip me: a kite!", seed=9)
    team = image_of(teammate, "team")
    hidden = image_of(outsider, "private")
    response = _bulk(owner_client, [mine, team, hidden], "zip")
    assert response.status_code == 200 and response.streaming
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith("attachment;")
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    assert archive.testzip() is None
    names = archive.namelist()
    assert len(names) == 3 and names[-1] == "manifest.json"
    assert "zip-me-a-kite-seed9.png" in " ".join(names)
    manifest = json.loads(archive.read("manifest.json"))
    assert {item["id"] for item in manifest} == {str(mine.public_id), str(team.public_id)}
    for item in manifest:
        image = Image.objects.get(public_id=item["id"])
        with default_storage.open(image.file.name, "rb") as original:
            assert archive.read(item["file"]) == original.read()


def test_zip_refuses_too_many_images_or_bytes(owner, owner_client, image_of, settings):
    images = [image_of(owner) for _ in range(3)]
    settings.GALLERY_ZIP_MAX_IMAGES = 2
    response = _bulk(owner_client, images, "zip")
    assert response.status_code == 302
    assert b"at most 2 images" in owner_client.get(response["Location"]).content
    settings.GALLERY_ZIP_MAX_IMAGES = 10
    settings.GALLERY_ZIP_MAX_BYTES = sum(i.byte_size for i in images) - 1
    response = _bulk(owner_client, images, "zip", next=reverse("gallery"))
    assert response.status_code == 302
    assert b"A download holds at most" in owner_client.get(response["Location"]).content
    settings.GALLERY_ZIP_MAX_BYTES = sum(i.byte_size for i in images)
    assert _bulk(owner_client, images, "zip").status_code == 200


def test_bulk_requires_login(anonymous_client, owner, image_of):
    image = image_of(owner, "public")
    response = _bulk(anonymous_client, [image], "zip")
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


# --- Compare -------------------------------------------------------------------------------


def test_compare_shows_two_to_four_visible_images_and_marks_differences(
    owner, outsider, owner_client, image_of
):
    a = make_image_row(owner, prompt="a cat", seed=1)
    b = make_image_row(owner, prompt="a cat", seed=2)
    hidden = image_of(outsider, "private")
    response = _bulk(owner_client, [a, b, hidden], "compare")
    page = owner_client.get(response["Location"])
    body = page.content.decode()
    assert page.status_code == 200 and "Compare 2 images" in body
    assert str(hidden.public_id) not in body
    assert '<tr class="differs">\n            <th scope="row">Seed' in body
    assert '<tr class="">\n            <th scope="row">Prompt' in body


def test_compare_needs_two_images(owner, owner_client, image_of):
    image = image_of(owner)
    response = owner_client.get(reverse("compare"), {"ids": str(image.public_id)})
    assert response.status_code == 302
    assert _bulk(owner_client, [image] * 5, "compare").status_code == 302


def test_grid_links_everything_to_detail_pages(owner, owner_client, image_of):
    image = image_of(owner)
    assert grid(owner_client) == ids(image)
    body = owner_client.get(reverse("gallery")).content.decode()
    assert reverse("image-detail", args=[image.public_id]) in body
    assert reverse("image-thumbnail", args=[image.public_id]) in body
    assert 'loading="lazy"' in body


def test_reseeding_an_image_made_under_older_limits_says_why_instead_of_failing(
    owner, owner_client, client
):
    image = make_image_row(owner)
    Job.objects.filter(pk=image.job_id).update(num_inference_steps=10_000)  # limit since lowered
    response = owner_client.post(
        reverse("image-reseed", args=[image.public_id]), {"mode": "reseed"}, follow=True
    )
    assert response.status_code == 200
    assert "no longer allowed here" in response.content.decode()
    assert Job.objects.filter(user=owner).count() == 1  # nothing was queued

    answer = post_json(client, f"/v1/images/{image.public_id}/reseed", {}, headers=bearer(owner))
    assert_envelope(answer, 409, code="params_no_longer_allowed")
