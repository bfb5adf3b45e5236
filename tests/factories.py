"""Helpers that make users, teams, jobs and images for tests.

`make_job` / `make_image` go through the generation pipeline (job_create, then job_run on the
demo backend): use them where the pipeline is what a test is about, or where its output
matters (the drawn pixels, the PNG's embedded parameters, the safety verdict, quota use).
`make_job_row` / `make_image_row` write a finished job's rows directly, with small real
files in storage, and the usage ledger's rows the pipeline would have written: for tests
that only read (grids, searches, visibility, access checks, usage pages).
"""

import functools
import hashlib
import io

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.utils import timezone
from PIL import Image as PILImage

from accounts.models import Membership, Profile, Team
from generation import lifecycle, runner
from generation.models import Image, Job
from generation.params import GenerationParams
from usage.models import LedgerEntry, Reservation
from usage.prices import unit_price

PASSWORD = "correct horse battery staple"


def make_user(username: str, *, team: Team | None = None, role: str = "member", **extra):
    user = get_user_model().objects.create_user(
        username=username, email=f"{username}@example.com", password=PASSWORD, **extra
    )
    profile, _ = Profile.objects.get_or_create(user=user)
    if team is not None:
        Membership.objects.create(team=team, user=user, role=role)
        profile.current_team = team
        profile.save()
    return user


def make_team(name: str = "Studio") -> Team:
    return Team.objects.create(name=name)


def make_params(**overrides) -> GenerationParams:
    values = {"prompt": "a lighthouse at dusk", "size": "square", "n": 1, "seed": 42}
    values.update(overrides)
    return GenerationParams(**values)


def make_job(user, *, run: bool = True, visibility: str = "private", **params) -> Job:
    """A job created through the service and, by default, run on the demo backend."""
    job = lifecycle.job_create(user=user, params=make_params(**params), visibility=visibility)
    if run:
        runner.job_run(job_id=job.pk)
        job.refresh_from_db()
    return job


def make_image(user, **kwargs) -> Image:
    job = make_job(user, **kwargs)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    return job.images.get(index=0)


def make_job_row(
    user, *, visibility: str = "private", status: str = Job.Status.SUCCEEDED, **params
) -> Job:
    """A job written as rows, as the pipeline leaves it, without running the pipeline.

    The same parameters as `make_job` (validated by GenerationParams; the seed is fixed), the
    user's current team, the configured backend and model, and for a succeeded job one Image
    row per image with a real PNG and WebP thumbnail of the job's size in storage (one plain
    colour, not the demo backend's drawing) and their hashes. In the usage ledger, as the
    pipeline leaves it: the job's reservation (open while the job is active) and one settled
    unit per image for work that started. Nothing is quota-checked, enqueued, classified or
    sent to webhooks.
    """
    values = make_params(**params)
    team_id = Profile.objects.filter(user=user).values_list("current_team", flat=True).first()
    now = timezone.now()
    finished = status in Job.FINISHED
    job = Job.objects.create(
        user=user,
        team_id=team_id,
        backend=settings.QWEN_IMAGE_BACKEND,
        model=settings.QWEN_IMAGE_MODEL,
        **values.job_fields(),
        visibility=visibility,
        status=status,
        progress=1.0 if status == Job.Status.SUCCEEDED else 0.0,
        attempts=0 if status == Job.Status.QUEUED else 1,
        enqueued_at=now,
        started_at=None if status == Job.Status.QUEUED else now,
        finished_at=now if finished else None,
    )
    _ledger_rows(job)
    if status != Job.Status.SUCCEEDED:
        return job
    png, thumbnail, pixel_sha256 = _image_files(
        values.width, values.height, settings.GENERATION_THUMBNAIL_SIZE
    )
    rows = []
    for index in range(values.n):
        base = f"images/{job.public_id}/{index}"
        rows.append(
            Image(
                job=job,
                index=index,
                user=user,
                team_id=team_id,
                visibility=visibility,
                seed=values.seed + index,
                file=default_storage.save(f"{base}.png", ContentFile(png)),
                thumbnail=default_storage.save(f"{base}.thumb.webp", ContentFile(thumbnail)),
                width=values.width,
                height=values.height,
                byte_size=len(png),
                sha256=hashlib.sha256(png).hexdigest(),
                pixel_sha256=pixel_sha256,
            )
        )
    Image.objects.bulk_create(rows)
    return job


def _ledger_rows(job: Job) -> None:
    unit = unit_price(
        backend=job.backend,
        model=job.model,
        width=job.width,
        height=job.height,
        steps=job.num_inference_steps,
    ).unit_micros
    began = job.status != Job.Status.QUEUED
    Reservation.objects.create(
        user=job.user,
        team=job.team,
        job_ref=job.public_id,
        images=job.n,
        images_started=job.n if began else 0,
        unit_micros=unit,
        estimated=False,
        opened_at=job.created_at,
        first_started_at=job.started_at,
        closed_at=job.finished_at,
        outcome=job.status if job.finished_at else "",
    )
    if not began or job.status == Job.Status.CANCELED:
        return
    status = {Job.Status.RUNNING: "started"}.get(job.status, job.status)
    LedgerEntry.objects.bulk_create(
        LedgerEntry(
            user=job.user,
            team=job.team,
            job_ref=job.public_id,
            attempt=job.attempts,
            index=index,
            backend=job.backend,
            model=job.model,
            width=job.width,
            height=job.height,
            steps=job.num_inference_steps,
            status=status,
            cost_micros=unit,
            estimated=status == "started",
            started_at=job.started_at,
            settled_at=job.finished_at,
        )
        for index in range(job.n)
    )


def make_image_row(user, **kwargs) -> Image:
    """The first image of a `make_job_row` job."""
    return make_job_row(user, **kwargs).images.get(index=0)


@functools.cache
def _image_files(width: int, height: int, thumb_size: int) -> tuple[bytes, bytes, str]:
    """A plain PNG of this size, its WebP thumbnail and its pixel hash (made once per size)."""
    image = PILImage.new("RGB", (width, height), (90, 120, 150))
    pixel_sha256 = hashlib.sha256(image.tobytes()).hexdigest()
    png = io.BytesIO()
    image.save(png, "PNG", compress_level=1)
    image.thumbnail((thumb_size, thumb_size))
    thumbnail = io.BytesIO()
    image.save(thumbnail, "WEBP", quality=80)
    return png.getvalue(), thumbnail.getvalue(), pixel_sha256


def png_bytes(width: int = 64, height: int = 48, colour=(200, 30, 30), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buffer, fmt)
    return buffer.getvalue()
