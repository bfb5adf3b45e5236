"""Small helpers for gallery tests: read tile ids from a grid page, follow pages."""

import re

from django.urls import reverse

_TILE = re.compile(r'<li class="tile[^"]*" data-id="([0-9a-f-]{36})"')
_NEXT = re.compile(r'<a class="load-more" role="button" href="([^"]+)"')


def tile_ids(response) -> list[str]:
    assert response.status_code == 200, response.status_code
    return _TILE.findall(response.content.decode())


def next_link(response) -> str | None:
    match = _NEXT.search(response.content.decode())
    return match.group(1).replace("&amp;", "&") if match else None


def grid(client, **params) -> list[str]:
    """Every image id the grid lists for these parameters, following "Load more"."""
    response = client.get(reverse("gallery"), params)
    ids = tile_ids(response)
    while url := next_link(response):
        response = client.get(url)
        ids += tile_ids(response)
    return ids


def ids(*images) -> list[str]:
    return [str(image.public_id) for image in images]
