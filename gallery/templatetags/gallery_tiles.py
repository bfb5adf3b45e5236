"""Template filters for the gallery's tiles: what a grid page would otherwise spend most of
its time on, 48 times over (bench/gallery.py measures the page).

`{{ image|image_path:"image-detail" }}` is `{% url "image-detail" image.public_id %}`: the URL
pattern is resolved once per name, not once per tile (a `{% url %}` costs ~27 µs; three per
tile were a third of a page's rendering). `{{ text|caption:60 }}` is `truncatechars`, with
the same result, but skips Django's character-by-character walk when the text already fits.
"""

import functools
import unicodedata
import uuid

from django import template
from django.template.defaultfilters import stringfilter, truncatechars
from django.urls import get_script_prefix, reverse

register = template.Library()

# Stands in for the image's id while the pattern is reversed; str(uuid) is what the <uuid:>
# converter puts in the path, so substituting the real id gives reverse()'s own result.
_PLACEHOLDER = str(uuid.UUID(int=0))


@functools.lru_cache(maxsize=64)
def _around_id(name: str, script_prefix: str) -> tuple[str, str]:
    """The path of URL `name` before and after its public id."""
    head, tail = reverse(name, kwargs={"public_id": _PLACEHOLDER}).split(_PLACEHOLDER, 1)
    return head, tail


@register.filter
def image_path(image, name: str) -> str:
    """The path of URL `name` (one that takes only `public_id`) for this image."""
    head, tail = _around_id(name, get_script_prefix())
    return f"{head}{image.public_id}{tail}"


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
