"""The grid: scopes, filters, sort, keyset pages, infinite-scroll fragments, query counts."""

import datetime as dt

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from gallery import services
from generation.models import Image, Job
from tests.factories import make_job_row
from tests.gallery.helpers import grid, ids, next_link, tile_ids

pytestmark = pytest.mark.django_db


def _images(user, count: int, visibility: str = "private", **params) -> list[Image]:
    """`count` images, newest first (jobs of up to four), written as rows."""
    images = []
    while len(images) < count:
        n = min(4, count - len(images))
        job = make_job_row(user, visibility=visibility, n=n, **params)
        images += list(job.images.order_by("index"))
    return sorted(images, key=lambda i: (i.created_at, i.pk), reverse=True)


def test_anonymous_gets_the_public_gallery_and_a_login_for_the_rest(
    owner, anonymous_client, image_of
):
    public, private = image_of(owner, "public"), image_of(owner, "private")
    assert grid(anonymous_client) == ids(public)
    assert str(private.public_id) not in grid(anonymous_client, scope="public")
    response = anonymous_client.get(reverse("gallery"), {"scope": "mine"})
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]


def test_scopes(owner, teammate, outsider, owner_client, image_of):
    mine = image_of(owner, "private")
    team = image_of(teammate, "team")
    team_public = image_of(teammate, "public")
    teammate_private = image_of(teammate, "private")
    stranger_public = image_of(outsider, "public")
    image_of(outsider, "team")
    assert grid(owner_client) == ids(mine)  # "mine" is the default
    assert grid(owner_client, scope="team") == ids(team_public, team)
    assert str(teammate_private.public_id) not in grid(owner_client, scope="team")
    assert grid(owner_client, scope="public") == ids(stranger_public, team_public)


def test_favorites_scope_lists_in_the_order_stars_were_given(owner, owner_client, image_of):
    first, second, third = image_of(owner), image_of(owner), image_of(owner, "public")
    for image in (second, first, third):
        owner_client.post(reverse("image-favorite", args=[image.public_id]))
    assert grid(owner_client, scope="favorites") == ids(third, first, second)
    assert grid(owner_client, scope="favorites", sort="oldest") == ids(second, first, third)
    # Unstar.
    owner_client.post(reverse("image-favorite", args=[first.public_id]))
    assert grid(owner_client, scope="favorites") == ids(third, second)


def test_sort_and_keyset_pages_cover_everything_once(owner, owner_client, settings):
    settings.GALLERY_PAGE_SIZE = 3
    images = _images(owner, 8)
    first = owner_client.get(reverse("gallery"))
    assert len(tile_ids(first)) == 3 and next_link(first)
    assert grid(owner_client) == ids(*images)
    assert grid(owner_client, sort="oldest") == ids(*reversed(images))


def test_a_new_image_does_not_shift_the_next_page(owner, owner_client, settings):
    settings.GALLERY_PAGE_SIZE = 2
    images = _images(owner, 4)
    first = owner_client.get(reverse("gallery"))
    _images(owner, 1)  # arrives while the user scrolls
    second = owner_client.get(next_link(first))
    assert tile_ids(first) + tile_ids(second) == ids(*images)


def test_load_more_fragment_holds_only_tiles_and_the_next_link(owner, owner_client, settings):
    settings.GALLERY_PAGE_SIZE = 2
    _images(owner, 3)
    first = owner_client.get(reverse("gallery"))
    fragment = owner_client.get(next_link(first) + "&partial=1")
    body = fragment.content.decode()
    assert "<html" not in body and body.count("data-id=") == 1
    assert 'id="load-more-wrap"' in body and "That is everything" in body


def test_bad_cursor_is_reported_not_a_crash(owner, owner_client, image_of):
    image_of(owner)
    response = owner_client.get(reverse("gallery"), {"cursor": "garbage!"})
    assert response.status_code == 200 and b"This cursor is not valid" in response.content
    assert owner_client.get("/v1/images", {"cursor": "garbage!"}).status_code == 400


