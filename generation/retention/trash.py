"""The trash for images and jobs: a delete hides (deleted_at), a restore brings back exactly
what was hidden, and a permanent delete removes rows and files at once.

Owners trash and restore their own things; a permanent delete is the owner's unless a legal
hold applies, then staff's only. Every function scopes the ids it is given.
"""

import datetime as dt
import uuid
from collections.abc import Iterable

from django.conf import settings
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from generation.models import Image, Job
from generation.retention.holds import LegalHoldActive, image_held_q, job_held_q


class JobStillRunning(Exception):
    def __init__(self, message: str = "Cancel the job before deleting it.") -> None:
        super().__init__(message)
        self.message = message


def trash_cutoff(now: dt.datetime | None = None) -> dt.datetime:
    """Things trashed before this moment are due for the purge."""
    return (now or timezone.now()) - dt.timedelta(days=settings.TRASH_DAYS)


def _ids(values: Iterable) -> list[uuid.UUID]:
    return list(dict.fromkeys(uuid.UUID(str(value)) for value in values))


# --- Images --------------------------------------------------------------------------------


def images_trash(*, user, image_ids: Iterable) -> int:
    """Move the user's own live images among `image_ids` to the trash; returns how many."""
    return Image.objects.filter(
        user=user, public_id__in=_ids(image_ids), deleted_at__isnull=True
    ).update(deleted_at=timezone.now())


def images_restore(*, user, image_ids: Iterable) -> int:
    """Bring the user's trashed images back (and their job, if it was trashed)."""
    with transaction.atomic():
        images = Image.objects.filter(
            user=user, public_id__in=_ids(image_ids), deleted_at__isnull=False
        )
        job_ids = set(images.values_list("job_id", flat=True))
        restored = images.update(deleted_at=None)
        Job.objects.filter(pk__in=job_ids, deleted_at__isnull=False).update(deleted_at=None)
    return restored


def images_delete_permanently(*, user, image_ids: Iterable) -> int:
    """Delete rows and files now: the owner's images (live or trashed) unless a legal hold
    applies; staff may delete any image, held or not. LegalHoldActive names the refusal."""
    images = Image.objects.filter(public_id__in=_ids(image_ids))
    if not user.is_staff:
        images = images.filter(user=user)
        if images.filter(image_held_q()).exists():
            raise LegalHoldActive()
    return _delete_rows(images)


def _delete_rows(images: QuerySet[Image]) -> int:
    # A model delete: favorites, collection items and share links cascade, reseeds lose their
    # parent link, and the files go after commit (generation.retention.files).
    with transaction.atomic():
        count = images.count()
        images.delete()
    return count


def trashed_images_of(*, user) -> QuerySet[Image]:
    return (
        Image.objects.filter(user=user, deleted_at__isnull=False)
        .select_related("job")
        .order_by("-deleted_at", "-id")
    )


# --- Jobs ----------------------------------------------------------------------------------


def jobs_trash(*, user, job_ids: Iterable) -> int:
    """Move the user's own finished jobs to the trash with their live images (stamped with the
    same moment, so a restore brings back exactly those). JobStillRunning for active jobs."""
    now = timezone.now()
    with transaction.atomic():
        jobs = Job.objects.filter(user=user, public_id__in=_ids(job_ids), deleted_at__isnull=True)
        if jobs.filter(status__in=Job.ACTIVE).exists():
            raise JobStillRunning()
        pks = list(jobs.values_list("pk", flat=True))
        Image.objects.filter(job_id__in=pks, deleted_at__isnull=True).update(deleted_at=now)
        return Job.objects.filter(pk__in=pks).update(deleted_at=now)


def jobs_restore(*, user, job_ids: Iterable) -> int:
    with transaction.atomic():
        jobs = list(
            Job.objects.filter(
                user=user, public_id__in=_ids(job_ids), deleted_at__isnull=False
            ).values_list("pk", "deleted_at")
        )
        for pk, moment in jobs:
            Image.objects.filter(job_id=pk, deleted_at=moment).update(deleted_at=None)
        return Job.objects.filter(pk__in=[pk for pk, _ in jobs]).update(deleted_at=None)


def jobs_delete_permanently(*, user, job_ids: Iterable) -> int:
    """The jobs, their images and files, now (same rules as images_delete_permanently)."""
    jobs = Job.objects.filter(public_id__in=_ids(job_ids))
    if not user.is_staff:
        jobs = jobs.filter(user=user)
        if jobs.filter(job_held_q()).exists():
            raise LegalHoldActive()
    if jobs.filter(status__in=Job.ACTIVE).exists():
        raise JobStillRunning()
    with transaction.atomic():
        count = jobs.count()
        jobs.delete()  # images cascade, each taking its files after commit
    return count


def trashed_jobs_of(*, user) -> QuerySet[Job]:
    return Job.objects.filter(user=user, deleted_at__isnull=False).order_by("-deleted_at", "-id")
