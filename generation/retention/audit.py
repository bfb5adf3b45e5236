"""The storage audit: reconcile files and rows both ways.

- orphans: files under images/ and edits/ that no row names (a crash, an old bug, a manual
  copy); an edit's stored sources and mask (edits/<job>/, EditInput rows) are known files;
- missing: rows whose PNG is gone from storage (their page would show a broken image), and
  edit inputs whose copy is gone (that edit can no longer be rerun; reported, never deleted).

With delete=True orphans are removed and image rows whose PNG is missing are deleted. Files of a
job still running, and files younger than a grace period, are never called orphans: the
runner writes files before their rows.
"""

import datetime as dt
import logging
import re
from dataclasses import dataclass, field

from django.core.files.storage import default_storage
from django.utils import timezone

from generation.models import EditInput, Image, Job
from generation.retention.files import storage_delete

logger = logging.getLogger("generation.retention")

ROOTS = ("images", "edits")
GRACE = dt.timedelta(minutes=30)
_JOB_DIR = re.compile(r"^(?:images|edits)/([0-9a-f-]{36})/")


@dataclass
class AuditReport:
    files: int = 0
    rows: int = 0
    orphans: list[str] = field(default_factory=list)
    missing: list[str] = field(default_factory=list)  # public ids of rows without their PNG
    missing_thumbnails: list[str] = field(default_factory=list)
    missing_edit_inputs: list[str] = field(default_factory=list)  # public ids of EditInputs
    deleted_files: int = 0
    deleted_rows: int = 0


def _walk(directory: str):
    try:
        folders, files = default_storage.listdir(directory)
    except FileNotFoundError:
        return
    for name in files:
        yield f"{directory}/{name}"
    for folder in folders:
        yield from _walk(f"{directory}/{folder}")


def _young(name: str, now: dt.datetime) -> bool:
    try:
        return now - default_storage.get_modified_time(name) < GRACE
    except (NotImplementedError, OSError, ValueError):
        return True  # cannot tell: leave it


def storage_audit(*, delete: bool = False) -> AuditReport:
    report = AuditReport()
    stored = {name for root in ROOTS for name in _walk(root)}
    report.files = len(stored)
    known: set[str] = set()
    missing_rows: list[int] = []
    for pk, public_id, file, thumbnail in Image.objects.values_list(
        "pk", "public_id", "file", "thumbnail"
    ).iterator(chunk_size=2000):
        report.rows += 1
        known.update((file, thumbnail))
        if file not in stored:
            report.missing.append(str(public_id))
            missing_rows.append(pk)
        elif thumbnail and thumbnail not in stored:
            report.missing_thumbnails.append(str(public_id))
    for public_id, file in EditInput.objects.values_list("public_id", "file").iterator(
        chunk_size=2000
    ):
        known.add(file)
        if file not in stored:
            report.missing_edit_inputs.append(str(public_id))
    active = {
        str(job_id)
        for job_id in Job.objects.filter(status__in=Job.ACTIVE).values_list("public_id", flat=True)
    }
    now = timezone.now()
    for name in sorted(stored - known):
        match = _JOB_DIR.match(name)
        if match and match.group(1) in active:
            continue
        if _young(name, now):
            continue
        report.orphans.append(name)
    if delete:
        storage_delete(report.orphans)
        report.deleted_files = len(report.orphans)
        for name in report.orphans:
            logger.info("storage audit: removed orphan file %s", name)
        # Row deletes take their thumbnails too (generation.retention.files).
        deleted, _ = Image.objects.filter(pk__in=missing_rows).delete()
        report.deleted_rows = len(missing_rows)
        for public_id in report.missing:
            logger.info("storage audit: removed image %s whose file is missing", public_id)
    return report
