"""The trash: a delete hides everywhere and stops share links; undo and restore bring back
everything (collection places, stars, links); permanent deletes and legal holds."""

import pytest
from django.core.files.storage import default_storage
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from gallery import services
from gallery.models import Collection, CollectionItem, Favorite, ShareLink
from generation.models import Image, Job
from generation.signed_urls import image_signed_urls
from tests.apiclient import bearer
from tests.factories import make_image, make_job
from tests.gallery.helpers import grid, ids

pytestmark = pytest.mark.django_db


def _hold(user):
    user.profile.legal_hold_since = timezone.now()
    user.profile.save()


def test_a_trashed_image_is_hidden_everywhere_and_its_links_stop(
    owner, teammate, owner_client, teammate_client, anonymous_client, client
):
    image = make_image(owner, visibility="public")
    collection = services.collection_create(
        user=owner, name="Picks", visibility="public", image_ids=[image.public_id]
    )
    share = services.share_create(user=owner, image=image)
    signed = image_signed_urls(image, None)["url"]
    owner_client.post(reverse("image-delete", args=[image.public_id]))

    assert grid(owner_client) == [] and grid(anonymous_client, scope="public") == []
    for who in (owner_client, teammate_client, anonymous_client):
        assert who.get(reverse("image-detail", args=[image.public_id])).status_code == 404
        assert who.get(reverse("image-file", args=[image.public_id])).status_code == 404
    assert anonymous_client.get(reverse("share", args=[share.token])).status_code == 404
    assert anonymous_client.get(reverse("share-file", args=[share.token])).status_code == 404
    assert client.get(signed).status_code == 404
    assert client.get(f"/v1/images/{image.public_id}", **bearer(owner)).status_code == 404
    assert image.public_id not in [
        i["id"] for i in client.get("/v1/images", **bearer(owner)).json()["data"]
    ]
    detail = owner_client.get(reverse("collection-detail", args=[collection.public_id]))
    assert str(image.public_id) not in detail.content.decode()


def test_undo_restores_everything_including_collection_places_stars_and_links(
    owner, owner_client, anonymous_client
):
    image = make_image(owner, visibility="public")
    collection = services.collection_create(user=owner, name="Picks", image_ids=[image.public_id])
    services.favorite_set(user=owner, image=image)
    share = services.share_create(user=owner, image=image)
    response = owner_client.post(
        reverse("image-delete", args=[image.public_id]), follow=True
    ).content.decode()
    assert "Image moved to the trash." in response and "Undo" in response
    # The undo form on the page that followed the delete.
    owner_client.post(reverse("trash-restore"), {"kind": "images", "ids": [str(image.public_id)]})
    image.refresh_from_db()
    assert image.deleted_at is None
    assert CollectionItem.objects.filter(collection=collection, image=image).exists()
    assert Favorite.objects.filter(user=owner, image=image).exists()
    assert anonymous_client.get(reverse("share", args=[share.token])).status_code == 200
    assert grid(owner_client) == ids(image)
    assert grid(owner_client, collection=collection.public_id, scope="collection") == ids(image)


def test_the_undo_offer_is_shown_once(owner, owner_client):
    image = make_image(owner)
    owner_client.post(reverse("image-delete", args=[image.public_id]))
    assert "Undo" in owner_client.get(reverse("gallery")).content.decode()
    assert "Image moved to the trash" not in owner_client.get(reverse("gallery")).content.decode()


def test_a_job_goes_to_the_trash_with_its_images_and_comes_back_with_exactly_those(
    owner, owner_client
):
    job = make_job(owner, n=3)
    first, second, third = job.images.order_by("index")
    services.images_delete(user=owner, image_ids=[first.public_id])  # trashed on its own
    owner_client.post(reverse("job-delete", args=[job.public_id]))
    job.refresh_from_db()
    assert job.deleted_at is not None
    assert owner_client.get(reverse("job-detail", args=[job.public_id])).status_code == 404
    assert set(Image.objects.filter(deleted_at__isnull=True)) == set()
    owner_client.post(reverse("trash-restore"), {"kind": "jobs", "ids": [str(job.public_id)]})
    assert set(Image.objects.filter(deleted_at__isnull=True)) == {second, third}
    assert owner_client.get(reverse("job-detail", args=[job.public_id])).status_code == 200


