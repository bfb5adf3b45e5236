"""Reads for the gallery: image lists (scopes, filters, search, cursor), collections, shares.

Who may see an image is decided in one place, generation.selectors; everything here narrows
that set further and never widens it (share links add only the sharer's own images).
"""

import base64
import datetime as dt
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce
from django.utils import timezone

from gallery import search
from gallery.models import Collection, CollectionItem, Favorite, ShareLink
from generation.models import Image, Visibility
from generation.params import GenerationParams
from generation.presenters import job_params
from generation.selectors import (
    image_open_report_count,
    image_visibility_q,
    images_visible_to,
    user_team_ids,
)

SCOPES = ("mine", "team", "public", "favorites", "collection")
SIGNED_IN_SCOPES = ("mine", "team", "favorites")
ASPECTS = ("square", "landscape", "portrait")
SORTS = ("newest", "oldest")
BACKENDS = ("remote", "local", "demo")
FLAGGED_STATES = (Image.Moderation.FLAGGED, Image.Moderation.REPORTED)
_SIZE = re.compile(r"^(\d{2,5})[xX×](\d{2,5})$")


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
    date_from, date_to = _date(get("from"), "from"), _date(get("to"), "to")
    if date_from and date_to and date_from > date_to:
        raise FilterError("to", "The end date is before the start date.")
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


# --- Image lists ---------------------------------------------------------------------------


@dataclass
class ImagePage:
    images: list[Image]
    next_cursor: str | None
    favorite_ids: set[int]


def _encode_cursor(moment: dt.datetime, pk: int) -> str:
    raw = f"{moment.isoformat()}|{pk}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[dt.datetime, int]:
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
        moment, pk = _decode_cursor(cursor)
        if newest:
            images = images.filter(Q(sort_at__lt=moment) | Q(sort_at=moment, sort_id__lt=pk))
        else:
            images = images.filter(Q(sort_at__gt=moment) | Q(sort_at=moment, sort_id__gt=pk))
    order = ("-sort_at", "-sort_id") if newest else ("sort_at", "sort_id")
    rows = list(images.order_by(*order)[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].sort_at, rows[-1].sort_id)
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


# --- Compare -------------------------------------------------------------------------------

COMPARE_MIN, COMPARE_MAX = 2, 4
COMPARED = [
    ("prompt", "Prompt"),
    ("negative_prompt", "Negative prompt"),
    ("size", "Size"),
    ("seed", "Seed"),
    ("num_inference_steps", "Steps"),
    ("guidance_scale", "Guidance scale"),
    ("acceleration", "Acceleration"),
    ("backend", "Backend"),
    ("model", "Model"),
]


@dataclass
class CompareRow:
    label: str
    values: list
    differs: bool


def images_for_compare(*, user, public_ids: list) -> list[Image]:
    """The images, in the order asked, that the user may see (unknown ids are dropped).

    Only the first COMPARE_MAX ids count, seen or not: a comparison has at most four columns.
    """
    public_ids = public_ids[:COMPARE_MAX]
    found = {
        image.public_id: image for image in images_visible_to(user).filter(public_id__in=public_ids)
    }
    ordered, seen = [], set()
    for public_id in public_ids:
        image = found.get(public_id)
        if image is not None and image.pk not in seen:
            ordered.append(image)
            seen.add(image.pk)
    return ordered


def image_compare_rows(*, images: list[Image]) -> list[CompareRow]:
    """One row per parameter, side by side; `differs` marks the ones that set them apart."""
    params = [image_params(image) for image in images]
    rows = []
    for key, label in COMPARED:
        values = []
        for item in params:
            value = item.get(key)
            if key == "size":
                value = f"{value['width']}×{value['height']}"
            elif isinstance(value, str):
                value = value.strip()  # the default negative prompt is a single space
            values.append(value)
        rows.append(CompareRow(label=label, values=values, differs=len(set(map(str, values))) > 1))
    return rows


# --- One image -----------------------------------------------------------------------------


@dataclass
class Lineage:
    parent: Image | None
    children: list[Image]


@dataclass
class Reproduction:
    """Whether "Regenerate exactly" gave the same pixels as the image it started from."""

    original: Image
    matches: bool
    same_backend: bool


def image_lineage(*, user, image: Image, limit: int = 24) -> Lineage:
    """Reseeded from (if the user may see it) and reseeds of, newest first."""
    parent = None
    if image.job.parent_image_id:
        parent = images_visible_to(user).filter(pk=image.job.parent_image_id).first()
    children = list(images_visible_to(user).filter(job__parent_image=image)[:limit])
    return Lineage(parent=parent, children=children)


def image_reproduction(*, image: Image, parent: Image | None) -> Reproduction | None:
    """A verdict when this image repeats its parent's seed and parameters, else None."""
    if parent is None or image.seed != parent.seed:
        return None
    job, original = image.job, parent.job
    same_setup = job.model == original.model and GenerationParams.from_job(job).draws_like(
        GenerationParams.from_job(original)
    )
    if not same_setup:
        return None
    return Reproduction(
        original=parent,
        matches=bool(image.pixel_sha256) and image.pixel_sha256 == parent.pixel_sha256,
        same_backend=job.backend == original.backend,
    )


def image_params(image: Image) -> dict:
    """Everything that reproduces this one image, in API spelling."""
    return job_params(image.job, params=_image_generation_params(image))


def image_generate_initial(image: Image) -> dict:
    """Generate-form values for "Use these settings"."""
    return _image_generation_params(image).form_initial()


def _image_generation_params(image: Image) -> GenerationParams:
    return GenerationParams.from_job(image.job).for_image(image.seed)


