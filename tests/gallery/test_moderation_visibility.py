"""A flagged image is hidden from everyone but its owner (blurred) and staff, on every surface;
approving shows it again; rejecting stops every link to it."""

import re

import pytest
from django.urls import reverse

from accounts.models import Profile
from gallery import services
from generation.models import Image
from generation.moderation import image_moderate
from generation.signed_urls import image_signed_urls
from tests.apiclient import bearer
from tests.factories import make_image
from tests.gallery.helpers import grid

pytestmark = pytest.mark.django_db

Moderation = Image.Moderation


@pytest.fixture
def flagged(owner, settings):
    settings.SAFETY_NSFW_THRESHOLD = 0.0  # the real classifier flags whatever it scores
    image = make_image(owner, visibility="public", prompt="flagged lighthouse")  # the pipeline
    settings.SAFETY_NSFW_THRESHOLD = 0.7
    assert image.moderation_state == Moderation.FLAGGED
    return image


def _surfaces(client, image: Image, *, api_headers=None) -> dict[str, bool]:
    """Where the viewer can see the image: pages, files, grids, API."""
    pid = image.public_id
    seen = {
        "detail": client.get(reverse("image-detail", args=[pid])).status_code == 200,
        "file": client.get(reverse("image-file", args=[pid])).status_code == 200,
        "thumbnail": client.get(reverse("image-thumbnail", args=[pid])).status_code == 200,
        "public grid": str(pid) in grid(client, scope="public"),
    }
    if api_headers is not None:
        seen["api detail"] = client.get(f"/v1/images/{pid}", **api_headers).status_code == 200
        listed = client.get("/v1/images", {"scope": "public"}, **api_headers).json()["data"]
        seen["api list"] = str(pid) in {item["id"] for item in listed}
    return seen


def test_flagged_image_is_hidden_from_teammate_public_api_and_share_link(
    flagged, owner, teammate, teammate_client, outsider_client, anonymous_client
):
    Image.objects.filter(pk=flagged.pk).update(visibility="public")
    for client, headers in (
        (teammate_client, bearer(teammate)),
        (outsider_client, {}),
        (anonymous_client, None),
    ):
        assert not any(_surfaces(client, flagged, api_headers=headers).values())
    # The team scope too.
    assert str(flagged.public_id) not in grid(teammate_client, scope="team")
    # ZIP: nothing the teammate may see.
    response = teammate_client.post(
        reverse("gallery-bulk"), {"images": [flagged.public_id], "action": "zip"}
    )
    assert response.status_code == 302
    # No share link can be made for it, and a link made for a collection leaves it out.
    with pytest.raises(services.ShareRefused):
        services.share_create(user=owner, image=flagged)
    collection = services.collection_create(user=owner, name="Mixed", visibility="public")
    services.collection_add_images(user=owner, collection=collection, image_ids=[flagged.public_id])
    share = services.share_create(user=owner, collection=collection)
    page = anonymous_client.get(reverse("share", args=[share.token])).content.decode()
    assert str(flagged.public_id) not in page
    file_url = reverse("share-image-file", args=[share.token, flagged.public_id])
    assert anonymous_client.get(file_url).status_code == 404


def test_owner_sees_their_flagged_image_blurred_with_a_badge(flagged, owner_client):
    assert all(_surfaces(owner_client, flagged).values())  # the owner sees it everywhere
    detail = owner_client.get(reverse("image-detail", args=[flagged.public_id]))
    assert detail.status_code == 200
    page = detail.content.decode()
    assert re.search(r'class="detail-figure[^"]* held sensitive"', page)
    assert "Held for review" in page and "data-reveal" in page and "Flagged · Show" in page
    assert owner_client.get(reverse("image-file", args=[flagged.public_id])).status_code == 200
    mine = owner_client.get(reverse("gallery"), {"scope": "mine"}).content.decode()
    assert re.search(rf'<li class="tile[^"]* held sensitive" data-id="{flagged.public_id}"', mine)
    assert "held-badge" in mine
    # The Create feed and the job page blur it too.
    recent = owner_client.get(reverse("generate")).content.decode()
    assert 'class="feed-tile held sensitive"' in recent
    job = owner_client.get(reverse("job-detail", args=[flagged.job.public_id])).content.decode()
    assert 'class="feed-tile held sensitive"' in job and 'data-blur-held="1"' in job


