"""Template filters for the gallery's tiles: what a grid page would otherwise spend most of
its time on, 48 times over (bench/gallery.py measures the page).

`{{ image|image_path:"image-detail" }}` is `{% url "image-detail" image.public_id %}`: the URL
pattern is resolved once per name, not once per tile (a `{% url %}` costs ~27 µs; three per
tile were a third of a page's rendering). `{{ text|caption:60 }}` is `truncatechars`, with
the same result, but skips Django's character-by-character walk when the text already fits.
"""

import unicodedata

from django import template
from django.template.defaultfilters import stringfilter, truncatechars

from core.urls import public_path

register = template.Library()


@register.filter
def image_path(image, name: str) -> str:
    """The path of URL `name` (one that takes only `public_id`) for this image."""
    return public_path(name, image.public_id)


@register.filter(is_safe=True)
@stringfilter
def caption(value: str, length) -> str:
    """`truncatechars`: text cut to `length` characters with an ellipsis, whole if it fits."""
    try:
        limit = int(length)
    except ValueError:
        return value
    normal = unicodedata.normalize("NFC", value)  # what truncatechars measures and returns
    if limit > 0 and len(normal) <= limit:
        return normal
    return truncatechars(value, length)