def test_a_running_job_cannot_be_trashed(owner, owner_client):
    job = make_job(owner, run=False)
    owner_client.post(reverse("job-delete", args=[job.public_id]))
    job.refresh_from_db()
    assert job.deleted_at is None


def test_a_trashed_collection_is_hidden_its_links_stop_and_its_images_stay(
    owner, owner_client, anonymous_client
):
    image = make_image(owner, visibility="public")
    collection = services.collection_create(
        user=owner, name="Picks", visibility="public", image_ids=[image.public_id]
    )
    share = services.share_create(user=owner, collection=collection)
    owner_client.post(reverse("collection-delete", args=[collection.public_id]))
    assert anonymous_client.get(reverse("share", args=[share.token])).status_code == 404
    url = reverse("collection-detail", args=[collection.public_id])
    assert owner_client.get(url).status_code == 404
    assert grid(owner_client) == ids(image)
    owner_client.post(
        reverse("trash-restore"), {"kind": "collections", "ids": [str(collection.public_id)]}
    )
    assert owner_client.get(url).status_code == 200
    assert anonymous_client.get(reverse("share", args=[share.token])).status_code == 200


def test_the_trash_page_lists_restores_and_deletes_for_good(
    owner, owner_client, django_capture_on_commit_callbacks
):
    keep, drop = make_image(owner, prompt="a keeper"), make_image(owner, prompt="a dropper")
    services.images_delete(user=owner, image_ids=[keep.public_id, drop.public_id])
    page = owner_client.get(reverse("trash")).content.decode()
    assert "a keeper" in page and "a dropper" in page
    thumb = owner_client.get(reverse("trash-thumbnail", args=[keep.public_id]))
    assert thumb.status_code == 200
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("trash-delete"), {"kind": "images", "ids": [str(drop.public_id)]})
    assert not Image.objects.filter(pk=drop.pk).exists()
    assert not default_storage.exists(drop.file.name)
    assert not default_storage.exists(drop.thumbnail.name)
    owner_client.post(reverse("trash-restore"), {"kind": "images", "ids": [str(keep.public_id)]})
    assert "The trash is empty." in owner_client.get(reverse("trash")).content.decode()


