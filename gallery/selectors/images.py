"""Image lists: scoped, filtered, keyset-paged pages of the gallery, and per-image facts."""

import datetime as dt
from dataclasses import dataclass, replace

from django.conf import settings
from django.db.models import (
    F,
    Q,
    QuerySet,
)
from django.db.models.expressions import RawSQL

from accounts.selectors import team_shared_q, user_team_ids
from core.cursors import cursor_decode, cursor_encode
from gallery import search
from gallery.models import Favorite
from gallery.selectors.filters import FLAGGED_STATES, FilterError, ImageFilters
from generation.models import SHARED_VISIBILITIES, Image, Visibility
from generation.selectors import (
    image_open_report_count,
    image_visibility_within_q,
    images_visible_to,
)


@dataclass
class ImagePage:
    images: list[Image]
    next_cursor: str | None
    favorite_ids: set[int]


def encode_cursor(moment: dt.datetime, pk: int) -> str:
    return cursor_encode(moment, pk)


def decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
    try:
        return cursor_decode(cursor)
    except ValueError:
        raise FilterError("cursor", "This cursor is not valid.") from None


@dataclass(frozen=True)
class _Scope:
    """The images of a scope, the (time, id) pair that orders them (matching an index), and,
    for a user in several teams, one condition per team: each one is an ordered walk of
    image_team_shared, and the page merges them (one walk over several teams would sort
    every image of those teams)."""

    images: QuerySet[Image]
    time_field: str = "created_at"
    id_field: str = "id"
    branches: tuple[Q, ...] = ()


def _scoped(*, user, filters: ImageFilters) -> _Scope:
    images = images_visible_to(user)
    if filters.scope in ("mine", "team", "public"):
        # The visibility rule narrowed to the scope (same rows): the scope's index is the way in.
        images = Image.objects.filter(image_visibility_within_q(user, scope=filters.scope))
    if filters.scope == "mine":
        return _Scope(images.filter(user=user))
    if filters.scope == "team":
        teams = user_team_ids(user)
        # Literally the condition of index image_team_shared (see generation.models.InConstants),
        # plus the one team rule: the image's owner still belongs to that team.
        shared = images.filter(
            team_shared_q(viewer=user),
            team_id__in=teams,
            visibility__in_constants=SHARED_VISIBILITIES,
        )
        branches = tuple(Q(team_id=team) for team in teams) if len(teams) > 1 else ()
        return _Scope(shared, branches=branches)
    if filters.scope == "public":
        return _Scope(images.filter(visibility=Visibility.PUBLIC))
    if filters.scope == "favorites":
        # Ordered by when the star was given: index favorite(user, created_at, id).
        return _Scope(images.filter(favorites__user=user), "favorites__created_at", "favorites__id")
    if filters.scope == "collection" and filters.collection is not None:
        return _Scope(
            images.filter(collection_items__collection=filters.collection),
            "collection_items__added_at",
            "collection_items__id",
        )
    return _Scope(images.none())


def _search_narrowing(user, filters: ImageFilters) -> dict:
    """Which jobs' prompts a search of this scope needs to look at: the user's own, their
    teams', or (other scopes) all of them."""
    if filters.scope == "mine":
        return {"owner_ids": [user.pk]}
    if filters.scope == "team":
        return {"team_ids": user_team_ids(user)}
    return {}


def _filtered(images: QuerySet[Image], filters: ImageFilters, *, user) -> QuerySet[Image]:
    if filters.q:
        images = search.images_matching(images, filters.q, **_search_narrowing(user, filters))
    if filters.date_from:
        start = dt.datetime.combine(filters.date_from, dt.time.min, tzinfo=dt.UTC)
        images = images.filter(created_at__gte=start)
    if filters.date_to and filters.date_to < dt.date.max:
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


def after_cursor(moment: dt.datetime, pk: int, *, newest: bool = True) -> Q:
    """Rows after (moment, pk) in keyset order, on the `sort_at` / `sort_id` aliases.

    The leading `sort_at <= moment` (or >=) is implied by the rest; it is there so that every
    database bounds its index walk with it (an OR alone leaves SQLite scanning from the top).
    """
    if newest:
        return Q(sort_at__lte=moment) & (Q(sort_at__lt=moment) | Q(sort_id__lt=pk))
    return Q(sort_at__gte=moment) & (Q(sort_at__gt=moment) | Q(sort_id__gt=pk))


def _for_tiles(images: QuerySet[Image]) -> QuerySet[Image]:
    """What a tile or an API list item shows: the image, its job (the prompt) and the public
    id of the image it was reseeded from; nothing of the owner or the parent row."""
    return (
        images.select_related(None)
        .select_related("job")
        .annotate(parent_public_id=F("job__parent_image__public_id"))
    )


def _merged(images: QuerySet[Image], branches: tuple[Q, ...], order, count: int) -> RawSQL:
    """The ids of the first `count` rows of `images` in `order`, found by walking each
    branch's index range in order and merging (UNION ALL of per-branch LIMITs)."""
    parts, params = [], []
    for index, branch in enumerate(branches):
        sql, branch_params = (
            images.filter(branch).order_by(*order).values("pk")[:count].query.sql_with_params()
        )
        parts.append(f"SELECT * FROM ({sql}) AS branch_{index}")  # noqa: S608 (Django's SQL)
        params.extend(branch_params)
    return RawSQL(" UNION ALL ".join(parts), params)  # noqa: S611 (bound parameters)


def images_list(
    *, user, filters: ImageFilters, cursor: str | None = None, limit: int | None = None
) -> ImagePage:
    """One page in keyset order. No COUNT and no OFFSET, so page 1000 costs what page 1 does."""
    limit = max(1, min(limit or settings.GALLERY_PAGE_SIZE, settings.GALLERY_MAX_PAGE_SIZE))
    scope = _scoped(user=user, filters=filters)
    images = _filtered(scope.images, filters, user=user)
    # Aliases let the cursor condition reuse the scope's join (favorites, collection items).
    sort = {"sort_at": F(scope.time_field), "sort_id": F(scope.id_field)}
    images = images.annotate(**sort)
    newest = filters.sort == "newest"
    if cursor:
        moment, pk = decode_cursor(cursor)
        images = images.filter(after_cursor(moment, pk, newest=newest))
    order = ("-sort_at", "-sort_id") if newest else ("sort_at", "sort_id")
    if scope.time_field == "created_at":
        # Ordered by the image's own columns: find the page's ids on narrow rows first, then
        # load those rows with their jobs. A rare search word's matches (thousands of images)
        # are sorted as (id, time) pairs instead of as whole image-and-job rows.
        if scope.branches:
            ids = _merged(images, scope.branches, order, limit + 1)
        else:
            ids = images.order_by(*order).values("pk")[: limit + 1]
        images = Image.objects.filter(pk__in=ids).annotate(**sort)
    rows = list(_for_tiles(images).order_by(*order)[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].sort_at, rows[-1].sort_id)
    return ImagePage(
        images=rows,
        next_cursor=next_cursor,
        favorite_ids=favorite_image_ids(user=user, images=rows),
    )


def image_neighbours(
    *, user, filters: ImageFilters, image: Image
) -> tuple[Image | None, Image | None]:
    """The images before and after `image` in the grid's order for `filters` (the viewer's
    previous/next); (None, None) when the image is not among them. Small keyset queries,
    whatever the gallery's size."""
    scope = _scoped(user=user, filters=filters)
    here = (
        _filtered(scope.images, filters, user=user)
        .filter(pk=image.pk)
        .annotate(sort_at=F(scope.time_field), sort_id=F(scope.id_field))
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
