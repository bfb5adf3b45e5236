"""Signed, expiring image URLs that work without a session (API clients, webhooks, the CLI)."""

import functools

from django.conf import settings
from django.core import signing
from django.urls import get_script_prefix, reverse

from generation.models import Image

_SALT = "generation.signed-image-url"
_FIELDS = {"file": "f", "thumbnail": "t"}
_FIELD_NAMES = {short: name for name, short in _FIELDS.items()}


class InvalidImageToken(Exception):
    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def image_signed_path(image: Image, field: str = "file") -> str:
    # "s": signed while the image was showable, so it stops while the image is held (flagged
    # or reported: a teammate's URL must not outlive the hiding). "h": signed for its owner
    # (or staff) while held; it keeps working until the image is rejected.
    held = "s" if image.is_showable else "h"
    token = signing.dumps([image.public_id.hex, _FIELDS[field], held], salt=_SALT)
    return _path_template(get_script_prefix()).replace(_PLACEHOLDER, token, 1)


_PLACEHOLDER = "TOKEN"


@functools.lru_cache(maxsize=16)
def _path_template(script_prefix: str) -> str:
    # A list page signs two URLs per image: reverse() once, not 2×48 times (it costs ~50 µs
    # a call; bench/gallery.py). Tokens are URL-safe base64 and ":" which reverse() would not
    # quote either, so substituting gives the same path.
    return reverse("api:signed-image-file", kwargs={"token": _PLACEHOLDER})


def absolute(path: str, request=None) -> str:
    return request.build_absolute_uri(path) if request is not None else settings.SITE_URL + path


def image_signed_urls(image: Image, request=None) -> dict:
    """{"url", "thumbnail_url"}: absolute, valid for API_IMAGE_URL_MAX_AGE seconds."""
    return {
        "url": absolute(image_signed_path(image, "file"), request),
        "thumbnail_url": absolute(image_signed_path(image, "thumbnail"), request),
    }


def image_for_token(token: str) -> tuple[Image, str]:
    """The image and field ("file" | "thumbnail") a token grants, or InvalidImageToken.

    A token stops working when it expires, at once when the image is rejected by a moderator
    or deleted (trashed too), and while the image is held for review if it was signed before that.
    """
    try:
        public_hex, short, *rest = signing.loads(
            token, salt=_SALT, max_age=settings.API_IMAGE_URL_MAX_AGE
        )
    except signing.SignatureExpired:
        raise InvalidImageToken("This image link has expired.", expired=True) from None
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidImageToken("No such image link.") from None
    if short not in _FIELD_NAMES:
        raise InvalidImageToken("No such image link.")
    image = (
        Image.objects.filter(public_id=public_hex, deleted_at__isnull=True)
        .exclude(moderation_state=Image.Moderation.REJECTED)
        .first()
    )
    if image is None or (rest[:1] == ["s"] and not image.is_showable):
        raise InvalidImageToken("No such image.")
    return image, _FIELD_NAMES[short]