def test_emptying_the_trash_removes_rows_and_files(
    owner, owner_client, django_capture_on_commit_callbacks
):
    job = make_job(owner, n=2)
    image = make_image(owner)
    collection = services.collection_create(user=owner, name="Old")
    services.images_delete(user=owner, image_ids=[image.public_id])
    owner_client.post(reverse("job-delete", args=[job.public_id]))
    services.collection_delete(user=owner, collection=collection)
    names = [name for i in Image.objects.all() for name in (i.file.name, i.thumbnail.name)]
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(reverse("trash-empty"))
    assert not Image.objects.exists() and not Collection.objects.exists()
    assert list(Job.objects.all()) == [image.job]  # its image was trashed, not the job
    assert not Job.objects.filter(pk=job.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_the_trash_is_its_owners_alone(owner, teammate, owner_client, teammate_client):
    image = make_image(owner, visibility="team")
    services.images_delete(user=owner, image_ids=[image.public_id])
    assert "lighthouse" not in teammate_client.get(reverse("trash")).content.decode()
    teammate_client.post(
        reverse("trash-restore"), {"kind": "images", "ids": [str(image.public_id)]}
    )
    teammate_client.post(reverse("trash-delete"), {"kind": "images", "ids": [str(image.public_id)]})
    image.refresh_from_db()
    assert image.deleted_at is not None
    assert (
        teammate_client.get(reverse("trash-thumbnail", args=[image.public_id])).status_code == 404
    )


def test_the_trash_page_needs_a_login(anonymous_client):
    assert anonymous_client.get(reverse("trash")).status_code == 302
    assert anonymous_client.post(reverse("trash-empty")).status_code == 302


def test_trash_page_queries_do_not_grow_with_its_size(owner, owner_client):
    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(reverse("trash")).status_code == 200
        return len(queries)

    services.images_delete(user=owner, image_ids=[make_image(owner).public_id])
    owner_client.post(reverse("job-delete", args=[make_job(owner, seed=99).public_id]))
    count()  # shows (and drops) the undo offer
    few = count()
    for seed in range(4):
        services.images_delete(user=owner, image_ids=[make_image(owner, seed=seed).public_id])
        job = make_job(owner, seed=100 + seed)
        services.collection_delete(
            user=owner, collection=services.collection_create(user=owner, name=f"c{seed}")
        )
        owner_client.post(reverse("job-delete", args=[job.public_id]))
    count()
    assert count() == few


# --- The API -------------------------------------------------------------------------------


def test_api_delete_trashes_restore_brings_back_permanent_removes_files(
    owner, client, django_capture_on_commit_callbacks
):
    image = make_image(owner)
    key = bearer(owner)
    url = f"/v1/images/{image.public_id}"
    assert client.delete(url, **key).status_code == 204
    assert client.get("/v1/trash", **key).json()["images"][0]["id"] == str(image.public_id)
    response = client.post(f"{url}/restore", **key)
    assert response.status_code == 200 and response.json()["id"] == str(image.public_id)
    assert client.post(f"{url}/restore", **key).status_code == 404  # not in the trash
    with django_capture_on_commit_callbacks(execute=True):
        assert client.delete(f"{url}?permanent=true", **key).status_code == 204
    assert not Image.objects.filter(pk=image.pk).exists()
    assert not default_storage.exists(image.file.name)


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 204), ("teammate", 403), ("outsider", 404), ("staff", 204)]
)
def test_api_permanent_delete_ownership(owner, teammate, outsider, staff, client, who, status):
    image = make_image(owner, visibility="team")
    user = {"owner": owner, "teammate": teammate, "outsider": outsider, "staff": staff}[who]
    response = client.delete(f"/v1/images/{image.public_id}?permanent=true", **bearer(user))
    assert response.status_code == status
    assert Image.objects.filter(pk=image.pk).exists() == (status != 204)


def test_api_delete_needs_a_key(owner, client):
    image = make_image(owner, visibility="public")
    assert client.delete(f"/v1/images/{image.public_id}").status_code == 401


def test_under_a_legal_hold_only_staff_may_delete_for_good(owner, staff, client, owner_client):
    image = make_image(owner)
    _hold(owner)
    response = client.delete(f"/v1/images/{image.public_id}?permanent=true", **bearer(owner))
    assert response.status_code == 403 and response.json()["error"]["code"] == "legal_hold"
    assert client.delete(f"/v1/images/{image.public_id}", **bearer(owner)).status_code == 204
    owner_client.post(reverse("trash-empty"))
    owner_client.post(reverse("trash-delete"), {"kind": "images", "ids": [str(image.public_id)]})
    assert Image.objects.filter(pk=image.pk).exists()
    assert "Legal hold" in owner_client.get(reverse("trash")).content.decode()
    response = client.delete(f"/v1/images/{image.public_id}?permanent=true", **bearer(staff))
    assert response.status_code == 204
    assert not Image.objects.filter(pk=image.pk).exists()


def test_a_team_hold_keeps_a_trashed_collection_when_its_owner_empties_the_trash(
    owner, team, owner_client
):
    """Regression: the emptied trash checked holds on images and jobs only, so a collection
    of a held team went for good."""
    collection = services.collection_create(user=owner, name="Evidence")
    services.collection_delete(user=owner, collection=collection)
    team.legal_hold_since = timezone.now()
    team.save()
    page = owner_client.post(reverse("trash-empty"), follow=True).content.decode()
    assert Collection.objects.filter(pk=collection.pk).exists()
    assert "legal hold" in page.lower()


