"""Retention: the purge removes rows and files together after the trash period (local storage
and S3), is idempotent and resumable, respects legal holds; retention policies; team storage
quotas; the storage audit; files go with their rows on every delete path."""

import datetime as dt
import io

import boto3
import pytest
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone
from moto import mock_aws

from accounts.models import Team
from gallery import services
from gallery.models import Collection
from gallery.retention import purge_run
from generation.models import Image, Job
from generation.retention import StorageQuotaExceeded, jobs_trash, storage_audit, storage_status
from tests.apiclient import bearer
from tests.factories import make_image, make_job

pytestmark = pytest.mark.django_db

LATER = dt.timedelta(days=31)


def _exists(image: Image) -> tuple[bool, bool]:
    return default_storage.exists(image.file.name), default_storage.exists(image.thumbnail.name)


def _trash(owner, *images):
    services.images_delete(user=owner, image_ids=[i.public_id for i in images])


# --- The purge -----------------------------------------------------------------------------


def test_purge_after_the_period_removes_files_and_rows_not_before(owner, settings):
    settings.TRASH_DAYS = 30
    image, kept = make_image(owner), make_image(owner, seed=1)
    _trash(owner, image)
    report = purge_run(now=timezone.now() + dt.timedelta(days=29))
    assert report.images == 0 and _exists(image) == (True, True)
    report = purge_run(now=timezone.now() + LATER)
    assert report.images == 1 and report.image_ids == [str(image.public_id)]
    assert report.bytes == image.byte_size
    assert not Image.objects.filter(pk=image.pk).exists()
    assert _exists(image) == (False, False)
    assert _exists(kept) == (True, True)
    # Idempotent: a second run finds nothing and breaks nothing.
    assert purge_run(now=timezone.now() + LATER).total == 0


def test_purge_removes_trashed_jobs_and_collections_too(owner):
    job = make_job(owner, n=2)
    services.collection_delete(
        user=owner, collection=services.collection_create(user=owner, name="x")
    )
    jobs_trash(user=owner, job_ids=[job.public_id])
    report = purge_run(now=timezone.now() + LATER)
    assert (report.images, report.jobs, report.collections) == (2, 1, 1)
    assert not Job.objects.exists() and not Collection.objects.exists()


def test_purge_is_resumable_in_batches_and_survives_files_already_gone(owner):
    images = [make_image(owner, seed=seed) for seed in range(3)]
    _trash(owner, *images)
    default_storage.delete(images[0].file.name)  # a run cut short after its files went
    first = purge_run(now=timezone.now() + LATER, limit=2)
    assert first.images == 2 and Image.objects.count() == 1
    second = purge_run(now=timezone.now() + LATER, limit=2)
    assert second.images == 1 and not Image.objects.exists()
    assert not any(any(_exists(i)) for i in images)


def test_a_legal_hold_on_the_user_or_team_stops_the_purge(owner, team):
    image = make_image(owner)
    _trash(owner, image)
    owner.profile.legal_hold_since = timezone.now()
    owner.profile.save()
    assert purge_run(now=timezone.now() + LATER).images == 0
    assert _exists(image) == (True, True)
    owner.profile.legal_hold_since = None
    owner.profile.save()
    Team.objects.filter(pk=team.pk).update(legal_hold_since=timezone.now())
    assert purge_run(now=timezone.now() + LATER).images == 0
    Team.objects.filter(pk=team.pk).update(legal_hold_since=None)
    assert purge_run(now=timezone.now() + LATER).images == 1


def test_purge_on_s3(owner, monkeypatch):
    """The same purge against an S3 bucket (moto): objects go with their rows."""
    for name, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_EC2_METADATA_DISABLED": "true",
    }.items():
        monkeypatch.setenv(name, value)
    s3 = {
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {"bucket_name": "qwen-test", "region_name": "us-east-1"},
        },
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }
    with mock_aws(), override_settings(STORAGES=s3):
        boto3.client("s3", region_name="us-east-1").create_bucket(Bucket="qwen-test")
        image, kept = make_image(owner), make_image(owner, seed=1)
        keys = {
            o["Key"] for o in boto3.client("s3").list_objects_v2(Bucket="qwen-test")["Contents"]
        }
        assert image.file.name in keys and image.thumbnail.name in keys
        _trash(owner, image)
        assert purge_run(now=timezone.now() + LATER).images == 1
        listed = boto3.client("s3").list_objects_v2(Bucket="qwen-test")["Contents"]
        keys = {o["Key"] for o in listed}
        assert keys == {kept.file.name, kept.thumbnail.name}
        assert not Image.objects.filter(pk=image.pk).exists()
        # The audit walks the bucket the same way.
        default_storage.save("images/stray/0.png", ContentFile(b"x"))
        report = storage_audit()
        assert report.files == 3 and report.missing == []


# --- Retention policies --------------------------------------------------------------------


def test_a_team_policy_trashes_old_images_unless_starred_or_in_a_collection(owner, team):
    Team.objects.filter(pk=team.pk).update(retention_image_days=10)
    old, starred, collected = (make_image(owner, seed=s) for s in range(3))
    services.favorite_set(user=owner, image=starred)
    services.collection_create(user=owner, name="keep", image_ids=[collected.public_id])
    assert purge_run(now=timezone.now() + dt.timedelta(days=9)).retained == 0
    report = purge_run(now=timezone.now() + dt.timedelta(days=11))
    assert report.retained == 1
    assert set(Image.objects.filter(deleted_at__isnull=False)) == {old}
    # Then the trash period runs before anything is removed.
    assert purge_run(now=timezone.now() + dt.timedelta(days=11 + 29)).images == 0
    assert purge_run(now=timezone.now() + dt.timedelta(days=11 + 31)).images == 1


