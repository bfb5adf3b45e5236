"""Signed, expiring image URLs that work without a session (API clients, webhooks, the CLI).

A URL is signed for a holder: the user it was handed to (the API caller, the job's owner for
webhooks and the CLI). It works only while that holder may still see the image by the one
visibility rule (generation.selectors), checked on every fetch, and for at most
API_IMAGE_URL_MAX_AGE seconds. So it stops at once when the image is made private, held for
review or rejected, when the holder leaves the team it was shared with, or when the holder's
account is deactivated. A short lifetime alone would leave that window open for its length;
checking current access closes it, and the lifetime still bounds a URL that leaks.
"""

import functools

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core import signing
from django.urls import get_script_prefix, reverse

from generation.models import Image
from generation.selectors import images_visible_to

_SALT = "generation.signed-image-url"
_FIELDS = {"file": "f", "thumbnail": "t"}
_FIELD_NAMES = {short: name for name, short in _FIELDS.items()}


class InvalidImageToken(Exception):
    def __init__(self, message: str, *, expired: bool = False) -> None:
        super().__init__(message)
        self.expired = expired


def image_signed_path(image: Image, field: str = "file", *, holder=None) -> str:
    """The signed path for `holder` (by default the image's owner)."""
    holder_id = holder.pk if holder is not None else image.user_id
    token = signing.dumps([image.public_id.hex, _FIELDS[field], "u", holder_id], salt=_SALT)
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


def _holder_of(request):
    """Who a request's URLs are for: the API key's user, else the session's."""
    if request is None:
        return None
    user = getattr(request, "auth", None) or getattr(request, "user", None)
    return user if user is not None and user.is_authenticated else None


def image_signed_urls(image: Image, request=None, *, holder=None) -> dict:
    """{"url", "thumbnail_url"}: absolute, for `holder` (default: the request's user, else the
    image's owner), valid while they may see the image and for API_IMAGE_URL_MAX_AGE s."""
    holder = holder or _holder_of(request)
    return {
        "url": absolute(image_signed_path(image, "file", holder=holder), request),
        "thumbnail_url": absolute(image_signed_path(image, "thumbnail", holder=holder), request),
    }


def image_for_token(token: str) -> tuple[Image, str, object]:
    """The image, field ("file" | "thumbnail") and holder a token grants, or
    InvalidImageToken. Expired tokens, tokens of the older format (signed before holders
    existed; they lived an hour at most) and tokens whose holder no longer sees the image
    (rejected, held, trashed, made private, the holder left the team) are refused."""
    try:
        payload = signing.loads(token, salt=_SALT, max_age=settings.API_IMAGE_URL_MAX_AGE)
    except signing.SignatureExpired:
        raise InvalidImageToken("This image link has expired.", expired=True) from None
    except (signing.BadSignature, ValueError, TypeError):
        raise InvalidImageToken("No such image link.") from None
    if not isinstance(payload, list) or len(payload) != 4 or payload[2] != "u":
        raise InvalidImageToken(
            "This image link has expired; fetch the image again for a new one.", expired=True
        )
    public_hex, short, _, holder_id = payload
    if short not in _FIELD_NAMES:
        raise InvalidImageToken("No such image link.")
    holder = get_user_model().objects.filter(pk=holder_id, is_active=True).first()
    if holder is None:
        raise InvalidImageToken("No such image.")
    image = images_visible_to(holder).filter(public_id=public_hex).first()
    if image is None:
        raise InvalidImageToken("No such image.")
    return image, _FIELD_NAMES[short], holder
