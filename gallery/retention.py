"""Retention policies and the periodic purge, where favorites and collections are known.

- Policy: per team (Team.retention_image_days) or the site default (RETENTION_IMAGE_DAYS),
  images older than D days go to the trash unless starred or in a live collection, or held.
- Purge: trashed collections, images and jobs past TRASH_DAYS go for good (rows and files;
  generation.retention.purge says how it stays idempotent and resumable). Legal holds stop
  both.
"""

import datetime as dt
import logging

from django.conf import settings
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone

from accounts.models import Team
from gallery.models import Collection, CollectionItem, Favorite
from generation.models import Image
from generation.retention import PurgeReport, image_held_q, images_purge, jobs_purge, trash_cutoff

logger = logging.getLogger("generation.retention")


def _kept_q() -> Q:
    """Images a retention policy never trashes: starred, in a live collection, or held."""
    starred = Exists(Favorite.objects.filter(image=OuterRef("pk")))
    collected = Exists(
        CollectionItem.objects.filter(image=OuterRef("pk"), collection__deleted_at__isnull=True)
    )
    return Q(starred) | Q(collected) | image_held_q()


def retention_apply(*, now: dt.datetime | None = None, limit: int, report: PurgeReport) -> None:
    """Move images past their team's (or the site's) retention period to the trash."""
    now = now or timezone.now()
    policies: dict[int, list[int]] = {}
    for team_id, days in Team.objects.filter(retention_image_days__isnull=False).values_list(
        "pk", "retention_image_days"
    ):
        policies.setdefault(days, []).append(team_id)
    explicit = [team_id for ids in policies.values() for team_id in ids]
    scopes = [(days, Q(team_id__in=ids)) for days, ids in policies.items()]
    if settings.RETENTION_IMAGE_DAYS:
        scopes.append((settings.RETENTION_IMAGE_DAYS, ~Q(team_id__in=explicit)))
    for days, scope in scopes:
        if not days or report.retained >= limit:
            continue
        due = (
            Image.objects.filter(
                scope, deleted_at__isnull=True, created_at__lt=now - dt.timedelta(days=days)
            )
            .exclude(_kept_q())
            .order_by("id")
        )
        pks = list(due.values_list("pk", flat=True)[: limit - report.retained])
        if pks:
            moved = Image.objects.filter(pk__in=pks, deleted_at__isnull=True).update(deleted_at=now)
            logger.info("retention: %d images older than %d days moved to the trash", moved, days)
            report.retained += moved


def collections_purge(*, now: dt.datetime | None = None, limit: int, report: PurgeReport) -> None:
    cutoff = trash_cutoff(now)
    held = Q(user__profile__legal_hold_since__isnull=False) | Q(
        team__legal_hold_since__isnull=False
    )
    due = Collection.objects.filter(deleted_at__lt=cutoff).exclude(held).order_by("id")
    rows = list(due.values_list("pk", "public_id")[:limit])
    if rows:
        Collection.objects.filter(pk__in=[pk for pk, _ in rows], deleted_at__lt=cutoff).delete()
        for _, public_id in rows:
            logger.info("purge: collection %s", public_id)
        report.collections += len(rows)


def purge_run(*, now: dt.datetime | None = None, limit: int | None = None) -> PurgeReport:
    """One run of the periodic purge: policies first, then the trash. Safe to run twice, or
    at once in two processes; stops after `limit` objects of each kind (the next run goes on)."""
    limit = limit or settings.RETENTION_PURGE_BATCH
    report = PurgeReport()
    retention_apply(now=now, limit=limit, report=report)
    collections_purge(now=now, limit=limit, report=report)
    images_purge(now=now, limit=limit, report=report)
    jobs_purge(now=now, limit=limit, report=report)
    if report.total or report.retained:
        logger.info(
            "purge: %d images (%d bytes), %d jobs, %d collections removed; %d images trashed "
            "by retention policies",
            report.images,
            report.bytes,
            report.jobs,
            report.collections,
            report.retained,
        )
    return report
