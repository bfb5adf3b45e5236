"""Share links: what an active link shows, and a user's own links."""

from django.conf import settings
from django.db.models import (
    F,
    Q,
    QuerySet,
)
from django.utils import timezone

from gallery.models import Collection, ShareLink
from gallery.selectors.images import ImagePage, after_cursor, decode_cursor, encode_cursor
from generation.models import Image
from generation.selectors import (
    image_visibility_q,
)


def share_image_q(share: ShareLink) -> Q:
    """Images a link may show: the sharer's own or public ones, never flagged, rejected or
    trashed."""
    showable = Q(moderation_state__in=Image.SHOWABLE, deleted_at__isnull=True)
    return (Q(user_id=share.user_id) & showable) | image_visibility_q(None)


def share_get_active(*, token: str) -> ShareLink:
    """The live link for a token; revoked, expired, unknown, or whose image or collection is
    in the trash → ShareLink.DoesNotExist (a restore brings the link back)."""
    now = timezone.now()
    return ShareLink.objects.select_related("collection", "user").get(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now),
        Q(image__isnull=True) | Q(image__deleted_at__isnull=True),
        Q(collection__isnull=True) | Q(collection__deleted_at__isnull=True),
        token=token,
        revoked_at__isnull=True,
    )


def share_get_by_token(*, token: str) -> ShareLink:
    """The link for a token, revoked or expired too (its page says which: 410); unknown, or
    whose image or collection is in the trash → ShareLink.DoesNotExist (a 404, as
    share_get_active: a restore brings the link back)."""
    return ShareLink.objects.select_related("collection", "user").get(
        Q(image__isnull=True) | Q(image__deleted_at__isnull=True),
        Q(collection__isnull=True) | Q(collection__deleted_at__isnull=True),
        token=token,
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
        moment, pk = decode_cursor(cursor)
        images = images.filter(after_cursor(moment, pk))
    rows = list(images.order_by("-sort_at", "-sort_id")[: limit + 1])
    next_cursor = None
    if len(rows) > limit:
        rows = rows[:limit]
        next_cursor = encode_cursor(rows[-1].sort_at, rows[-1].sort_id)
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
