"""Gallery fixtures: images of the fixed cast at each visibility, a quick image maker."""

import pytest

from tests.factories import make_image_row


@pytest.fixture
def image_of(db):
    """image_of(user, visibility="private", prompt=..., **params) → a finished Image.

    Written as rows (make_image_row): the gallery only reads images. Where the pipeline's
    output matters (the drawn pixels, a safety verdict), a test calls make_job itself.
    """

    def make(user, visibility: str = "private", **params):
        return make_image_row(user, visibility=visibility, **params)

    return make
