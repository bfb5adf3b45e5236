"""What a user's Trash page lists: their trashed images, jobs and collections."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Count, Q

from gallery.models import Collection
from generation.models import Image, Job
from generation.retention import trashed_images_of, trashed_jobs_of, user_is_held

TRASH_PAGE_LIMIT = 200


@dataclass
class Trash:
    images: list[Image]
    jobs: list[Job]
    collections: list[Collection]
    days: int
    held: bool

    @property
    def empty(self) -> bool:
        return not (self.images or self.jobs or self.collections)


def purge_date(moment: dt.datetime) -> dt.datetime:
    return moment + dt.timedelta(days=settings.TRASH_DAYS)


def trash_for(*, user) -> Trash:
    """Newest first, a few queries whatever the size (each list bounded)."""
    jobs = list(
        trashed_jobs_of(user=user).annotate(
            trashed_images=Count("images", filter=Q(images__deleted_at__isnull=False))
        )[:TRASH_PAGE_LIMIT]
    )
    job_moments = {job.pk: job.deleted_at for job in jobs}
    # An image trashed with its job is listed under the job, not on its own.
    images = [
        image
        for image in trashed_images_of(user=user)[:TRASH_PAGE_LIMIT]
        if job_moments.get(image.job_id) != image.deleted_at
    ]
    collections = list(
        Collection.objects.filter(user=user, deleted_at__isnull=False).order_by(
            "-deleted_at", "-id"
        )[:TRASH_PAGE_LIMIT]
    )
    return Trash(
        images=images,
        jobs=jobs,
        collections=collections,
        days=settings.TRASH_DAYS,
        held=user_is_held(user),
    )