def test_filters_aspect_size_date_backend_model(owner, owner_client):
    square = make_job_row(owner, size="square").images.get()
    landscape = make_job_row(owner, size="landscape_4_3").images.get()
    portrait = make_job_row(owner, size="portrait_4_3").images.get()
    assert grid(owner_client, aspect="square") == ids(square)
    assert grid(owner_client, aspect="landscape") == ids(landscape)
    assert grid(owner_client, aspect="portrait") == ids(portrait)
    assert grid(owner_client, size="1024x768") == ids(landscape)

    old = dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC)
    Image.objects.filter(pk=square.pk).update(created_at=old)
    assert grid(owner_client, **{"from": "2024-05-01", "to": "2024-05-01"}) == ids(square)
    assert grid(owner_client, to="2024-05-02") == ids(square)
    assert str(square.public_id) not in grid(owner_client, **{"from": "2024-05-02"})

    Job.objects.filter(pk=portrait.job_id).update(backend="remote", model="qwen-image-edit")
    assert grid(owner_client, backend="remote") == ids(portrait)
    assert grid(owner_client, model="qwen-image-edit") == ids(portrait)
    assert str(portrait.public_id) not in grid(owner_client, backend="demo")


def test_invalid_filter_shows_a_message(owner, owner_client, image_of):
    image_of(owner)
    response = owner_client.get(reverse("gallery"), {"aspect": "round"})
    assert response.status_code == 200 and b"Aspect must be one of" in response.content


def test_flagged_filter_is_for_staff(owner, staff_client, owner_client, outsider_client, image_of):
    clear, flagged = image_of(owner, "public"), image_of(owner, "public")
    Image.objects.filter(pk=flagged.pk).update(moderation_state="flagged")
    assert grid(staff_client, scope="public", flagged="1") == ids(flagged)
    assert grid(staff_client, scope="public") == ids(flagged, clear)
    # Others get no such filter: the owner sees their own, an outsider only what is clear.
    assert grid(owner_client, flagged="1") == ids(flagged, clear)
    assert grid(outsider_client, scope="public", flagged="1") == ids(clear)


def test_rejected_images_leave_the_owners_grid(owner, owner_client, image_of):
    kept, rejected = image_of(owner), image_of(owner)
    Image.objects.filter(pk=rejected.pk).update(moderation_state="rejected")
    assert grid(owner_client) == ids(kept)


# --- Query counts: a list page costs the same whatever its size -----------------------------


def _queries(client, url, params) -> int:
    with CaptureQueriesContext(connection) as captured:
        response = client.get(url, params)
    assert response.status_code == 200
    return len(captured)


@pytest.mark.parametrize("scope", ["mine", "team", "public", "favorites", "collection"])
def test_grid_query_count_does_not_grow_with_page_size(
    scope, owner, teammate, owner_client, settings
):
    images = _images(owner, 6, visibility="public") + _images(teammate, 6, visibility="team")
    collection = services.collection_create(user=owner, name="All")
    services.collection_add_images(
        user=owner, collection=collection, image_ids=[i.public_id for i in images]
    )
    for image in images:
        services.favorite_set(user=owner, image=image)
    # Some images have a parent, so lineage data is on the page too.
    Job.objects.filter(pk__in=[i.job_id for i in images[:3]]).update(parent_image=images[-1])
    params = {"scope": scope}
    url = reverse("gallery")
    if scope == "collection":
        url, params = reverse("collection-detail", args=[collection.public_id]), {}
    settings.GALLERY_PAGE_SIZE = 2
    small = _queries(owner_client, url, params)
    settings.GALLERY_PAGE_SIZE = 10
    large = _queries(owner_client, url, params)
    assert small == large
    assert large <= 11  # + the current team that "Team" visibility names (owner's pages)


def test_api_list_query_count_does_not_grow_with_limit(owner, owner_client):
    images = _images(owner, 10)
    Job.objects.filter(pk__in=[i.job_id for i in images[:5]]).update(parent_image=images[-1])
    small = _queries(owner_client, "/v1/images", {"limit": 2})
    large = _queries(owner_client, "/v1/images", {"limit": 10})
    assert small == large


def test_shared_collection_page_query_count_does_not_grow(owner, anonymous_client, settings):
    images = _images(owner, 8)
    collection = services.collection_create(user=owner, name="Shared")
    services.collection_add_images(
        user=owner, collection=collection, image_ids=[i.public_id for i in images]
    )
    share = services.share_create(user=owner, collection=collection)
    url = reverse("share", args=[share.token])
    settings.GALLERY_PAGE_SIZE = 2
    small = _queries(anonymous_client, url, {})
    settings.GALLERY_PAGE_SIZE = 8
    assert _queries(anonymous_client, url, {}) == small
