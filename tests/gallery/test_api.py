"""The gallery's /v1 endpoints: the same rules as the pages, for API keys and sessions."""

import pytest
from django.urls import reverse

from accounts.keys import api_key_create
from gallery import services
from gallery.models import Collection, Favorite, ShareLink
from generation.models import Image, Job
from tests.factories import make_image_row, make_job

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner_key(owner):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key_create(user=owner)[1]}"}


@pytest.fixture
def teammate_key(teammate):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key_create(user=teammate)[1]}"}


@pytest.fixture
def outsider_key(outsider):
    return {"HTTP_AUTHORIZATION": f"Bearer {api_key_create(user=outsider)[1]}"}


def _post(client, url, data=None, **headers):
    return client.post(url, data or {}, content_type="application/json", **headers)


def test_list_with_scope_search_and_cursor(owner, teammate, client, owner_key, image_of):
    images = [image_of(owner, prompt=f"harbour number {n}") for n in range(3)]
    image_of(owner, prompt="a mountain")
    team = image_of(teammate, "team", prompt="harbour of the team")
    first = client.get("/v1/images", {"q": "harbour", "limit": 2}, **owner_key).json()
    assert [i["id"] for i in first["data"]] == [str(images[2].public_id), str(images[1].public_id)]
    assert first["data"][0]["prompt"] == "harbour number 2"
    # Signed URLs: a client without a session can fetch the file.
    from django.test import Client

    file = Client().get(first["data"][0]["url"])
    assert file.status_code == 200 and file["Content-Type"] == "image/png"
    second = client.get(
        "/v1/images", {"q": "harbour", "limit": 2, "cursor": first["next_cursor"]}, **owner_key
    ).json()
    assert [i["id"] for i in second["data"]] == [str(images[0].public_id)]
    assert second["next_cursor"] is None
    team_scope = client.get("/v1/images", {"scope": "team"}, **owner_key).json()
    assert [i["id"] for i in team_scope["data"]] == [str(team.public_id)]


def test_list_rejects_bad_filters(client, owner_key):
    assert client.get("/v1/images", {"aspect": "round"}, **owner_key).status_code == 400
    bad_size = client.get("/v1/images", {"size": "big"}, **owner_key)
    assert bad_size.status_code == 400
    assert bad_size.json()["error"]["param"] == "size"
    assert bad_size.json()["error"]["code"] == "invalid_parameter"
    # An end before the start is an empty range, not an error (the schema cannot say it).
    reversed_dates = {"from": "2025-02-01", "to": "2025-01-01"}
    assert client.get("/v1/images", reversed_dates, **owner_key).json()["data"] == []
    for bad in ({"to": "0"}, {"from": "1700000000"}, {"to": "2025-1-1"}):
        assert client.get("/v1/images", bad, **owner_key).status_code == 400, bad
    missing = client.get(
        "/v1/images", {"collection": "00000000-0000-0000-0000-000000000000"}, **owner_key
    )
    assert missing.status_code == 404


def test_list_needs_authentication(client):
    assert client.get("/v1/images").status_code == 401


def test_detail_has_params_and_lineage(owner, client, owner_key):
    image = make_image_row(owner, seed=5, prompt="a lantern")
    body = client.get(f"/v1/images/{image.public_id}", **owner_key).json()
    assert body["params"]["prompt"] == "a lantern" and body["params"]["seed"] == 5
    assert body["reseeded_from"] is None and body["reseeds"] == []
    assert body["favorite"] is False


def test_delete_is_owner_only(owner, client, owner_key, teammate_key, outsider_key, image_of):
    image = image_of(owner, "team")
    url = f"/v1/images/{image.public_id}"
    assert client.delete(url, **outsider_key).status_code == 404
    assert client.delete(url, **teammate_key).status_code == 403
    assert client.delete(url, **owner_key).status_code == 204
    assert Image.objects.get(pk=image.pk).deleted_at is not None  # in the trash
    assert client.delete(url, **owner_key).status_code == 404


def test_patch_visibility_is_owner_only(owner, client, owner_key, teammate_key, image_of):
    image = image_of(owner, "team")
    url = f"/v1/images/{image.public_id}"
    data = {"visibility": "public"}
    assert (
        client.patch(url, data, content_type="application/json", **teammate_key).status_code == 403
    )
    response = client.patch(url, data, content_type="application/json", **owner_key)
    assert response.status_code == 200 and response.json()["visibility"] == "public"


@pytest.mark.parametrize(("mode", "seed", "n"), [("variations", 11, 4), ("exact", 10, 1)])
def test_reseed_creates_the_right_job(
    mode, seed, n, owner, client, owner_key, django_capture_on_commit_callbacks
):
    image = make_job(owner, seed=10).images.get()
    with django_capture_on_commit_callbacks(execute=True):
        response = _post(
            client, f"/v1/images/{image.public_id}/reseed", {"mode": mode}, **owner_key
        )
    assert response.status_code == 202
    job = Job.objects.get(public_id=response.json()["id"])
    assert (job.seed, job.n, job.parent_image, job.source) == (seed, n, image, "api")
    assert response.json()["params"]["seed"] == seed


