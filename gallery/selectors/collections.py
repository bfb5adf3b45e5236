"""Collections a user may see or owns."""

from django.db.models import (
    Case,
    Count,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Subquery,
    Value,
    When,
)
from django.db.models.functions import Coalesce

from accounts.selectors import team_shared_q
from gallery.models import Collection, CollectionItem
from generation.models import Image, Visibility
from generation.selectors import image_visibility_q


def collection_visibility_q(user) -> Q:
    """Owner, the collection's team while its owner belongs to it (the one team rule), or
    everyone for public ones; staff see all. Trashed collections are shown to nobody (their
    owner sees them on the Trash page)."""
    live = Q(deleted_at__isnull=True)
    if user is None or not user.is_authenticated:
        return live & Q(visibility=Visibility.PUBLIC)
    if user.is_staff:
        return live
    return live & (
        Q(user=user)
        | (Q(visibility=Visibility.TEAM) & team_shared_q(viewer=user))
        | Q(visibility=Visibility.PUBLIC)
    )


def collections_visible_to(user) -> QuerySet[Collection]:
    return Collection.objects.filter(collection_visibility_q(user)).select_related("user")


def collection_get_for_user(*, user, public_id) -> Collection:
    return collections_visible_to(user).get(public_id=public_id)


def collections_owned_by(*, user) -> QuerySet[Collection]:
    if not user or not user.is_authenticated:
        return Collection.objects.none()
    return Collection.objects.filter(user=user, deleted_at__isnull=True).order_by("name", "id")


def collection_get_owned(*, user, public_id) -> Collection:
    """The user's own collection; a teammate's shared one is Collection.DoesNotExist here."""
    return collections_owned_by(user=user).get(public_id=public_id)


def collection_get_deletable(*, user, public_id, permanent: bool) -> Collection:
    """The collection `user` may delete: their own live one to the trash; for good, their own
    live or trashed one, and anyone's for staff (as for images and jobs: docs/retention.md).
    Collection.DoesNotExist otherwise."""
    if not permanent:
        return collection_get_owned(user=user, public_id=public_id)
    collections = Collection.objects.all()
    if not user.is_staff:
        collections = collections.filter(user=user)
    return collections.select_related("user", "team").get(public_id=public_id)


def _visible_items(user) -> QuerySet[CollectionItem]:
    return CollectionItem.objects.filter(
        image_visibility_q(user, prefix="image__"), collection=OuterRef("pk")
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
    team = Q(visibility__in=[Visibility.TEAM, Visibility.PUBLIC]) & team_shared_q(viewer=user)
    return list(
        Collection.objects.filter(mine | team, deleted_at__isnull=True)
        .select_related("user")
        .annotate(
            cover_public_id=Coalesce(Subquery(chosen), Subquery(newest)),
            visible_count=Coalesce(Subquery(counts, output_field=IntegerField()), 0),
        )
        .order_by(Case(When(mine, then=Value(0)), default=Value(1)), "name", "id")[:500]
    )


def collection_ids_holding(*, user, image: Image) -> set[int]:
    """Which of the user's own collections already hold the image (the image page's toggles)."""
    if not user.is_authenticated:
        return set()
    return set(
        CollectionItem.objects.filter(collection__user=user, image=image).values_list(
            "collection_id", flat=True
        )
    )
