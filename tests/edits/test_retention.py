"""An edit's stored sources and mask under retention: they go with the job (trash then purge,
a permanent delete), and the storage audit counts them as known files, never orphans."""

import datetime as dt

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone

from gallery.retention import purge_run
from generation.models import EditInput
from generation.retention import jobs_delete_permanently, jobs_trash, storage_audit
from generation.retention.quota import storage_used
from tests.edits.helpers import box_mask, make_edit

pytestmark = pytest.mark.django_db


def _names(job) -> list[str]:
    return [row.file.name for row in job.edit_inputs.all()]


def test_purging_a_trashed_edit_removes_its_sources_and_mask(
    owner, settings, django_capture_on_commit_callbacks
):
    job = make_edit(owner, mask=box_mask())
    names = _names(job)
    assert len(names) == 2 and all(default_storage.exists(name) for name in names)
    jobs_trash(user=owner, job_ids=[job.public_id])
    assert all(default_storage.exists(name) for name in names)  # restorable meanwhile
    later = timezone.now() + dt.timedelta(days=settings.TRASH_DAYS + 1)
    with django_capture_on_commit_callbacks(execute=True):
        purge_run(now=later)
    assert not EditInput.objects.filter(job_id=job.pk).exists()
    assert not any(default_storage.exists(name) for name in names)


def test_an_edits_stored_sources_and_mask_count_toward_the_storage_quota(owner, team):
    before = storage_used(user=owner, team=team)
    job = make_edit(owner, mask=box_mask())
    assert job.team == team
    inputs = sum(row.byte_size for row in job.edit_inputs.all())
    result = job.images.get()
    assert inputs > 0
    assert storage_used(user=owner, team=team) == (
        before + inputs + result.byte_size + result.thumbnail_byte_size
    )


def test_a_permanent_delete_of_an_edit_removes_its_inputs(
    owner, django_capture_on_commit_callbacks
):
    job = make_edit(owner, mask=box_mask())
    names = _names(job)
    with django_capture_on_commit_callbacks(execute=True):
        jobs_delete_permanently(user=owner, job_ids=[job.public_id])
    assert not any(default_storage.exists(name) for name in names)


def test_the_storage_audit_knows_edit_inputs_and_finds_their_orphans(owner, monkeypatch):
    monkeypatch.setattr("generation.retention.audit.GRACE", dt.timedelta(seconds=-1))
    job = make_edit(owner, mask=box_mask())
    names = _names(job)
    ghost = default_storage.save("edits/ghost/image-0.png", ContentFile(b"png"))
    report = storage_audit(delete=True)
    assert not set(names) & set(report.orphans) and ghost in report.orphans
    assert all(default_storage.exists(name) for name in names)
    assert not default_storage.exists(ghost)
    default_storage.delete(names[0])
    missing = storage_audit()
    assert missing.missing_edit_inputs == [str(job.edit_inputs.get(file=names[0]).public_id)]
