"""Share links: unguessable, expiring, revocable, counted, and never wider than intended."""

import datetime as dt
import re

import pytest
import time_machine
from django.urls import reverse
from django.utils import timezone

from gallery import services
from gallery.models import ShareLink
from generation.models import Image

pytestmark = pytest.mark.django_db


def _meta(response, prop: str) -> str | None:
    pattern = rf'<meta (?:property|name)="{re.escape(prop)}" content="([^"]*)"'
    match = re.search(pattern, response.content.decode())
    return match.group(1) if match else None


def test_link_token_is_long_random_and_the_page_works_anonymously(
    owner, owner_client, anonymous_client, image_of
):
    image = image_of(owner, "private", prompt="a paper boat on a canal")
    response = owner_client.post(
        reverse("image-share", args=[image.public_id]), {"expires": "86400"}
    )
    assert response.status_code == 302
    share = ShareLink.objects.get(image=image)
    # token_urlsafe(32): 43 characters of base64, 256 bits.
    assert len(share.token) >= 43 and re.fullmatch(r"[A-Za-z0-9_-]+", share.token)
    assert share.token != services.share_create(user=owner, image=image).token
    assert share.expires_at - timezone.now() > dt.timedelta(hours=23)

    page = anonymous_client.get(reverse("share", args=[share.token]))
    assert page.status_code == 200
    assert b"a paper boat on a canal" in page.content
    file_url = f"http://testserver{reverse('share-file', args=[share.token])}"
    assert _meta(page, "og:image") == file_url
    assert _meta(page, "twitter:card") == "summary_large_image"
    assert _meta(page, "og:title") == "a paper boat on a canal"
    assert _meta(page, "og:image:width") == str(image.width)
    assert _meta(page, "robots") == "noindex"
    file = anonymous_client.get(reverse("share-file", args=[share.token]))
    assert file.status_code == 200 and file["Content-Type"] == "image/png"


def test_views_are_counted_on_the_page_not_on_files(owner, anonymous_client, image_of):
    share = services.share_create(user=owner, image=image_of(owner))
    for _ in range(3):
        anonymous_client.get(reverse("share", args=[share.token]))
    anonymous_client.get(reverse("share-file", args=[share.token]))
    share.refresh_from_db()
    assert share.view_count == 3 and share.last_viewed_at is not None


def test_expired_link_is_a_410_everywhere_saying_it_expired(owner, anonymous_client, image_of):
    share = services.share_create(
        user=owner, image=image_of(owner), expires_in=dt.timedelta(hours=1)
    )
    urls = [
        reverse(name, args=[share.token])
        for name in ("share", "share-embed", "share-file", "share-thumbnail")
    ]
    assert all(anonymous_client.get(url).status_code == 200 for url in urls)
    with time_machine.travel(timezone.now() + dt.timedelta(hours=2), tick=False):
        assert all(anonymous_client.get(url).status_code == 410 for url in urls)
        page = anonymous_client.get(urls[0]).content.decode()
    assert "This link has expired" in page
    assert "Ask the person who sent it for a new link" in page


def test_revoked_link_is_a_410_and_only_its_owner_can_revoke(
    owner, owner_client, teammate_client, anonymous_client, image_of
):
    image = image_of(owner, "team")
    share = services.share_create(user=owner, image=image)
    revoke = reverse("share-revoke", args=[share.public_id])
    assert teammate_client.post(revoke).status_code == 404
    assert teammate_client.delete(f"/v1/shares/{share.public_id}").status_code == 404
    assert anonymous_client.get(reverse("share", args=[share.token])).status_code == 200

    response = owner_client.post(revoke)
    assert response.status_code == 302
    assert response["Location"] == reverse("image-detail", args=[image.public_id])
    for name in ("share", "share-embed", "share-file", "share-thumbnail"):
        assert anonymous_client.get(reverse(name, args=[share.token])).status_code == 410
    page = anonymous_client.get(reverse("share", args=[share.token])).content.decode()
    assert "This link was revoked" in page
    assert 'class="error-page"' in page


