"""The image viewer steps through the query it was opened from; tiles keep their shape; the
image page shows which collections hold the image; feed actions answer JSON for the page."""

import re

import pytest
from django.urls import reverse

from gallery import services
from tests.factories import make_image

pytestmark = pytest.mark.django_db


def _neighbours(client, image, **query):
    page = client.get(reverse("image-detail", args=[image.public_id]), query).content.decode()
    prev = re.search(r'data-prev-url="/images/([0-9a-f-]{36})/', page)
    nxt = re.search(r'data-next-url="/images/([0-9a-f-]{36})/', page)
    return (prev.group(1) if prev else None), (nxt.group(1) if nxt else None)


def test_previous_and_next_follow_the_grid_order(owner, owner_client):
    older, middle, newer = (make_image(owner, prompt=f"owl {i}") for i in range(3))
    assert _neighbours(owner_client, middle, scope="mine") == (
        str(newer.public_id),
        str(older.public_id),
    )
    assert _neighbours(owner_client, newer, scope="mine") == (None, str(middle.public_id))
    assert _neighbours(owner_client, middle, scope="mine", sort="oldest") == (
        str(older.public_id),
        str(newer.public_id),
    )


def test_previous_and_next_stay_inside_a_search_or_collection(owner, owner_client):
    owl_a, fox, owl_b = (make_image(owner, prompt=p) for p in ("owl", "fox", "owl"))
    assert _neighbours(owner_client, owl_a, scope="mine", q="owl") == (str(owl_b.public_id), None)
    collection = services.collection_create(user=owner, name="Set")
    services.collection_add_images(
        user=owner, collection=collection, image_ids=[owl_a.public_id, fox.public_id]
    )
    around = _neighbours(
        owner_client, fox, scope="collection", collection=str(collection.public_id)
    )
    assert str(owl_b.public_id) not in around and str(owl_a.public_id) in around


def test_neighbours_never_reveal_images_the_viewer_cannot_see(owner, outsider, outsider_client):
    private = make_image(owner)
    public = make_image(owner, visibility="public")
    make_image(owner)
    prev, nxt = _neighbours(outsider_client, public, scope="public")
    assert str(private.public_id) not in (prev, nxt)


def test_grid_tiles_carry_their_aspect_ratio_and_the_query(owner, owner_client):
    image = make_image(owner, size="portrait_16_9", prompt="tall one")
    page = owner_client.get(reverse("gallery"), {"scope": "mine", "q": "tall"}).content.decode()
    assert re.search(rf'<li class="tile ar-55[^"]*" data-id="{image.public_id}"', page)
    assert f"/images/{image.public_id}/?scope=mine&amp;q=tall" in page
    assert f"seed {image.seed} · 576×1024" in page


def test_the_image_page_shows_which_collections_hold_it(owner, owner_client):
    image = make_image(owner)
    holding = services.collection_create(user=owner, name="Holding")
    services.collection_create(user=owner, name="Empty")
    services.collection_add_images(user=owner, collection=holding, image_ids=[image.public_id])
    page = owner_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert re.search(r"✓ In <a [^>]*>Holding</a>", page)
    assert re.search(r"<span>Empty</span>\s*<button[^>]*>Add", page)


def test_feed_actions_answer_json(owner, owner_client, django_capture_on_commit_callbacks):
    image = make_image(owner)
    json = {"HTTP_ACCEPT": "application/json"}
    with django_capture_on_commit_callbacks(execute=True):
        reseed = owner_client.post(
            reverse("image-reseed", args=[image.public_id]), {"mode": "reseed"}, **json
        )
    assert reseed.status_code == 201 and reseed.json()["job_id"]
    use = owner_client.post(reverse("image-use-settings", args=[image.public_id]), **json)
    assert use.json()["initial"]["seed"] == image.seed
    assert owner_client.post(reverse("image-favorite", args=[image.public_id]), **json).json() == {
        "favorite": True
    }
    # Delete moves the image to the trash; the answer carries the same Undo the page offers.
    deleted = owner_client.post(reverse("image-delete", args=[image.public_id]), **json).json()
    assert deleted["deleted"] is True
    assert deleted["undo"] == {
        "url": reverse("trash-restore"),
        "kind": "images",
        "ids": [str(image.public_id)],
    }
    image.refresh_from_db()
    assert image.deleted_at is not None
    undo = deleted["undo"]
    restored = owner_client.post(undo["url"], {"kind": undo["kind"], "ids": undo["ids"]}, **json)
    assert restored.json()["restored"] == 1
    image.refresh_from_db()
    assert image.deleted_at is None


def test_a_reseed_from_the_feed_returns_to_the_feed(owner, owner_client):
    image = make_image(owner)
    response = owner_client.post(
        reverse("image-reseed", args=[image.public_id]), {"mode": "reseed", "next": "/"}
    )
    assert response["Location"] == "/"
