"""Helpers that make users, teams, jobs and images for tests."""

import io

from django.contrib.auth import get_user_model
from PIL import Image as PILImage

from accounts.models import Membership, Profile, Team
from generation import lifecycle, runner
from generation.models import Image, Job
from generation.params import GenerationParams

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


def png_bytes(width: int = 64, height: int = 48, colour=(200, 30, 30), fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", (width, height), colour).save(buffer, fmt)
    return buffer.getvalue()
