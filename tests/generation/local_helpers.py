"""Helpers of the local backend's tests: requests, jobs through the worker, progress records."""

import io

from django.core.files.storage import default_storage
from PIL import Image as PILImage

from generation import lifecycle, runner
from generation.backends import GenerationRequest
from generation.models import Job
from tests.factories import make_params


def make_request(**overrides) -> GenerationRequest:
    values = {
        "model": "qwen-image",
        "prompt": "a cat on the moon",
        "negative_prompt": "",
        "width": 64,
        "height": 32,
        "num_inference_steps": 3,
        "guidance_scale": 4.0,
        "acceleration": "none",
        "enable_safety_checker": False,
        "seeds": [5, 6],
    }
    values.update(overrides)
    return GenerationRequest(**values)


def submit(user, capture, **params) -> Job:
    """Create a job the way the form and API do; the on-commit enqueue runs it in the worker."""
    values = {"size": "64x32", "seed": 7, "num_inference_steps": 3, "guidance_scale": 4.0}
    values.update(params)
    values.setdefault("enable_safety_checker", False)
    with capture(execute=True):
        job = lifecycle.job_create(user=user, params=make_params(**values))
    job.refresh_from_db()
    return job


def pixels(image) -> bytes:
    with default_storage.open(image.file.name) as handle:
        return PILImage.open(io.BytesIO(handle.read())).convert("RGB").tobytes()


def record_progress(monkeypatch, on_step=None) -> list[float]:
    """Unthrottled progress writes; returns the job's stored progress after each one."""
    stored: list[float] = []

    class StepReporter(runner._Reporter):
        def __init__(self, job):
            super().__init__(job, min_interval=0.0)

        def progress(self, fraction):
            super().progress(fraction)
            stored.append(Job.objects.values_list("progress", flat=True).get(pk=self.job.pk))
            if on_step:
                on_step(self.job, len(stored))

    monkeypatch.setattr(runner, "_Reporter", StepReporter)
    return stored