@pytest.mark.parametrize(
    ("who", "status"), [("owner", 204), ("teammate", 404), ("outsider", 404), ("staff", 204)]
)
def test_api_permanent_collection_delete_ownership(
    owner, teammate, outsider, staff, client, who, status
):
    """As for images and jobs: the owner's, or anyone's for staff (regression: staff got a
    404, so under a legal hold nobody could delete a collection for good through the API)."""
    collection = services.collection_create(user=owner, name="Picks", visibility="team")
    services.collection_delete(user=owner, collection=collection)
    user = {"owner": owner, "teammate": teammate, "outsider": outsider, "staff": staff}[who]
    url = f"/v1/collections/{collection.public_id}?permanent=true"
    assert client.delete(url, **bearer(user)).status_code == status
    assert Collection.objects.filter(pk=collection.pk).exists() == (status != 204)


def test_under_a_legal_hold_only_staff_delete_a_collection_for_good(owner, staff, client):
    collection = services.collection_create(user=owner, name="Evidence")
    _hold(owner)
    url = f"/v1/collections/{collection.public_id}?permanent=true"
    response = client.delete(url, **bearer(owner))
    assert response.status_code == 403 and response.json()["error"]["code"] == "legal_hold"
    assert client.delete(url, **bearer(staff)).status_code == 204
    assert not Collection.objects.filter(pk=collection.pk).exists()


def test_api_jobs_and_collections_delete_and_restore(owner, teammate, client):
    job = make_job(owner)
    key = bearer(owner)
    assert client.delete(f"/v1/jobs/{job.public_id}", **bearer(teammate)).status_code == 404
    assert client.delete(f"/v1/jobs/{job.public_id}", **key).status_code == 204
    assert client.get(f"/v1/jobs/{job.public_id}", **key).status_code == 404
    restored = client.post(f"/v1/jobs/{job.public_id}/restore", **key)
    assert restored.status_code == 200 and len(restored.json()["images"]) == 1
    running = make_job(owner, run=False, seed=9)
    response = client.delete(f"/v1/jobs/{running.public_id}", **key)
    assert response.status_code == 409 and response.json()["error"]["code"] == "job_active"
    collection = services.collection_create(user=owner, name="Picks")
    assert client.delete(f"/v1/collections/{collection.public_id}", **key).status_code == 204
    assert client.post(f"/v1/collections/{collection.public_id}/restore", **key).status_code == 200
    assert (
        client.delete(f"/v1/collections/{collection.public_id}", **bearer(teammate)).status_code
        == 404
    )
    assert (
        client.delete(f"/v1/collections/{collection.public_id}?permanent=true", **key).status_code
        == 204
    )
    assert not Collection.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_trashed_images_are_not_served_by_an_idempotent_replay(owner, client):
    key = {**bearer(owner), "HTTP_IDEMPOTENCY_KEY": "replay-1"}
    body = {"prompt": "a lantern", "size": "square", "response_format": "b64_json"}
    first = client.post(
        "/v1/images/generations", body, content_type="application/json", **key
    ).json()
    assert len(first["data"]) == 1
    job = Job.objects.get()
    services.images_delete(user=owner, image_ids=job.images.values_list("public_id", flat=True))
    again = client.post("/v1/images/generations", body, content_type="application/json", **key)
    assert again.json().get("data", []) == []


def test_share_links_of_a_trashed_image_wait_for_the_restore(owner, owner_client):
    image = make_image(owner)
    services.share_create(user=owner, image=image)
    services.images_delete(user=owner, image_ids=[image.public_id])
    assert ShareLink.objects.filter(image=image, revoked_at__isnull=True).count() == 1
