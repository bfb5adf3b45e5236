import datetime as dt

import pytest
from django.core.files.storage import default_storage
from django.db.models import F
from django.utils import timezone

from generation import lifecycle, reaper, runner
from generation.backends import BackendError, GeneratedImage
from generation.imaging import read_parameters
from generation.models import Image, Job
from generation.params import GenerationParams
from tests.factories import make_job, make_params, png_bytes

pytestmark = pytest.mark.django_db


class ScriptedBackend:
    """Plays back a list of outcomes: an exception to raise or a list of images to return."""

    name = "scripted"

    def __init__(self, *outcomes, on_call=None):
        self.outcomes = list(outcomes)
        self.calls = 0
        self.on_call = on_call

    def generate(self, request, *, on_progress, should_cancel):
        self.calls += 1
        if self.on_call:
            self.on_call(request)
        outcome = self.outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        on_progress(1.0)
        return outcome


@pytest.fixture
def use_backend(monkeypatch):
    def install(backend):
        monkeypatch.setattr(runner, "get_backend", lambda name=None: backend)
        return backend

    return install


def _images(request_seeds, size=(64, 48)):
    return [GeneratedImage(data=png_bytes(*size), seed=s) for s in request_seeds]


def test_job_create_records_a_seed_and_every_parameter(owner):
    job = lifecycle.job_create(user=owner, params=make_params(seed=None, n=3, size="square_hd"))
    assert job.status == Job.Status.QUEUED
    assert 0 <= job.seed <= 2**32 - 3
    assert (job.width, job.height, job.size_preset, job.n) == (1024, 1024, "square_hd", 3)
    assert job.team is not None and job.backend == "demo"


def test_whole_path_stores_images_with_parameters_and_thumbnails(owner):
    job = make_job(owner, n=2, seed=1000)
    assert job.status == Job.Status.SUCCEEDED
    assert job.progress == 1.0 and job.attempts == 1 and job.finished_at
    images = list(job.images.order_by("index"))
    assert [i.seed for i in images] == [1000, 1001]
    for image in images:
        assert image.file.name == f"images/{job.public_id}/{image.index}.png"
        png = default_storage.open(image.file.name).read()
        assert read_parameters(png)["seed"] == image.seed
        assert read_parameters(png)["prompt"] == job.prompt
        assert default_storage.exists(image.thumbnail.name)
        assert (image.width, image.height) == (512, 512)


def test_second_delivery_of_a_claimed_job_does_nothing(owner, use_backend):
    job = lifecycle.job_create(user=owner, params=make_params())
    backend = use_backend(ScriptedBackend(_images([42])))
    runner.job_run(job_id=job.pk)
    runner.job_run(job_id=job.pk)  # duplicate delivery
    assert backend.calls == 1
    assert Image.objects.filter(job=job).count() == 1


def test_claim_refuses_a_running_job_with_a_live_lease(owner):
    job = lifecycle.job_create(user=owner, params=make_params())
    assert runner.job_claim(job_id=job.pk) is not None
    assert runner.job_claim(job_id=job.pk) is None


def test_retryable_fault_requeues_with_the_error_recorded(owner, use_backend):
    job = lifecycle.job_create(user=owner, params=make_params())
    use_backend(ScriptedBackend(BackendError("busy", code="rate_limited", retryable=True)))
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED
    assert (job.attempts, job.error_code) == (1, "rate_limited")
    assert job.next_attempt_at > timezone.now() - dt.timedelta(seconds=1)


def test_retryable_faults_then_success(owner, use_backend):
    job = lifecycle.job_create(user=owner, params=make_params())
    fault = BackendError("boom", code="upstream_error", retryable=True)
    use_backend(ScriptedBackend(fault, fault, _images([42])))
    for _ in range(3):
        runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 3
    assert job.error_code == ""


def test_retryable_faults_give_up_at_the_attempt_cap(owner, use_backend, settings):
    settings.GENERATION_MAX_ATTEMPTS = 3
    job = lifecycle.job_create(user=owner, params=make_params())
    fault = BackendError("upstream 500", code="upstream_error", retryable=True)
    use_backend(ScriptedBackend(fault, fault, fault))
    for _ in range(3):
        runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED
    assert job.error_code == "upstream_error"
    assert "gave up after 3 attempts" in job.error_message


def test_permanent_fault_fails_at_once_with_the_message(owner, use_backend):
    job = lifecycle.job_create(user=owner, params=make_params())
    use_backend(
        ScriptedBackend(BackendError("prompt rejected", code="bad_request", retryable=False))
    )
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert (job.status, job.attempts, job.error_message) == ("failed", 1, "prompt rejected")


def test_an_undecodable_image_leaves_no_file_and_no_row(owner, use_backend, settings):
    settings.GENERATION_MAX_ATTEMPTS = 1
    job = lifecycle.job_create(user=owner, params=make_params(n=2))
    good = GeneratedImage(data=png_bytes(), seed=42)
    truncated = GeneratedImage(data=png_bytes()[:80], seed=43)
    use_backend(ScriptedBackend([good, truncated]))
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error_code == "invalid_image"
    assert not default_storage.exists(f"images/{job.public_id}/0.png")
    assert not Image.objects.filter(job=job).exists()


