"""Image lists: scoped, filtered, keyset-paged pages of the gallery, and per-image facts."""

import base64
import datetime as dt
from dataclasses import dataclass, replace

from django.conf import settings
from django.db.models import (
    F,
    Q,
    QuerySet,
)

from gallery import search
from gallery.models import Favorite
from gallery.selectors.filters import FLAGGED_STATES, FilterError, ImageFilters
from generation.models import Image, Visibility
from generation.selectors import (
    image_open_report_count,
    images_visible_to,
    user_team_ids,
)


@dataclass
class ImagePage:
    images: list[Image]
    next_cursor: str | None
    favorite_ids: set[int]


def encode_cursor(moment: dt.datetime, pk: int) -> str:
    raw = f"{moment.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        moment, pk = base64.urlsafe_b64decode(padded.encode()).decode().split("|")
        parsed = dt.datetime.fromisoformat(moment)
        if parsed.tzinfo is None:
            raise ValueError("naive")
        # In UTC: PostgreSQL refuses offsets beyond ±15:59 that Python accepts.
        return parsed.astimezone(dt.UTC), int(pk)
    except (ValueError, UnicodeDecodeError, OverflowError):
        raise FilterError("cursor", "This cursor is not valid.") from None


def _scoped(*, user, filters: ImageFilters) -> tuple[QuerySet[Image], str, str]:
    """The images of a scope and the (time, id) pair that orders it, matching an index."""
    images = images_visible_to(user)
    if filters.scope == "mine":
        return images.filter(user=user), "created_at", "id"
    if filters.scope == "team":
        return (
            images.filter(
                team_id__in=user_team_ids(user),
                visibility__in=[Visibility.TEAM, Visibility.PUBLIC],
            ),
            "created_at",
            "id",
        )
    if filters.scope == "public":
        return images.filter(visibility=Visibility.PUBLIC), "created_at", "id"
    if filters.scope == "favorites":
        # Ordered by when the star was given: index favorite(user, created_at, id).
        return images.filter(favorites__user=user), "favorites__created_at", "favorites__id"
    if filters.scope == "collection" and filters.collection is not None:
        return (
            images.filter(collection_items__collection=filters.collection),
            "collection_items__added_at",
            "collection_items__id",
        )
    return images.none(), "created_at", "id"


def _filtered(images: QuerySet[Image], filters: ImageFilters) -> QuerySet[Image]:
    if filters.q:
        images = search.images_matching(images, filters.q)
    if filters.date_from:
        start = dt.datetime.combine(filters.date_from, dt.time.min, tzinfo=dt.UTC)
        images = images.filter(created_at__gte=start)
    if filters.date_to:
        end = dt.datetime.combine(filters.date_to + dt.timedelta(days=1), dt.time.min, dt.UTC)
        images = images.filter(created_at__lt=end)
    if filters.aspect == "square":
        images = images.filter(width=F("height"))
    elif filters.aspect == "landscape":
        images = images.filter(width__gt=F("height"))
    elif filters.aspect == "portrait":
        images = images.filter(width__lt=F("height"))
    if filters.width and filters.height:
        images = images.filter(width=filters.width, height=filters.height)
    if filters.backend:
        images = images.filter(job__backend=filters.backend)
    if filters.model:
        images = images.filter(job__model=filters.model)
    if filters.flagged:
        images = images.filter(moderation_state__in=FLAGGED_STATES)
    return images


def image_neighbours(
    *, user, filters: ImageFilters, image: Image
) -> tuple[Image | None, Image | None]:
    """The images before and after `image` in the grid's order for `filters` (the viewer's
    previous/next); (None, None) when the image is not among them. Three small keyset
    queries, whatever the gallery's size."""
    images, time_field, id_field = _scoped(user=user, filters=filters)
    here = (
        _filtered(images, filters)
        .filter(pk=image.pk)
        .annotate(sort_at=F(time_field), sort_id=F(id_field))
        .values_list("sort_at", "sort_id")
        .first()
    )
    if here is None:
        return None, None
    cursor = encode_cursor(*here)
    after = images_list(user=user, filters=filters, cursor=cursor, limit=1).images
    flipped = replace(filters, sort="oldest" if filters.sort == "newest" else "newest")
    before = images_list(user=user, filters=flipped, cursor=cursor, limit=1).images
    return (before[0] if before else None), (after[0] if after else None)


def images_list(
    *, user, filters: ImageFilters, cursor: str | None = None, limit: int | None = None
) -> ImagePage:
    """One page in keyset order. No COUNT and no OFFSET, so page 1000 costs what page 1 does."""
    limit = max(1, min(limit or settings.GALLERY_PAGE_SIZE, settings.GALLERY_MAX_PAGE_SIZE))
    images, time_field, id_field = _scoped(user=user, filters=filters)
    images = _filtered(images, filters).select_related("job__parent_image")
    # Aliases let the cursor condition reuse the scope's join (favorites, collection items).
    images = images.annotate(sort_at=F(time_field), sort_id=F(id_field))
    newest = filters.sort == "newest"
    if cursor:
        moment, pk = decode_cursor(cursor)
        if newest:
            images = images.filter(Q(sort_at__lt=moment) | Q(sort_at=moment, sort_id__lt=pk))
        else:
            images = images.filter(Q(sort_at__gt=moment) | Q(sort_at=moment, sort_id__gt=pk))
    order = ("-sort_at", "-sort_id") if newest else ("sort_at", "sort_id")
    rows = list(images.order_by(*order)[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].sort_at, rows[-1].sort_id)
    return ImagePage(
        images=rows,
        next_cursor=next_cursor,
        favorite_ids=favorite_image_ids(user=user, images=rows),
    )


def favorite_image_ids(*, user, images: list[Image]) -> set[int]:
    if not user or not user.is_authenticated or not images:
        return set()
    return set(
        Favorite.objects.filter(user=user, image_id__in=[image.pk for image in images]).values_list(
            "image_id", flat=True
        )
    )


def image_is_favorite(*, user, image: Image) -> bool:
    return bool(favorite_image_ids(user=user, images=[image]))


def image_is_visible_to(*, user, image: Image) -> bool:
    """Still visible: a report may have just hidden it, a visibility change narrowed it."""
    return images_visible_to(user).filter(pk=image.pk).exists()


def user_owns(*, user, obj) -> bool:
    """The signed-in user owns this image, collection or share link."""
    return bool(user and user.is_authenticated) and obj.user_id == user.pk


def image_open_report_count_for(*, user, image: Image) -> int:
    """Open reports on the image, for staff; everyone else is told none."""
    return image_open_report_count(image=image) if user.is_staff else 0


def images_for_archive(*, user, public_ids: list) -> list[Image]:
    """The chosen images the user may see, newest first (the order of a ZIP download)."""
    return list(
        images_visible_to(user).filter(public_id__in=public_ids).order_by("-created_at", "-id")
    )
