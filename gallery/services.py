"""Writes for the gallery: favorites, collections, visibility, delete, reseed, share links.

Every function that takes image ids scopes them itself (what the user may see, or what the
user owns), so a caller cannot act on someone else's image by passing its id.
"""

import datetime as dt
import secrets
import uuid
from collections.abc import Iterable
from enum import StrEnum

import pydantic
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts.services import profile_for
from gallery.models import Collection, CollectionItem, Favorite, ShareLink
from generation.edits.store import edit_inputs_reuse
from generation.lifecycle import job_create
from generation.models import Image, Job, Visibility
from generation.params import SEED_MAX, GenerationParams
from generation.retention import (
    LegalHoldActive,
    image_held_q,
    images_delete_permanently,
    images_restore,
    images_trash,
    jobs_delete_permanently,
    jobs_restore,
    user_is_held,
)
from generation.selectors import images_visible_to


class NotAllowed(Exception):
    """The user may see the object but not change it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ReseedRefused(Exception):
    """The image's parameters fail today's limits (changed since it was made)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ShareRefused(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _require_owner(obj, user, what: str) -> None:
    if obj.user_id != user.pk:
        raise NotAllowed(f"Only the owner can change this {what}.")


def _visibility(value: str) -> str:
    if value not in Visibility.values:
        raise ValueError(f"Visibility must be one of {', '.join(Visibility.values)}.")
    return value


# --- Favorites -----------------------------------------------------------------------------


def favorite_set(*, user, image: Image, favorite: bool = True) -> bool:
    """Star or unstar an image the user may see; returns the new state."""
    if favorite:
        Favorite.objects.bulk_create([Favorite(user=user, image=image)], ignore_conflicts=True)
    else:
        Favorite.objects.filter(user=user, image=image).delete()
    return favorite


def favorite_toggle(*, user, image: Image) -> bool:
    deleted, _ = Favorite.objects.filter(user=user, image=image).delete()
    if deleted:
        return False
    return favorite_set(user=user, image=image, favorite=True)


# --- Image visibility and deletion ---------------------------------------------------------


def images_set_visibility(*, user, image_ids: Iterable[uuid.UUID], visibility: str) -> int:
    """Change the visibility of the user's own images among `image_ids`; returns how many.

    Their team becomes the owner's current team (the one team rule, docs/accounts.md): "Team"
    means the team the owner is in now, not the one they were in when the image was made.
    """
    visibility = _visibility(visibility)
    return Image.objects.filter(user=user, public_id__in=list(image_ids)).update(
        visibility=visibility, team=profile_for(user).current_team
    )


def image_set_visibility(*, user, image: Image, visibility: str) -> Image:
    _require_owner(image, user, "image")
    images_set_visibility(user=user, image_ids=[image.public_id], visibility=visibility)
    image.refresh_from_db(fields=["visibility", "team"])
    return image


def images_delete(*, user, image_ids: Iterable[uuid.UUID], permanent: bool = False) -> int:
    """Move the user's own images among `image_ids` to the trash (their favorites, collection
    places and share links wait there with them); `permanent` deletes rows and files now
    (LegalHoldActive when a hold applies and the user is not staff)."""
    if permanent:
        return images_delete_permanently(user=user, image_ids=image_ids)
    return images_trash(user=user, image_ids=image_ids)


def image_delete(*, user, image: Image, permanent: bool = False) -> None:
    if not (permanent and user.is_staff):
        _require_owner(image, user, "image")
    images_delete(user=user, image_ids=[image.public_id], permanent=permanent)


# --- Reseed, variations, regenerate exactly ------------------------------------------------


class ReseedMode(StrEnum):
    RESEED = "reseed"  # same parameters, a new random seed
    VARIATIONS = "variations"  # seeds s+1 … s+4 in one job
    EXACT = "exact"  # the same seed: should give the same pixels


VARIATIONS = 4


def image_reseed(
    *,
    user,
    image: Image,
    mode: str = ReseedMode.RESEED,
    source: str = Job.Source.WEB,
    api_key=None,
) -> Job:
    """A new job from this image's parameters, linked to it as its parent.

    The caller has checked the user may see the image; the job is the user's own and counts
    against their quota (QuotaExceeded propagates). An edit is rerun from its stored sources,
    which the user must be allowed to see (EditInputError otherwise).
    """
    mode = ReseedMode(mode)
    if mode is ReseedMode.RESEED:
        seed, n = None, 1
    elif mode is ReseedMode.VARIATIONS:
        n = min(VARIATIONS, settings.GENERATION_MAX_IMAGES_PER_JOB)
        seed = image.seed + 1 if image.seed + n <= SEED_MAX else max(0, image.seed - n)
    else:
        seed, n = image.seed, 1
    visibility = image.visibility if image.user_id == user.pk else Visibility.PRIVATE
    try:
        params = GenerationParams.from_job(image.job).revalidated(seed=seed, n=n)
    except pydantic.ValidationError as exc:  # made under limits the portal no longer allows
        reason = exc.errors()[0]["msg"].removeprefix("Value error, ")
        raise ReseedRefused(
            f"This image's settings are no longer allowed here ({reason}); open them in the "
            "generate form and adjust them."
        ) from None
    return job_create(
        user=user,
        params=params,
        source=source,
        visibility=visibility,
        parent_image=image,
        edit_inputs=edit_inputs_reuse(user=user, job=image.job) if image.job.edit else None,
        api_key=api_key,
    )


# --- Collections ---------------------------------------------------------------------------


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise ValueError("Give the collection a name.")
    if len(name) > 100:
        raise ValueError("A collection name has at most 100 characters.")
    if "\x00" in name:  # PostgreSQL text cannot hold NUL
        raise ValueError("A collection name cannot contain NUL characters.")
    return name


def collection_create(
    *,
    user,
    name: str,
    visibility: str = Visibility.PRIVATE,
    image_ids: Iterable[uuid.UUID] = (),
) -> Collection:
    """A new collection of the user's, holding the images among `image_ids` they may see."""
    name, visibility, image_ids = _clean_name(name), _visibility(visibility), list(image_ids)
    with transaction.atomic():
        collection = Collection.objects.create(
            user=user, team=profile_for(user).current_team, name=name, visibility=visibility
        )
        if image_ids:
            collection_add_images(user=user, collection=collection, image_ids=image_ids)
    return collection


def collection_update(
    *, user, collection: Collection, name: str | None = None, visibility: str | None = None
) -> Collection:
    _require_owner(collection, user, "collection")
    if name is not None:
        collection.name = _clean_name(name)
    if visibility is not None:
        collection.visibility = _visibility(visibility)
        # The one team rule: "Team" is the owner's current team (docs/accounts.md).
        collection.team = profile_for(user).current_team
    collection.save(update_fields=["name", "visibility", "team", "updated_at"])
    return collection


def collection_delete(*, user, collection: Collection, permanent: bool = False) -> None:
    """To the trash (hidden, its links stop; its images stay), or gone now with `permanent`
    (a collection holds no files: only a hold on its owner or team keeps it from staff-less
    removal)."""
    if not (permanent and user.is_staff):
        _require_owner(collection, user, "collection")
    if permanent:
        if not user.is_staff and _collection_held(collection):
            raise LegalHoldActive()
        collection.delete()
        return
    Collection.objects.filter(pk=collection.pk, deleted_at__isnull=True).update(
        deleted_at=timezone.now()
    )


def _collection_held(collection: Collection) -> bool:
    return user_is_held(collection.user) or (
        collection.team_id is not None and collection.team.legal_hold_since is not None
    )


def collections_restore(*, user, collection_ids: Iterable[uuid.UUID]) -> int:
    ids = [uuid.UUID(str(i)) for i in collection_ids]
    return Collection.objects.filter(user=user, public_id__in=ids, deleted_at__isnull=False).update(
        deleted_at=None
    )


def trash_restore(*, user, kind: str, ids: Iterable[uuid.UUID]) -> int:
    """Undo and the Trash page: bring back the user's trashed images, jobs or collections."""
    ids = list(ids)
    if kind == "images":
        return images_restore(user=user, image_ids=ids)
    if kind == "jobs":
        return jobs_restore(user=user, job_ids=ids)
    if kind == "collections":
        return collections_restore(user=user, collection_ids=ids)
    raise ValueError("Restore images, jobs or collections.")


def trash_delete(*, user, kind: str, ids: Iterable[uuid.UUID]) -> int:
    """Delete for good from the trash (only what is in the user's trash)."""
    ids = [uuid.UUID(str(i)) for i in ids]
    if kind == "images":
        mine = Image.objects.filter(user=user, public_id__in=ids, deleted_at__isnull=False)
        return images_delete_permanently(
            user=user, image_ids=mine.values_list("public_id", flat=True)
        )
    if kind == "jobs":
        mine = Job.objects.filter(user=user, public_id__in=ids, deleted_at__isnull=False)
        return jobs_delete_permanently(user=user, job_ids=mine.values_list("public_id", flat=True))
    if kind == "collections":
        count = 0
        for collection in Collection.objects.filter(
            user=user, public_id__in=ids, deleted_at__isnull=False
        ):
            collection_delete(user=user, collection=collection, permanent=True)
            count += 1
        return count
    raise ValueError("Delete images, jobs or collections.")


def trash_empty(*, user) -> int:
    """Everything in the user's trash, gone now (LegalHoldActive if a hold applies: on the
    user, or on the team of a trashed image, job or collection; jobs_delete_permanently
    checks the jobs)."""
    trashed_collections = Collection.objects.filter(user=user, deleted_at__isnull=False)
    if (
        user_is_held(user)
        or Image.objects.filter(image_held_q(), user=user, deleted_at__isnull=False).exists()
        or trashed_collections.filter(team__legal_hold_since__isnull=False).exists()
    ):
        raise LegalHoldActive()
    with transaction.atomic():
        count = trashed_collections.delete()[1].get("gallery.Collection", 0)
        count += trash_delete(
            user=user,
            kind="images",
            ids=Image.objects.filter(user=user, deleted_at__isnull=False).values_list(
                "public_id", flat=True
            ),
        )
        count += trash_delete(
            user=user,
            kind="jobs",
            ids=Job.objects.filter(user=user, deleted_at__isnull=False).values_list(
                "public_id", flat=True
            ),
        )
    return count


def collection_add_images(*, user, collection: Collection, image_ids: Iterable[uuid.UUID]) -> int:
    """Add the images among `image_ids` that the user may see; returns how many were new."""
    _require_owner(collection, user, "collection")
    wanted = list(dict.fromkeys(uuid.UUID(str(i)) for i in image_ids))
    visible = dict(
        images_visible_to(user).filter(public_id__in=wanted).values_list("public_id", "pk")
    )
    pks = [visible[i] for i in wanted if i in visible]  # in the order given
    existing = set(
        CollectionItem.objects.filter(collection=collection, image_id__in=pks).values_list(
            "image_id", flat=True
        )
    )
    now = timezone.now()
    CollectionItem.objects.bulk_create(
        [
            CollectionItem(collection=collection, image_id=pk, added_at=now)
            for pk in pks
            if pk not in existing
        ],
        ignore_conflicts=True,
    )
    Collection.objects.filter(pk=collection.pk).update(updated_at=now)
    return len([pk for pk in pks if pk not in existing])


def collection_remove_images(
    *, user, collection: Collection, image_ids: Iterable[uuid.UUID]
) -> int:
    _require_owner(collection, user, "collection")
    removed, _ = CollectionItem.objects.filter(
        collection=collection, image__public_id__in=list(image_ids)
    ).delete()
    return removed


def collection_set_cover(*, user, collection: Collection, image: Image) -> Collection:
    _require_owner(collection, user, "collection")
    if not CollectionItem.objects.filter(collection=collection, image=image).exists():
        raise ValueError("The cover must be an image of the collection.")
    collection.cover = image
    collection.save(update_fields=["cover", "updated_at"])
    return collection


# --- Share links ---------------------------------------------------------------------------

SHARE_MAX_LIFETIME = dt.timedelta(days=366)


def share_create(
    *,
    user,
    image: Image | None = None,
    collection: Collection | None = None,
    expires_in: dt.timedelta | None = None,
) -> ShareLink:
    """A link anyone can open: for the owner's image (not flagged) or the owner's collection."""
    if (image is None) == (collection is None):
        raise ValueError("Share one image or one collection.")
    target = image or collection
    _require_owner(target, user, "image" if image else "collection")
    if image is not None and not image.is_showable:
        raise ShareRefused("This image is held for review and cannot be shared.")
    expires_at = None
    if expires_in is not None:
        if expires_in <= dt.timedelta(0) or expires_in > SHARE_MAX_LIFETIME:
            raise ValueError("A link expires between a minute and a year from now.")
        expires_at = timezone.now() + expires_in
    # 32 url-safe bytes: 256 bits from the OS CSPRNG.
    return ShareLink.objects.create(
        user=user,
        image=image,
        collection=collection,
        token=secrets.token_urlsafe(32),
        expires_at=expires_at,
    )


def share_revoke(*, user, share: ShareLink) -> ShareLink:
    _require_owner(share, user, "share link")
    if share.revoked_at is None:
        share.revoked_at = timezone.now()
        share.save(update_fields=["revoked_at"])
    return share


def share_record_view(*, share: ShareLink) -> None:
    ShareLink.objects.filter(pk=share.pk).update(
        view_count=F("view_count") + 1, last_viewed_at=timezone.now()
    )