def test_cancel_a_queued_job_at_once(owner):
    job = lifecycle.job_create(user=owner, params=make_params())
    job = lifecycle.job_cancel(job=job)
    assert job.status == Job.Status.CANCELED
    runner.job_run(job_id=job.pk)  # a late delivery must not run it
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED and job.attempts == 0


def test_cancel_a_running_job_discards_its_images(owner, use_backend):
    job = lifecycle.job_create(user=owner, params=make_params())
    use_backend(
        ScriptedBackend(
            _images([42]), on_call=lambda request: lifecycle.job_cancel(job=Job.objects.get())
        )
    )
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.CANCELED
    assert not Image.objects.filter(job=job).exists()
    assert not default_storage.exists(f"images/{job.public_id}/0.png")


def test_demo_backend_stops_between_steps_when_canceled(owner, monkeypatch):
    job = lifecycle.job_create(user=owner, params=make_params())
    Job.objects.filter(pk=job.pk).update(cancel_requested=True, status=Job.Status.RUNNING)
    # The demo backend checks should_cancel before each step.
    from generation.backends.demo import DemoBackend

    checks = []
    backend = DemoBackend(step_delay=0)

    def cancel_now():
        checks.append(1)
        return True

    with pytest.raises(runner.Canceled):
        backend.generate(
            GenerationParams.from_job(job).backend_request(model=job.model),
            on_progress=lambda f: None,
            should_cancel=cancel_now,
        )
    assert checks == [1]


def test_reaper_requeues_an_expired_lease(owner, monkeypatch):
    enqueued = []
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda job_pk, delay=0: enqueued.append(job_pk))
    job = lifecycle.job_create(user=owner, params=make_params())
    runner.job_claim(job_id=job.pk)
    Job.objects.filter(pk=job.pk).update(lease_expires_at=timezone.now() - dt.timedelta(seconds=1))
    counts = reaper.jobs_reap()
    job.refresh_from_db()
    assert counts["requeued"] == 1 and enqueued == [job.pk]
    assert job.status == Job.Status.QUEUED and job.error_code == "worker_lost"
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2


def test_reaper_fails_a_job_that_keeps_losing_its_worker(owner, monkeypatch, settings):
    settings.GENERATION_MAX_ATTEMPTS = 2
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda job_pk, delay=0: None)
    job = lifecycle.job_create(user=owner, params=make_params())
    for _ in range(2):
        runner.job_claim(job_id=job.pk)
        Job.objects.filter(pk=job.pk).update(
            lease_expires_at=timezone.now() - dt.timedelta(seconds=1)
        )
        reaper.jobs_reap()
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error_code == "worker_lost"
    assert "stopped responding 2 times" in job.error_message


def test_reaper_recovers_a_lost_enqueue(owner, monkeypatch):
    enqueued = []
    monkeypatch.setattr(lifecycle, "job_enqueue", lambda job_pk, delay=0: enqueued.append(job_pk))
    job = lifecycle.job_create(user=owner, params=make_params())
    assert reaper.jobs_reap()["reenqueued"] == 0  # fresh: leave it alone
    Job.objects.filter(pk=job.pk).update(enqueued_at=timezone.now() - dt.timedelta(hours=1))
    assert reaper.jobs_reap()["reenqueued"] == 1
    assert enqueued == [job.pk]


def test_retry_puts_a_failed_job_back_in_the_queue(owner, use_backend):
    job = lifecycle.job_create(user=owner, params=make_params())
    use_backend(ScriptedBackend(BackendError("no", code="bad_request", retryable=False)))
    runner.job_run(job_id=job.pk)
    job = lifecycle.job_retry(job=Job.objects.get(pk=job.pk))
    assert (job.status, job.attempts, job.error_code) == ("queued", 0, "")
    with pytest.raises(lifecycle.JobNotRetryable):
        lifecycle.job_retry(job=job)


def test_job_is_enqueued_after_commit_and_runs_in_the_worker(
    owner, django_capture_on_commit_callbacks
):
    # HUEY is immediate in tests: the on_commit enqueue runs the task right away.
    with django_capture_on_commit_callbacks(execute=True):
        job = lifecycle.job_create(user=owner, params=make_params(n=2))
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED
    assert job.images.count() == 2


def test_a_worker_that_lost_its_lease_stores_nothing_and_logs_no_success(
    owner, use_backend, caplog
):
    job = lifecycle.job_create(user=owner, params=make_params())

    def another_worker_takes_over(request):
        Job.objects.filter(pk=job.pk).update(attempts=F("attempts") + 1)

    use_backend(ScriptedBackend(_images([42]), on_call=another_worker_takes_over))
    with caplog.at_level("INFO", logger="qwen.jobs"):
        runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.RUNNING  # still the other worker's
    assert not Image.objects.filter(job=job).exists()
    events = [r.getMessage() for r in caplog.records]
    assert any("event=lost_lease" in e for e in events)
    assert not any("event=succeeded" in e for e in events)
