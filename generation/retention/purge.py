"""The purge of trashed images and jobs: files first, then rows, in small batches.

Idempotent and resumable: each batch is chosen by state (trashed before the cutoff, not
held), a file already gone is skipped, and a run cut short leaves rows that the next run
picks up. Files go before their rows so that a crash in between leaves a row whose file is
missing (which the next run deletes), never a file nobody knows about.
"""

import datetime as dt
import logging
from dataclasses import dataclass, field

from django.db import transaction

from generation.models import Image, Job
from generation.retention.files import storage_delete
from generation.retention.holds import image_held_q, job_held_q
from generation.retention.trash import trash_cutoff

logger = logging.getLogger("generation.retention")


@dataclass
class PurgeReport:
    images: int = 0
    jobs: int = 0
    collections: int = 0
    retained: int = 0  # images moved to the trash by a retention policy
    bytes: int = 0
    image_ids: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return self.images + self.jobs + self.collections


def images_purge(*, now: dt.datetime | None = None, limit: int, report: PurgeReport) -> None:
    """Remove trashed images past the trash period (not held), at most `limit`."""
    cutoff = trash_cutoff(now)
    due = Image.objects.filter(deleted_at__lt=cutoff).exclude(image_held_q()).order_by("id")
    while report.images < limit:
        batch = list(
            due.values_list("pk", "public_id", "user_id", "file", "thumbnail", "byte_size")[
                : min(100, limit - report.images)
            ]
        )
        if not batch:
            return
        storage_delete([name for row in batch for name in (row[3], row[4])])
        with transaction.atomic():
            # Still due (a restore may have won the race): only those rows go.
            deleted, _ = Image.objects.filter(
                pk__in=[row[0] for row in batch], deleted_at__lt=cutoff
            ).delete()
        for _, public_id, user_id, file, _, size in batch:
            logger.info("purge: image %s of user %s (%s, %d bytes)", public_id, user_id, file, size)
            report.image_ids.append(str(public_id))
            report.bytes += size
        report.images += len(batch)
        if not deleted:
            return


def jobs_purge(*, now: dt.datetime | None = None, limit: int, report: PurgeReport) -> None:
    """Remove trashed jobs past the trash period once their images are gone (not held)."""
    cutoff = trash_cutoff(now)
    due = (
        Job.objects.filter(deleted_at__lt=cutoff)
        .exclude(job_held_q())
        .exclude(images__isnull=False)
        .order_by("id")
    )
    pks = list(due.values_list("pk", "public_id")[: max(0, limit)])
    if not pks:
        return
    with transaction.atomic():
        Job.objects.filter(pk__in=[pk for pk, _ in pks], deleted_at__lt=cutoff).delete()
    for _, public_id in pks:
        logger.info("purge: job %s", public_id)
    report.jobs += len(pks)