def test_unknown_token_is_a_404(anonymous_client):
    assert anonymous_client.get(reverse("share", args=["nope" * 10])).status_code == 404


def test_only_the_owner_can_share_an_image(owner, teammate_client, image_of):
    image = image_of(owner, "team")
    response = teammate_client.post(reverse("image-share", args=[image.public_id]))
    assert response.status_code == 302 and not ShareLink.objects.exists()
    api = teammate_client.post(
        f"/v1/images/{image.public_id}/share", content_type="application/json"
    )
    assert api.status_code == 403


def test_image_link_serves_only_its_image(owner, anonymous_client, image_of):
    shared, other = image_of(owner), image_of(owner)
    share = services.share_create(user=owner, image=shared)
    for name in ("share-image-file", "share-image-thumbnail"):
        url = reverse(name, args=[share.token, other.public_id])
        assert anonymous_client.get(url).status_code == 404


def test_collection_link_shows_sharers_own_and_public_images_only(
    owner, teammate, anonymous_client, image_of
):
    mine_private = image_of(owner, "private", prompt="mine private")
    mine_flagged = image_of(owner, "public", prompt="mine flagged")
    team_image = image_of(teammate, "team", prompt="teammate team")
    public_image = image_of(teammate, "public", prompt="teammate public")
    outside = image_of(owner, "public", prompt="not in the collection")
    collection = services.collection_create(user=owner, name="Boats", visibility="private")
    services.collection_add_images(
        user=owner,
        collection=collection,
        image_ids=[i.public_id for i in (mine_private, mine_flagged, team_image, public_image)],
    )
    Image.objects.filter(pk=mine_flagged.pk).update(moderation_state="flagged")
    share = services.share_create(user=owner, collection=collection)

    page = anonymous_client.get(reverse("share", args=[share.token]))
    body = page.content.decode()
    assert page.status_code == 200 and "Boats" in body
    assert "mine private" in body and "teammate public" in body
    assert "teammate team" not in body and "mine flagged" not in body
    assert _meta(page, "og:image")

    def file_status(image):
        url = reverse("share-image-file", args=[share.token, image.public_id])
        return anonymous_client.get(url).status_code

    assert file_status(mine_private) == 200 and file_status(public_image) == 200
    assert file_status(team_image) == 404
    assert file_status(mine_flagged) == 404
    assert file_status(outside) == 404
    # A collection link has no single image.
    assert anonymous_client.get(reverse("share-file", args=[share.token])).status_code == 404


def test_embed_page_may_be_framed_but_the_share_page_may_not(owner, anonymous_client, image_of):
    share = services.share_create(user=owner, image=image_of(owner))
    embed = anonymous_client.get(reverse("share-embed", args=[share.token]))
    assert embed.status_code == 200 and "X-Frame-Options" not in embed.headers
    page = anonymous_client.get(reverse("share", args=[share.token]))
    assert page["X-Frame-Options"] == "DENY"
    assert reverse("share-embed", args=[share.token]) in page.content.decode()


def test_owner_sees_links_with_view_counts_on_the_detail_page(
    owner, owner_client, teammate_client, anonymous_client, image_of
):
    image = image_of(owner, "team")
    share = services.share_create(user=owner, image=image)
    anonymous_client.get(reverse("share", args=[share.token]))
    body = owner_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert share.token in body and "1 view" in body
    teammate_body = teammate_client.get(reverse("image-detail", args=[image.public_id]))
    assert share.token not in teammate_body.content.decode()


def test_deleting_the_image_kills_its_link(owner, anonymous_client, image_of):
    image = image_of(owner)
    share = services.share_create(user=owner, image=image)
    services.image_delete(user=owner, image=image)
    assert anonymous_client.get(reverse("share", args=[share.token])).status_code == 404