def test_reseed_default_and_ownership(owner, client, owner_key, outsider_key, image_of):
    image = image_of(owner, "private")
    url = f"/v1/images/{image.public_id}/reseed"
    assert _post(client, url, **outsider_key).status_code == 404
    response = _post(client, url, **owner_key)
    assert response.status_code == 202 and response.json()["params"]["n"] == 1


def test_favorite(owner, client, owner_key, outsider_key, image_of):
    image = image_of(owner, "private")
    url = f"/v1/images/{image.public_id}/favorite"
    assert _post(client, url, **outsider_key).status_code == 404
    assert _post(client, url, **owner_key).json() == {"id": str(image.public_id), "favorite": True}
    assert Favorite.objects.filter(user=owner, image=image).exists()
    assert _post(client, url, {"favorite": False}, **owner_key).json()["favorite"] is False
    assert not Favorite.objects.exists()
    _post(client, url, **owner_key)
    listed = client.get("/v1/images", {"scope": "favorites"}, **owner_key).json()["data"]
    assert [i["id"] for i in listed] == [str(image.public_id)] and listed[0]["favorite"]


def test_share_and_revoke(owner, client, owner_key, teammate_key, anonymous_client, image_of):
    image = image_of(owner, "private")
    url = f"/v1/images/{image.public_id}/share"
    response = _post(client, url, {"expires_in": 3600}, **owner_key)
    assert response.status_code == 201
    share = response.json()
    assert share["expires_at"] and share["view_count"] == 0 and len(share["token"]) >= 43
    assert anonymous_client.get(share["url"]).status_code == 200
    assert _post(client, url, {"expires_in": 5}, **owner_key).status_code in (400, 422)
    assert client.delete(f"/v1/shares/{share['id']}", **teammate_key).status_code == 404
    assert client.delete(f"/v1/shares/{share['id']}", **owner_key).status_code == 204
    assert anonymous_client.get(share["url"]).status_code == 410  # revoked, and says so
    assert ShareLink.objects.get().revoked_at is not None


def test_collections_list_and_create(
    owner, teammate, client, owner_key, teammate_key, outsider_key, image_of
):
    mine, hidden = image_of(owner), image_of(teammate, "private")
    response = _post(
        client,
        "/v1/collections",
        {
            "name": "Best",
            "visibility": "team",
            "image_ids": [str(mine.public_id), str(hidden.public_id)],
        },
        **owner_key,
    )
    assert response.status_code == 201
    created = response.json()
    assert created["name"] == "Best" and created["image_count"] == 1
    collection = Collection.objects.get()
    assert list(collection.items.values_list("image_id", flat=True)) == [mine.pk]
    for key, count in [(owner_key, 1), (teammate_key, 1), (outsider_key, 0)]:
        listed = client.get("/v1/collections", **key).json()
        assert len(listed) == count
    listed = client.get("/v1/collections", **owner_key).json()[0]
    assert listed["cover_image_id"] == str(mine.public_id) and listed["image_count"] == 1
    assert _post(client, "/v1/collections", {"name": ""}, **owner_key).status_code in (400, 422)
    in_collection = client.get("/v1/images", {"collection": created["id"]}, **teammate_key).json()[
        "data"
    ]
    assert in_collection == []  # the teammate may see the collection, not the private image


def test_session_auth_needs_csrf_for_writes(owner, image_of):
    from django.test import Client

    image = image_of(owner)
    client = Client(enforce_csrf_checks=True)
    client.force_login(owner)
    assert client.get("/v1/images").status_code == 200
    response = _post(client, f"/v1/images/{image.public_id}/favorite")
    assert response.status_code in (401, 403)
    assert not Favorite.objects.exists()


def test_openapi_documents_the_gallery(client):
    schema = client.get("/v1/openapi.json").json()
    for path in (
        "/v1/images",
        "/v1/images/{image_id}",
        "/v1/images/{image_id}/reseed",
        "/v1/images/{image_id}/favorite",
        "/v1/images/{image_id}/share",
        "/v1/collections",
        "/v1/shares/{share_id}",
    ):
        assert path in schema["paths"], path


def test_share_created_in_api_appears_for_the_owner(
    owner, owner_client, client, owner_key, image_of
):
    image = image_of(owner)
    token = _post(client, f"/v1/images/{image.public_id}/share", **owner_key).json()["token"]
    page = owner_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert token in page
    services.share_revoke(user=owner, share=ShareLink.objects.get())
    page = owner_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert token not in page


def test_reseed_over_quota_is_a_429_with_retry_after(owner, client, owner_key, image_of, settings):
    image = image_of(owner)
    settings.QUOTA_IMAGES_PER_DAY = 1
    response = _post(client, f"/v1/images/{image.public_id}/reseed", **owner_key)
    assert response.status_code == 429 and int(response["Retry-After"]) >= 1
    assert response.json()["error"]["code"] == "quota_exceeded"
    assert not Job.objects.filter(parent_image=image).exists()