def test_show_sensitive_preference_turns_the_blur_off(flagged, owner, owner_client):
    Profile.objects.filter(user=owner).update(show_sensitive=True)
    page = owner_client.get(reverse("image-detail", args=[flagged.public_id])).content.decode()
    assert re.search(r'class="detail-figure[^"]* held"', page)  # held, badge shown, no blur
    mine = owner_client.get(reverse("gallery"), {"scope": "mine"}).content.decode()
    assert re.search(rf'<li class="tile[^"]* held" data-id="{flagged.public_id}"', mine)
    job = owner_client.get(reverse("job-detail", args=[flagged.job.public_id])).content.decode()
    images = job.split('id="job-images"')[1].split("</ul>")[0]
    assert 'data-blur-held="0"' in images and 'class="feed-tile held"' in images


def test_the_profile_form_controls_the_preference(flagged, owner, owner_client):
    response = owner_client.post(reverse("preferences-update"), {"show_sensitive": "on"})
    assert response.status_code == 302
    mine = owner_client.get(reverse("gallery"), {"scope": "mine"}).content.decode()
    assert re.search(rf'<li class="tile[^"]* held" data-id="{flagged.public_id}"', mine)


def test_staff_see_flagged_images(flagged, staff_client, staff):
    assert staff_client.get(reverse("image-detail", args=[flagged.public_id])).status_code == 200
    assert str(flagged.public_id) in grid(staff_client, scope="public")


def test_approve_makes_it_visible(
    flagged, owner, staff, teammate, teammate_client, anonymous_client
):
    image_moderate(image=flagged, actor=staff, to_state=Moderation.APPROVED, note="a statue")
    assert all(_surfaces(teammate_client, flagged, api_headers=bearer(teammate)).values())
    assert all(_surfaces(anonymous_client, flagged).values())
    share = services.share_create(user=owner, image=flagged)
    assert anonymous_client.get(reverse("share", args=[share.token])).status_code == 200
    assert anonymous_client.get(reverse("share-file", args=[share.token])).status_code == 200


def test_reject_stops_its_links(owner, staff, image_of, owner_client, anonymous_client, client):
    image = image_of(owner, "public")
    share = services.share_create(user=owner, image=image)
    signed = image_signed_urls(image)["url"]
    assert client.get(signed).status_code == 200
    image_moderate(image=image, actor=staff, to_state=Moderation.REJECTED, note="not allowed")
    for url in (
        reverse("share", args=[share.token]),
        reverse("share-file", args=[share.token]),
        reverse("share-thumbnail", args=[share.token]),
        reverse("share-embed", args=[share.token]),
        signed,
    ):
        assert anonymous_client.get(url).status_code == 404, url
    # The owner no longer sees it; staff still do.
    assert owner_client.get(reverse("image-detail", args=[image.public_id])).status_code == 404
    assert str(image.public_id) not in grid(owner_client, scope="mine")
    # The owner's job page says what happened instead of showing a broken image.
    job = owner_client.get(reverse("job-detail", args=[image.job.public_id])).content.decode()
    assert "Removed by a moderator" in job


def test_a_signed_url_handed_out_before_hiding_stops_while_hidden(
    owner, staff, teammate, image_of, client
):
    image = image_of(owner, "team")
    listed = client.get("/v1/images", {"scope": "team"}, **bearer(teammate)).json()["data"]
    url = next(item["url"] for item in listed if item["id"] == str(image.public_id))
    assert client.get(url).status_code == 200
    Image.objects.filter(pk=image.pk).update(moderation_state=Moderation.REPORTED)
    assert client.get(url).status_code == 404
    image.refresh_from_db()
    image_moderate(image=image, actor=staff, to_state=Moderation.APPROVED)
    assert client.get(url).status_code == 200
    # The owner's own URL for a held image keeps working for them.
    Image.objects.filter(pk=image.pk).update(moderation_state=Moderation.FLAGGED)
    own = client.get(f"/v1/images/{image.public_id}", **bearer(owner)).json()["url"]
    assert client.get(own).status_code == 200


def test_a_collection_cover_is_never_a_held_image(owner, owner_client, image_of):
    shown, held = image_of(owner), image_of(owner)
    collection = services.collection_create(user=owner, name="Covers")
    services.collection_add_images(
        user=owner, collection=collection, image_ids=[shown.public_id, held.public_id]
    )
    Image.objects.filter(pk=held.pk).update(moderation_state=Moderation.FLAGGED)
    page = owner_client.get(reverse("collections")).content.decode()
    assert reverse("image-thumbnail", args=[shown.public_id]) in page
    assert reverse("image-thumbnail", args=[held.public_id]) not in page