def test_the_site_default_applies_to_teams_without_a_policy(owner, outsider, other_team, settings):
    settings.RETENTION_IMAGE_DAYS = 5
    Team.objects.filter(pk=other_team.pk).update(retention_image_days=0)  # keep forever
    mine, theirs = make_image(owner), make_image(outsider)
    purge_run(now=timezone.now() + dt.timedelta(days=6))
    assert Image.objects.get(pk=mine.pk).deleted_at is not None
    assert Image.objects.get(pk=theirs.pk).deleted_at is None


def test_a_legal_hold_stops_retention_too(owner, team):
    Team.objects.filter(pk=team.pk).update(retention_image_days=1, legal_hold_since=timezone.now())
    make_image(owner)
    assert purge_run(now=timezone.now() + dt.timedelta(days=3)).retained == 0


# --- Storage quota -------------------------------------------------------------------------


def test_a_full_team_gets_a_clear_error_on_the_page_and_the_api(
    owner, teammate, team, owner_client, client
):
    image = make_image(owner)
    Team.objects.filter(pk=team.pk).update(storage_quota_bytes=image.stored_bytes)
    team.refresh_from_db()
    status = storage_status(user=owner, team=team)
    assert status.full and status.used == image.byte_size + image.thumbnail_byte_size
    with pytest.raises(StorageQuotaExceeded, match="Team Studio's storage is full"):
        make_job(teammate, seed=3)
    response = client.post(
        "/v1/jobs", {"prompt": "x"}, content_type="application/json", **bearer(owner)
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "storage_quota_exceeded"
    form = {
        "prompt": "a fox",
        "size": "square",
        "num_inference_steps": 30,
        "guidance_scale": 2.5,
        "acceleration": "none",
        "n": 1,
    }
    page = owner_client.post(reverse("generate"), form, follow=True)
    assert "storage is full" in page.content.decode()
    assert Job.objects.count() == 1
    # Trashed images still count until the trash is emptied.
    _trash(owner, image)
    assert storage_status(user=owner, team=team).full
    owner_client.post(reverse("trash-empty"))
    assert not storage_status(user=owner, team=team).full


def test_no_quota_means_unlimited(owner, team):
    make_image(owner)
    assert not storage_status(user=owner, team=team).full
    make_job(owner, seed=5)


# --- Storage audit -------------------------------------------------------------------------


def _age_everything(monkeypatch):
    monkeypatch.setattr(
        "generation.retention.audit.GRACE", dt.timedelta(seconds=-1)
    )  # no file is too young


def test_storage_audit_finds_orphans_and_rows_without_files_and_deletes_them(
    owner, monkeypatch, django_capture_on_commit_callbacks
):
    _age_everything(monkeypatch)
    healthy, broken = make_image(owner), make_image(owner, seed=1)
    default_storage.delete(broken.file.name)
    orphan = default_storage.save("images/ghost/0.png", ContentFile(b"png"))
    out = io.StringIO()
    call_command("storage_audit", stdout=out)
    text = out.getvalue()
    assert f"orphan file: {orphan}" in text
    assert f"missing file: image {broken.public_id}" in text
    assert Image.objects.count() == 2 and default_storage.exists(orphan)
    with django_capture_on_commit_callbacks(execute=True):
        call_command("storage_audit", "--delete", stdout=io.StringIO())
    assert not default_storage.exists(orphan)
    assert list(Image.objects.all()) == [healthy] and _exists(healthy) == (True, True)
    assert not default_storage.exists(broken.thumbnail.name)
    report = storage_audit()
    assert report.orphans == [] and report.missing == []


def test_storage_audit_leaves_files_of_a_running_job_alone(owner, monkeypatch):
    _age_everything(monkeypatch)
    job = make_job(owner, run=False)
    name = default_storage.save(f"images/{job.public_id}/0.png", ContentFile(b"png"))
    assert name not in storage_audit(delete=True).orphans
    assert default_storage.exists(name)


# --- Every delete path takes the files -----------------------------------------------------


def test_admin_and_queryset_deletes_of_images_and_jobs_remove_files(
    owner, django_capture_on_commit_callbacks
):
    image, job = make_image(owner), make_job(owner, n=2, seed=9)
    with django_capture_on_commit_callbacks(execute=True):
        Image.objects.filter(pk=image.pk).delete()
        Job.objects.filter(pk=job.pk).delete()
    assert _exists(image) == (False, False)
    assert not any(default_storage.exists(f"images/{job.public_id}/{i}.png") for i in range(2))


def test_deleting_a_user_removes_their_files(owner, django_capture_on_commit_callbacks):
    image = make_image(owner)
    with django_capture_on_commit_callbacks(execute=True):
        get_user_model().objects.filter(pk=owner.pk).delete()
    assert _exists(image) == (False, False)


def test_deleting_a_team_keeps_its_images_and_files(
    owner, team, django_capture_on_commit_callbacks
):
    image = make_image(owner)
    with django_capture_on_commit_callbacks(execute=True):
        team.delete()
    image.refresh_from_db()
    assert image.team_id is None and _exists(image) == (True, True)


def test_admin_image_delete_page_removes_files(
    staff_client, owner, django_capture_on_commit_callbacks
):
    image = make_image(owner)
    url = reverse("admin:generation_image_delete", args=[image.pk])
    with django_capture_on_commit_callbacks(execute=True):
        response = staff_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    assert _exists(image) == (False, False)
