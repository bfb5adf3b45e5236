"""Gallery filters: what a query string may ask for, parsed and checked."""

import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from django.core.exceptions import ValidationError

from gallery.models import Collection
from gallery.selectors.collections import collection_get_for_user
from generation.models import Image

SCOPES = ("mine", "team", "public", "favorites", "collection")
SIGNED_IN_SCOPES = ("mine", "team", "favorites")
ASPECTS = ("square", "landscape", "portrait")
SORTS = ("newest", "oldest")
BACKENDS = ("remote", "local", "demo")
FLAGGED_STATES = (Image.Moderation.FLAGGED, Image.Moderation.REPORTED)
_SIZE = re.compile(r"^([0-9]{2,5})[xX×]([0-9]{2,5})$")


class FilterError(ValueError):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


class SignInRequired(FilterError):
    """The scope is one only a signed-in user has (pages send the visitor to sign in)."""


@dataclass(frozen=True)
class ImageFilters:
    scope: str = "mine"
    collection: Collection | None = None
    q: str = ""
    date_from: dt.date | None = None
    date_to: dt.date | None = None
    aspect: str = ""
    width: int | None = None
    height: int | None = None
    backend: str = ""
    model: str = ""
    flagged: bool = False
    sort: str = "newest"

    @property
    def size(self) -> str:
        return f"{self.width}x{self.height}" if self.width and self.height else ""

    def query(self, **overrides) -> dict[str, str]:
        """The filters as query-string values (for links: load more, scope tabs)."""
        values = replace(self, **overrides) if overrides else self
        data = {
            "scope": values.scope,
            "collection": str(values.collection.public_id) if values.collection else "",
            "q": values.q,
            "from": values.date_from.isoformat() if values.date_from else "",
            "to": values.date_to.isoformat() if values.date_to else "",
            "aspect": values.aspect,
            "size": values.size,
            "backend": values.backend,
            "model": values.model,
            "flagged": "1" if values.flagged else "",
            "sort": values.sort if values.sort != "newest" else "",
        }
        return {key: value for key, value in data.items() if value}


def image_filters_default(*, user) -> ImageFilters:
    """What a grid shows when its filters are wrong: the user's own images, or public ones."""
    return ImageFilters(scope="mine" if user and user.is_authenticated else "public")


def _date(value: str, field: str) -> dt.date | None:
    if not value:
        return None
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise FilterError(field, "Use a date like 2025-01-31.") from None


def image_filters_parse(*, user, data: Mapping) -> ImageFilters:
    """Filters from query parameters (pages and API alike); FilterError names the bad one."""

    def get(key: str) -> str:
        value = data.get(key)
        # NUL dropped: PostgreSQL text cannot hold it, and no filter value needs it.
        return "" if value is None else str(value).replace("\x00", "").strip()

    authenticated = bool(user and user.is_authenticated)
    scope = get("scope") or ("mine" if authenticated else "public")
    if scope not in SCOPES:
        raise FilterError("scope", f"Scope must be one of {', '.join(SCOPES)}.")
    if not authenticated and scope in SIGNED_IN_SCOPES:
        raise SignInRequired("scope", "Sign in to see this scope.")
    collection = None
    collection_id = get("collection")
    if collection_id or scope == "collection":
        if not collection_id:
            raise FilterError("collection", "Name the collection.")
        try:
            collection = collection_get_for_user(user=user, public_id=collection_id)
        except (Collection.DoesNotExist, ValidationError, ValueError):
            raise FilterError("collection", "No such collection.") from None
        scope = "collection"
    aspect = get("aspect")
    if aspect and aspect not in ASPECTS:
        raise FilterError("aspect", f"Aspect must be one of {', '.join(ASPECTS)}.")
    width = height = None
    if size := get("size"):
        match = _SIZE.match(size)
        if not match:
            raise FilterError("size", "Size must look like 1024x768.")
        width, height = int(match.group(1)), int(match.group(2))
    backend = get("backend")
    if backend and backend not in BACKENDS:
        raise FilterError("backend", f"Backend must be one of {', '.join(BACKENDS)}.")
    sort = get("sort") or "newest"
    if sort not in SORTS:
        raise FilterError("sort", "Sort must be newest or oldest.")
    # An end before the start is a valid, empty range (not an error).
    date_from, date_to = _date(get("from"), "from"), _date(get("to"), "to")
    flagged = get("flagged").lower() in ("1", "true", "on", "yes")
    return ImageFilters(
        scope=scope,
        collection=collection,
        q=get("q")[:200],
        date_from=date_from,
        date_to=date_to,
        aspect=aspect,
        width=width,
        height=height,
        backend=backend,
        model=get("model")[:100],
        # Only staff look for flagged images across the site; moderation owns that queue.
        flagged=flagged and bool(user and user.is_staff),
        sort=sort,
    )
