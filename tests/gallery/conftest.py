"""Gallery fixtures: images of the fixed cast at each visibility, a quick image maker."""

import pytest

from tests.factories import make_image


@pytest.fixture
def image_of(db):
    """image_of(user, visibility="private", prompt=..., **params) → a finished Image."""

    def make(user, visibility: str = "private", **params):
        return make_image(user, visibility=visibility, **params)

    return make
