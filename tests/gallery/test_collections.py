"""Collections: create, rename, add/remove, cover, visibility, and who may see or change them."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gallery import services
from gallery.models import Collection
from tests.gallery.helpers import grid, ids, tile_ids

pytestmark = pytest.mark.django_db


def test_create_add_rename_cover_remove_delete(owner, owner_client, image_of):
    first, second = image_of(owner), image_of(owner)
    response = owner_client.post(
        reverse("collections"), {"name": "  Harbour   studies ", "visibility": "team"}
    )
    collection = Collection.objects.get()
    assert response["Location"] == reverse("collection-detail", args=[collection.public_id])
    assert (collection.name, collection.visibility) == ("Harbour studies", "team")
    assert collection.team is not None

    for image in (first, second):
        owner_client.post(
            reverse("image-collect", args=[image.public_id]), {"collection": collection.public_id}
        )
    detail = owner_client.get(reverse("collection-detail", args=[collection.public_id]))
    assert tile_ids(detail) == ids(second, first)  # newest addition first

    owner_client.post(
        reverse("collection-edit", args=[collection.public_id]),
        {"name": "Harbours", "visibility": "public"},
    )
    owner_client.post(
        reverse("collection-cover", args=[collection.public_id]), {"image": first.public_id}
    )
    collection.refresh_from_db()
    assert (collection.name, collection.visibility, collection.cover) == (
        "Harbours",
        "public",
        first,
    )
    listing = owner_client.get(reverse("collections")).content.decode()
    assert "Harbours" in listing and "2 images" in listing
    assert reverse("image-thumbnail", args=[first.public_id]) in listing

    owner_client.post(
        reverse("image-collect", args=[first.public_id]),
        {"collection": collection.public_id, "remove": "1"},
    )
    assert list(collection.items.values_list("image_id", flat=True)) == [second.pk]
    collection.refresh_from_db()
    owner_client.post(reverse("collection-delete", args=[collection.public_id]))
    assert not Collection.objects.filter(deleted_at__isnull=True).exists()  # in the trash
    assert first.__class__.objects.count() == 2  # images stay


def test_create_from_an_image_page_adds_it(owner, owner_client, image_of):
    image = image_of(owner)
    detail = reverse("image-detail", args=[image.public_id])
    response = owner_client.post(
        reverse("collections"), {"name": "Keep", "images": image.public_id, "next": detail}
    )
    assert response["Location"] == detail
    assert Collection.objects.get().items.get().image == image


def test_empty_name_is_refused(owner_client):
    response = owner_client.post(reverse("collections"), {"name": "   "}, follow=True)
    assert b"Give the collection a name" in response.content
    assert not Collection.objects.exists()


@pytest.mark.parametrize(
    ("visibility", "teammate_sees", "outsider_sees", "anonymous_sees"),
    [
        ("private", False, False, False),
        ("team", True, False, False),
        ("public", True, True, True),
    ],
)
def test_who_sees_a_collection(
    visibility,
    teammate_sees,
    outsider_sees,
    anonymous_sees,
    owner,
    owner_client,
    teammate_client,
    outsider_client,
    anonymous_client,
    image_of,
):
    public, private = image_of(owner, "public"), image_of(owner, "private")
    collection = services.collection_create(user=owner, name="Set", visibility=visibility)
    services.collection_add_images(
        user=owner, collection=collection, image_ids=[public.public_id, private.public_id]
    )
    url = reverse("collection-detail", args=[collection.public_id])
    assert tile_ids(owner_client.get(url)) == ids(private, public)
    for client, sees in [
        (teammate_client, teammate_sees),
        (outsider_client, outsider_sees),
        (anonymous_client, anonymous_sees),
    ]:
        response = client.get(url)
        assert response.status_code == (200 if sees else 404)
        if sees:
            # A visible collection still only shows each viewer the images they may see.
            assert tile_ids(response) == ids(public)


def test_only_the_owner_changes_a_team_collection(
    owner, owner_client, teammate, teammate_client, image_of
):
    image = image_of(teammate, "team")
    collection = services.collection_create(user=owner, name="Ours", visibility="team")
    for name, data in [
        ("collection-edit", {"name": "Hijacked"}),
        ("collection-cover", {"image": image.public_id}),
        ("collection-share", {}),
        ("collection-delete", {}),
    ]:
        response = teammate_client.post(reverse(name, args=[collection.public_id]), data)
        assert response.status_code == 404, name
    teammate_client.post(
        reverse("image-collect", args=[image.public_id]), {"collection": collection.public_id}
    )
    collection.refresh_from_db()
    assert collection.name == "Ours" and not collection.items.exists()
    assert not collection.share_links.exists()


def test_cover_must_be_in_the_collection(owner, owner_client, image_of):
    inside, outside = image_of(owner), image_of(owner)
    collection = services.collection_create(user=owner, name="C")
    services.collection_add_images(user=owner, collection=collection, image_ids=[inside.public_id])
    owner_client.post(
        reverse("collection-cover", args=[collection.public_id]), {"image": outside.public_id}
    )
    collection.refresh_from_db()
    assert collection.cover is None


def test_collection_scope_in_the_grid_and_unknown_collection(owner, owner_client, image_of):
    image = image_of(owner)
    collection = services.collection_create(user=owner, name="C")
    services.collection_add_images(user=owner, collection=collection, image_ids=[image.public_id])
    assert grid(owner_client, scope="collection", collection=collection.public_id) == ids(image)
    missing = owner_client.get(
        reverse("gallery"), {"collection": "00000000-0000-0000-0000-000000000000"}
    )
    assert missing.status_code == 404


def test_collections_list_query_count_does_not_grow(owner, teammate, owner_client, image_of):
    images = [image_of(owner, "team"), image_of(teammate, "team")]

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get(reverse("collections")).status_code == 200
        return len(captured)

    services.collection_create(user=owner, name="One")
    few = count()
    for n in range(5):
        mine = services.collection_create(user=owner, name=f"Mine {n}")
        theirs = services.collection_create(user=teammate, name=f"Theirs {n}", visibility="team")
        for collection in (mine, theirs):
            services.collection_add_images(
                user=collection.user, collection=collection, image_ids=[i.public_id for i in images]
            )
    assert count() == few
    body = owner_client.get(reverse("collections")).content.decode()
    assert "Theirs 4" in body and "teammate" in body


def test_cover_from_the_collection_grid(owner, owner_client, teammate, image_of):
    first, second = image_of(owner), image_of(owner)
    collection = services.collection_create(user=owner, name="C")
    services.collection_add_images(
        user=owner, collection=collection, image_ids=[first.public_id, second.public_id]
    )
    page = owner_client.get(reverse("collection-detail", args=[collection.public_id]))
    assert b'value="cover"' in page.content
    owner_client.post(
        reverse("gallery-bulk"),
        {"images": [first.public_id], "action": "cover", "collection": collection.public_id},
    )
    collection.refresh_from_db()
    assert collection.cover == first
    # Not an owner: the option is not offered.
    theirs = services.collection_create(user=teammate, name="T", visibility="team")
    page = owner_client.get(reverse("collection-detail", args=[theirs.public_id]))
    assert b'value="cover"' not in page.content