# --- Collections ---------------------------------------------------------------------------


def collection_visibility_q(user) -> Q:
    if user is None or not user.is_authenticated:
        return Q(visibility=Visibility.PUBLIC)
    if user.is_staff:
        return Q()
    return (
        Q(user=user)
        | Q(visibility=Visibility.TEAM, team_id__in=user_team_ids(user))
        | Q(visibility=Visibility.PUBLIC)
    )


def collections_visible_to(user) -> QuerySet[Collection]:
    return Collection.objects.filter(collection_visibility_q(user)).select_related("user")


def collection_get_for_user(*, user, public_id) -> Collection:
    return collections_visible_to(user).get(public_id=public_id)


def collections_owned_by(*, user) -> QuerySet[Collection]:
    if not user or not user.is_authenticated:
        return Collection.objects.none()
    return Collection.objects.filter(user=user).order_by("name", "id")


def collection_get_owned(*, user, public_id) -> Collection:
    """The user's own collection; a teammate's shared one is Collection.DoesNotExist here."""
    return collections_owned_by(user=user).get(public_id=public_id)


def _prefixed(q: Q, prefix: str) -> Q:
    """The same condition applied through a relation (image_visibility_q on items' images)."""
    clone = Q(*[], _connector=q.connector, _negated=q.negated)
    for child in q.children:
        if isinstance(child, Q):
            clone.children.append(_prefixed(child, prefix))
        else:
            key, value = child
            clone.children.append((f"{prefix}{key}", value))
    return clone


def _visible_items(user) -> QuerySet[CollectionItem]:
    return CollectionItem.objects.filter(
        _prefixed(image_visibility_q(user), "image__"), collection=OuterRef("pk")
    )


def collections_list(*, user) -> list[Collection]:
    """The user's collections and their teams' shared ones, each with a cover it may see."""
    if not user or not user.is_authenticated:
        return []
    items = _visible_items(user)
    # The chosen cover if the viewer may see it, else the newest image they may see; never
    # an image held for review (its owner would see it unblurred on the card).
    covers = items.filter(image__moderation_state__in=Image.SHOWABLE)
    chosen = covers.filter(image_id=OuterRef("cover_id")).values("image__public_id")[:1]
    newest = covers.order_by("-added_at", "-id").values("image__public_id")[:1]
    counts = items.order_by().values("collection").annotate(n=Count("id")).values("n")[:1]
    mine = Q(user=user)
    team = Q(visibility__in=[Visibility.TEAM, Visibility.PUBLIC], team_id__in=user_team_ids(user))
    return list(
        Collection.objects.filter(mine | team)
        .select_related("user")
        .annotate(
            cover_public_id=Coalesce(Subquery(chosen), Subquery(newest)),
            visible_count=Coalesce(Subquery(counts, output_field=IntegerField()), 0),
        )
        .order_by(Case(When(mine, then=Value(0)), default=Value(1)), "name", "id")[:500]
    )


# --- Share links ---------------------------------------------------------------------------


def share_image_q(share: ShareLink) -> Q:
    """Images a link may show: the sharer's own or public ones, never flagged or rejected."""
    showable = Q(moderation_state__in=Image.SHOWABLE)
    return (Q(user_id=share.user_id) & showable) | image_visibility_q(None)


def share_get_active(*, token: str) -> ShareLink:
    """The live link for a token; revoked, expired or unknown → ShareLink.DoesNotExist."""
    now = timezone.now()
    return ShareLink.objects.select_related("collection", "user").get(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        token=token,
        revoked_at__isnull=True,
    )


def share_images(share: ShareLink) -> QuerySet[Image]:
    images = Image.objects.filter(share_image_q(share)).select_related("job")
    if share.image_id:
        return images.filter(pk=share.image_id)
    return images.filter(collection_items__collection_id=share.collection_id)


def share_images_page(*, share: ShareLink, cursor: str | None = None, limit: int | None = None):
    """A page of a shared collection, newest additions first (keyset, like the grid)."""
    limit = max(1, min(limit or settings.GALLERY_PAGE_SIZE, settings.GALLERY_MAX_PAGE_SIZE))
    images = share_images(share).annotate(
        sort_at=F("collection_items__added_at"), sort_id=F("collection_items__id")
    )
    if cursor:
        moment, pk = _decode_cursor(cursor)
        images = images.filter(Q(sort_at__lt=moment) | Q(sort_at=moment, sort_id__lt=pk))
    rows = list(images.order_by("-sort_at", "-sort_id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = _encode_cursor(rows[-1].sort_at, rows[-1].sort_id)
    return ImagePage(images=rows, next_cursor=next_cursor, favorite_ids=set())


def share_shows_image(*, share: ShareLink, image: Image) -> bool:
    return share_images(share).filter(pk=image.pk).exists()


def share_image_get(*, share: ShareLink, public_id=None) -> Image:
    """The shared image (or one image of a shared collection); DoesNotExist if not shown."""
    images = share_images(share)
    if public_id is not None:
        images = images.filter(public_id=public_id)
    return images.get()


def shares_of_image(*, user, image: Image) -> list[ShareLink]:
    if not user.is_authenticated or image.user_id != user.pk:
        return []
    return list(ShareLink.objects.filter(user=user, image=image, revoked_at__isnull=True))


def shares_of_collection(*, user, collection: Collection) -> list[ShareLink]:
    if not user.is_authenticated or collection.user_id != user.pk:
        return []
    return list(ShareLink.objects.filter(user=user, collection=collection, revoked_at__isnull=True))


def share_get_for_owner(*, user, public_id) -> ShareLink:
    return ShareLink.objects.get(public_id=public_id, user=user)
