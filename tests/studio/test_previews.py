"""Images appear as each one is stored: the runner writes each image as the backend hands it
over, and the job's owner sees its thumbnail before the job ends."""

import pytest
from django.urls import reverse

from generation import runner
from generation.backends.base import GenerationRequest
from generation.backends.demo import DemoBackend
from generation.models import Job
from generation.safety import SafetyResult
from tests.factories import make_job, png_bytes

pytestmark = pytest.mark.django_db


def _running(owner, n=3) -> Job:
    job = make_job(owner, run=False, n=n)
    return runner.job_claim(job_id=job.pk)


def _one(seed=7):
    return runner.GeneratedImage(data=png_bytes(64, 48), seed=seed)


def test_each_image_is_stored_as_the_backend_hands_it_over(owner, monkeypatch):
    seen = []
    original = runner._Storer.add

    def spy(self, index, result):
        new = index not in self.rows
        original(self, index, result)
        if new:
            seen.append(list(Job.objects.get(pk=self.job.pk).ready_images))

    monkeypatch.setattr(runner._Storer, "add", spy)
    job = make_job(owner, n=3)
    assert seen == [[0], [0, 1], [0, 1, 2]]  # visible one by one while the job ran
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.ready_images == []
    assert job.images.count() == 3


def test_the_demo_backend_hands_over_each_image_at_once():
    handed = []
    request = GenerationRequest(
        model="m",
        prompt="p",
        negative_prompt=" ",
        width=64,
        height=64,
        num_inference_steps=1,
        guidance_scale=1,
        acceleration="none",
        enable_safety_checker=True,
        seeds=[1, 2],
    )
    results = DemoBackend(step_delay=0).generate(
        request,
        on_progress=lambda f: None,
        should_cancel=lambda: False,
        on_image=lambda i, image: handed.append((i, image.seed)),
    )
    assert handed == [(0, 1), (1, 2)] and len(results) == 2


def test_the_owner_sees_a_stored_image_before_the_job_ends(owner, owner_client):
    job = _running(owner)
    storer = runner._Storer(job)
    storer.add(1, _one())
    url = reverse("job-preview", args=[job.public_id, 1])
    response = owner_client.get(url)
    assert response.status_code == 200 and response["Content-Type"] == "image/webp"
    # Served like every image file: never sniffed, kept privately, and not for long.
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Cache-Control"] == "private, max-age=60"
    assert owner_client.get(reverse("job-preview", args=[job.public_id, 0])).status_code == 404
    live = owner_client.get(reverse("job-live"), {"job": f"{job.public_id}:"}).json()["jobs"][0]
    assert live["ready_images"] == [1]
    assert url in live["html"] and live["html"].count("<svg") == 2  # two still to come


def test_previews_are_the_owners_only(
    owner, teammate_client, outsider_client, anonymous_client, staff_client
):
    job = _running(owner)
    runner._Storer(job).add(0, _one())
    url = reverse("job-preview", args=[job.public_id, 0])
    assert teammate_client.get(url).status_code == 404
    assert outsider_client.get(url).status_code == 404
    assert anonymous_client.get(url).status_code == 404
    assert staff_client.get(url).status_code == 200


def test_an_image_held_by_the_safety_checker_is_not_shown_early(owner, owner_client, monkeypatch):
    monkeypatch.setattr(
        runner,
        "image_safety_check",
        lambda pil, provider_nsfw=None, preview=None: SafetyResult(0.99, True, "x"),
    )
    job = _running(owner)
    runner._Storer(job).add(0, _one())
    job.refresh_from_db()
    assert job.ready_images == []
    url = reverse("job-preview", args=[job.public_id, 0])
    assert owner_client.get(url).status_code == 404


def test_a_failed_run_removes_what_it_stored(owner):
    job = _running(owner)
    storer = runner._Storer(job)
    storer.add(0, _one())
    from django.core.files.storage import default_storage

    assert default_storage.exists(f"images/{job.public_id}/0.png")
    storer.discard()
    assert not default_storage.exists(f"images/{job.public_id}/0.png")
