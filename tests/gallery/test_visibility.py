"""Who sees what: owner/teammate/outsider/anonymous × private/team/public, on every surface."""

import pytest
from django.urls import reverse

from gallery import services
from generation.models import Image
from tests.gallery.helpers import grid

pytestmark = pytest.mark.django_db

VIEWERS = ["owner", "teammate", "outsider", "anonymous"]
VISIBILITIES = ["private", "team", "public"]
SEES = {
    "owner": {"private", "team", "public"},
    "teammate": {"team", "public"},
    "outsider": {"public"},
    "anonymous": {"public"},
}


def _client(request, viewer):
    return request.getfixturevalue(f"{viewer}_client")


@pytest.mark.parametrize("visibility", VISIBILITIES)
@pytest.mark.parametrize("viewer", VIEWERS)
def test_visibility_matrix(request, viewer, visibility, owner, teammate, outsider, image_of):
    image = image_of(owner, visibility, prompt=f"matrix {visibility} lighthouse")
    client = _client(request, viewer)
    sees = visibility in SEES[viewer]
    status = 200 if sees else 404
    pid = image.public_id

    # Pages, files and thumbnails.
    assert client.get(reverse("image-detail", args=[pid])).status_code == status
    assert client.get(reverse("image-file", args=[pid])).status_code == status
    assert client.get(reverse("image-thumbnail", args=[pid])).status_code == status

    # The grid: every scope this viewer can open lists the image only if they may see it.
    scopes = ["public"] if viewer == "anonymous" else ["mine", "team", "public"]
    listed = {i for scope in scopes for i in grid(client, scope=scope)}
    assert (str(pid) in listed) is sees
    searched = {i for scope in scopes for i in grid(client, scope=scope, q="lighthouse")}
    assert (str(pid) in searched) is sees

    # The API: a 404 for what the viewer may not see; anonymous callers must authenticate.
    api = client.get(f"/v1/images/{pid}")
    assert api.status_code == (401 if viewer == "anonymous" else status)
    if viewer != "anonymous":
        listed_api = {
            item["id"]
            for scope in scopes
            for item in client.get("/v1/images", {"scope": scope}).json()["data"]
        }
        assert (str(pid) in listed_api) is sees

    # ZIP downloads contain only what the viewer may see.
    if viewer != "anonymous":
        response = client.post(reverse("gallery-bulk"), {"images": [pid], "action": "zip"})
        assert (response.status_code == 200) is sees

    # A share link works for everyone, whatever the image's visibility.
    share = services.share_create(user=owner, image=image)
    assert client.get(reverse("share", args=[share.token])).status_code == 200
    assert client.get(reverse("share-file", args=[share.token])).status_code == 200
    assert client.get(reverse("share-thumbnail", args=[share.token])).status_code == 200


@pytest.mark.parametrize("state", ["flagged", "reported", "rejected"])
def test_held_images_are_hidden_from_everyone_but_owner_and_staff(
    state,
    owner,
    owner_client,
    teammate_client,
    outsider_client,
    anonymous_client,
    staff_client,
    image_of,
):
    image = image_of(owner, "public")
    share = services.share_create(user=owner, image=image)  # made while the image was clear
    Image.objects.filter(pk=image.pk).update(moderation_state=state)
    pid = image.public_id
    owner_sees = state != "rejected"
    for client, sees in [
        (owner_client, owner_sees),
        (staff_client, True),
        (teammate_client, False),
        (outsider_client, False),
        (anonymous_client, False),
    ]:
        status = 200 if sees else 404
        assert client.get(reverse("image-detail", args=[pid])).status_code == status
        assert client.get(reverse("image-file", args=[pid])).status_code == status
    for client in (teammate_client, outsider_client, anonymous_client):
        assert str(pid) not in grid(client, scope="public")
    # Never through a share link, not even for its owner.
    for client in (owner_client, anonymous_client):
        assert client.get(reverse("share", args=[share.token])).status_code == 404
        assert client.get(reverse("share-file", args=[share.token])).status_code == 404
        assert client.get(reverse("share-thumbnail", args=[share.token])).status_code == 404


def test_flagged_image_cannot_get_a_new_share_link(owner, owner_client, image_of):
    image = image_of(owner, "public")
    Image.objects.filter(pk=image.pk).update(moderation_state="flagged")
    response = owner_client.post(reverse("image-share", args=[image.public_id]))
    assert response.status_code == 302
    assert not image.share_links.exists()
    api = owner_client.post(f"/v1/images/{image.public_id}/share", content_type="application/json")
    assert api.status_code == 409
