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

from gallery.models import Collection, CollectionItem
from generation.models import Image, Visibility
from generation.selectors import (
    image_visibility_q,
    user_team_ids,
)


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


def collection_ids_holding(*, user, image: Image) -> set[int]:
    """Which of the user's own collections already hold the image (the image page's toggles)."""
    if not user.is_authenticated:
        return set()
    return set(
        CollectionItem.objects.filter(collection__user=user, image=image).values_list(
            "collection_id", flat=True
        )
    )
