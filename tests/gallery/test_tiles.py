"""The tile's fast template filters give exactly what `{% url %}` and `truncatechars` give."""

import uuid

import pytest
from django.template import engines
from django.template.defaultfilters import truncatechars
from django.urls import reverse, set_script_prefix

from gallery.templatetags.gallery_tiles import caption, image_path
from generation.models import Image

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("name", ["image-detail", "image-thumbnail", "image-favorite"])
def test_image_path_is_the_reversed_url(name):
    image = Image(public_id=uuid.uuid4())
    assert image_path(image, name) == reverse(name, args=[image.public_id])


def test_image_path_follows_the_script_prefix():
    image = Image(public_id=uuid.uuid4())
    set_script_prefix("/studio/")
    try:
        assert image_path(image, "image-detail") == reverse("image-detail", args=[image.public_id])
        assert image_path(image, "image-detail").startswith("/studio/")
    finally:
        set_script_prefix("/")


@pytest.mark.parametrize(
    "text",
    [
        "",
        "a fox",
        "x" * 60,
        "x" * 61,
        "a lighthouse on a cliff at dusk, long exposure, " * 40,
        "cafe\u0301 au lait " * 8,  # decomposed accents: NFC makes them one character
        "e\u0301" * 70,
        "🦊 fox in snow " * 10,
        "<b>not html</b> & friends",
    ],
)
@pytest.mark.parametrize("length", [0, 1, 60, 120, "bad"])
def test_caption_is_truncatechars(text, length):
    assert caption(text, length) == truncatechars(text, length)


def test_tile_output_escapes_like_before(owner, image_of):
    image = image_of(owner, prompt='a "quoted" <prompt> & more')
    template = engines["django"].from_string(
        "{% load gallery_tiles %}{{ image|image_path:'image-detail' }}|{{ prompt|caption:60 }}"
    )
    rendered = template.render({"image": image, "prompt": image.job.prompt})
    assert rendered == (
        f"{reverse('image-detail', args=[image.public_id])}|"
        "a &quot;quoted&quot; &lt;prompt&gt; &amp; more"
    )
