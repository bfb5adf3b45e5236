"""Queues by capability: local jobs wait on the GPU queue, which only run_gpu_worker reads.

The queues run for real here (in-memory Huey, immediate mode off); consumers are simulated by
dequeuing and executing the way Huey's worker loop does.
"""

import datetime as dt
import io

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from generation import lifecycle, reaper
from generation.backends import reset_backends
from generation.consumers.heartbeat import Heartbeat, heartbeat_stop
from generation.models import Job, Worker
from generation.queues import DEFAULT, GPU, huey_for, queue_for
from generation.selectors import consumers_alive, job_waiting_notice, queue_overview
from generation.tasks import run_job
from tests.factories import make_params

pytestmark = pytest.mark.usefixtures("no_network")


@pytest.fixture
def queues(monkeypatch):
    """Both queues for real, emptied before and after."""
    # Tasks close the thread's connections around each run, which here would close the
    # test's own transaction.
    monkeypatch.setattr("huey.contrib.djhuey.close_old_connections", lambda: None)
    hueys = {name: huey_for(name) for name in (DEFAULT, GPU)}
    for huey in hueys.values():
        huey.immediate = False
        huey.flush()
    yield hueys
    for huey in hueys.values():
        huey.flush()
        huey.immediate = True


def _consume(huey) -> list[str]:
    """What a consumer of this queue would do: run every message in it."""
    ran = []
    while (task := huey.dequeue()) is not None:
        ran.append(task.name)
        huey.execute(task)
    return ran


def _create(user, capture, **params) -> Job:
    values = {"size": "64x32", "seed": 1, "num_inference_steps": 2, "guidance_scale": 4.0}
    values.update(params)
    values.setdefault("enable_safety_checker", False)
    with capture(execute=True):
        job = lifecycle.job_create(user=user, params=make_params(**values))
    return job


def _alive(queue: str, **fields) -> Worker:
    now = timezone.now()
    values = {
        "hostname": "gpu-1",
        "pid": 1,
        "queue": queue,
        "backends": "local" if queue == GPU else "remote,demo",
        "started_at": now,
        "last_seen_at": now,
    }
    values.update(fields)
    return Worker.objects.create(name=f"gpu-1:{values['pid']}:{queue}", **values)


def test_each_backend_has_its_queue():
    assert queue_for("local") == GPU
    assert queue_for("remote") == queue_for("demo") == DEFAULT
    assert huey_for(GPU).name.endswith(".gpu") and huey_for(GPU) is not huey_for(DEFAULT)


@pytest.mark.django_db
def test_a_consumer_without_the_gpu_queue_never_runs_a_local_job(
    owner, local, settings, queues, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    job = _create(owner, capture)
    settings.QWEN_IMAGE_BACKEND = "demo"
    demo = _create(owner, capture, size="256x256")
    assert queues[GPU].pending_count() == 1 and queues[DEFAULT].pending_count() == 1

    assert _consume(queues[DEFAULT]) == ["run_job"]
    job.refresh_from_db()
    demo.refresh_from_db()
    assert demo.status == Job.Status.SUCCEEDED
    assert job.status == Job.Status.QUEUED and job.attempts == 0  # untouched

    assert _consume(queues[GPU]) == ["run_gpu_job"]
    job.refresh_from_db()
    assert job.status == Job.Status.SUCCEEDED, job.error_message


@pytest.mark.django_db
def test_a_local_job_message_on_the_default_queue_is_passed_on_unrun(
    owner, local, queues, django_capture_on_commit_callbacks
):
    job = _create(owner, django_capture_on_commit_callbacks)
    queues[GPU].flush()
    run_job(job.pk)  # what a queue written before this upgrade may still hold
    assert _consume(queues[DEFAULT]) == ["run_job"]
    job.refresh_from_db()
    assert job.status == Job.Status.QUEUED and job.attempts == 0
    assert queues[GPU].pending_count() == 1  # handed to the GPU queue instead


@pytest.mark.django_db
def test_a_retry_of_a_local_job_goes_back_to_the_gpu_queue(owner, local, queues):
    job = Job.objects.create(
        user=owner, backend="local", model="qwen-image", prompt="p", width=64, height=32, seed=1
    )
    lifecycle.job_enqueue(job_pk=job.pk, delay=30)
    assert queues[GPU].pending_count() == 1 and queues[DEFAULT].pending_count() == 0
    assert queues[GPU].pending()[0].eta is not None  # a delayed retry, on the GPU queue


# --- Who serves what --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_queued_local_job_says_when_no_gpu_worker_serves_it(owner, owner_client):
    job = Job.objects.create(
        user=owner, backend="local", model="qwen-image", prompt="p", width=64, height=32, seed=1
    )
    notice = job_waiting_notice(job=job)
    assert notice.startswith("No GPU worker for the local backend is running")
    page = owner_client.get(f"/jobs/{job.public_id}/").content.decode()
    assert "manage.py run_gpu_worker" in page
    status = owner_client.get(f"/jobs/{job.public_id}/status/").json()
    assert status["notice"] == notice

    stale = _alive(GPU, pid=2, last_seen_at=timezone.now() - dt.timedelta(minutes=10))
    assert job_waiting_notice(job=job)  # a consumer that stopped beating does not count
    _alive(GPU, pid=3, state=Worker.State.STOPPED)
    assert job_waiting_notice(job=job)
    _alive(GPU, pid=4)
    assert job_waiting_notice(job=job) == ""
    assert owner_client.get(f"/jobs/{job.public_id}/status/").json()["notice"] == ""
    assert list(consumers_alive(queue=GPU).values_list("pid", flat=True)) == [4]
    assert stale.pk not in consumers_alive().values_list("pk", flat=True)


@pytest.mark.django_db
def test_healthz_shows_each_queue_its_consumers_and_what_waits(anonymous_client, owner):
    Job.objects.create(
        user=owner, backend="local", model="qwen-image", prompt="p", width=64, height=32, seed=1
    )
    _alive(DEFAULT, pid=7)
    body = anonymous_client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["queues"]["default"]["backends"] == ["remote", "demo"]
    assert body["queues"]["default"]["consumers"] == 1
    assert body["queues"]["gpu"] == {
        "backends": ["local"],
        "consumers": 0,
        "queued_jobs": 1,
        "pending_tasks": 0,
    }
    assert body["warnings"] == [
        "1 job(s) for local wait on the gpu queue and no consumer serves it"
    ]
    assert "gpu-1" not in str(body)  # hosts and pids are for the admin, not the public probe


@pytest.mark.django_db
def test_the_admin_lists_consumers_and_queues_to_staff_only(staff_client, owner_client, owner):
    _alive(GPU, pid=9, device="cuda:0 · NVIDIA H200 · 139 GiB", note="Lightning ok")
    _alive(DEFAULT, pid=10, last_seen_at=timezone.now() - dt.timedelta(hours=1))
    page = staff_client.get("/admin/generation/worker/")
    body = page.content.decode()
    assert page.status_code == 200
    assert "NVIDIA H200" in body and "Queues" in body and "remote, demo" in body
    assert body.count('alt="True"') == 1 and body.count('alt="False"') == 1
    assert owner_client.get("/admin/generation/worker/").status_code == 302
    overview = {entry["queue"]: entry for entry in queue_overview()}
    assert overview["gpu"]["consumers"] == 1 and overview["default"]["consumers"] == 0


@pytest.mark.django_db(transaction=True)
def test_a_consumer_announces_itself_beats_and_says_when_it_stops(settings):
    settings.WORKER_HEARTBEAT_SECONDS = 0.05
    beat = Heartbeat(queue=GPU, device="cpu", state=Worker.State.LOADING).start()
    row = Worker.objects.get(name=beat.name)
    assert row.backend_list == ["local"] and row.state == "loading" and row.device == "cpu"
    first = row.last_seen_at
    beat.update(state=Worker.State.READY, note="Lightning lightning unavailable: …")
    import time

    time.sleep(0.3)
    row.refresh_from_db()
    assert row.state == "ready" and row.last_seen_at > first and "Lightning" in row.note
    beat.stop()
    row.refresh_from_db()
    assert row.state == "stopped" and not consumers_alive().exists()
    heartbeat_stop(queue=GPU)  # nothing running: no-op


# --- The reaper -------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_reaper_does_not_pile_up_messages_for_a_queue_nobody_reads(owner, queues, settings):
    settings.GENERATION_REQUEUE_AFTER_SECONDS = 60
    old = timezone.now() - dt.timedelta(minutes=10)
    job = Job.objects.create(
        user=owner,
        backend="local",
        model="qwen-image",
        prompt="p",
        width=64,
        height=32,
        seed=1,
        enqueued_at=old,
    )
    assert reaper.jobs_reap()["reenqueued"] == 0
    assert queues[GPU].pending_count() == 0
    _alive(GPU)  # a GPU worker is back: a lost message is worth sending again
    assert reaper.jobs_reap()["reenqueued"] == 1
    assert queues[GPU].pending_count() == 1
    job.refresh_from_db()
    assert job.enqueued_at > old


@pytest.mark.django_db
def test_the_reaper_forgets_consumers_gone_for_a_day():
    _alive(GPU, pid=1, last_seen_at=timezone.now() - dt.timedelta(days=2))
    kept = _alive(GPU, pid=2, last_seen_at=timezone.now() - dt.timedelta(hours=3))
    reaper.jobs_reap()
    assert list(Worker.objects.values_list("pk", flat=True)) == [kept.pk]


# --- run_gpu_worker -------------------------------------------------------------------------------


def test_run_gpu_worker_refuses_a_host_without_cuda_unless_told_to_use_the_cpu(
    local, settings, monkeypatch, db
):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)  # a CUDA host too
    settings.QWEN_IMAGE_LOCAL_DEVICE = ""
    with pytest.raises(CommandError) as error:
        call_command("run_gpu_worker", "--check")
    assert error.value.returncode == 3 and "sees no CUDA device" in str(error.value)
    settings.QWEN_IMAGE_LOCAL_DEVICE = "cpu"
    reset_backends()  # a new process, in effect
    out, err = io.StringIO(), io.StringIO()
    call_command("run_gpu_worker", "--check", stdout=out, stderr=err)
    assert "device: cpu (float32)" in out.getvalue()
    assert f"model: {local.model}, weights 17 MiB" in out.getvalue()
    assert err.getvalue() == ""


def test_run_gpu_worker_stops_at_a_model_no_job_could_load(local, settings, tmp_path, db):
    settings.QWEN_IMAGE_LOCAL_MODEL = str(tmp_path)  # a folder, but no pipeline in it
    with pytest.raises(CommandError) as error:
        call_command("run_gpu_worker", "--check")
    assert error.value.returncode == 3 and "has no model_index.json" in str(error.value)


@pytest.mark.django_db(transaction=True)
def test_run_gpu_worker_loads_then_reads_only_the_gpu_queue_with_one_thread(
    local, settings, monkeypatch
):
    settings.QWEN_IMAGE_LIGHTNING_LORA = str(local.root / "missing.safetensors")
    gpu = huey_for(GPU)
    ran = {}

    class FakeConsumer:
        def run(self):
            ran["row"] = Worker.objects.get(queue=GPU)

    def create_consumer(**options):
        ran["options"] = options
        return FakeConsumer()

    monkeypatch.setattr(gpu, "create_consumer", create_consumer)
    gpu.immediate = False
    try:
        out, err = io.StringIO(), io.StringIO()
        call_command("run_gpu_worker", stdout=out, stderr=err)
    finally:
        gpu.immediate = True
    assert ran["options"]["workers"] == 1 and ran["options"]["worker_type"] == "thread"
    assert ran["options"]["periodic"] is False
    row = ran["row"]
    assert row.state == "ready" and row.backend_list == ["local"] and row.device == "cpu"
    assert "Lightning lightning unavailable" in row.note and "missing.safetensors" in row.note
    assert "model loaded" in out.getvalue() and "warning: Lightning" in err.getvalue()
    assert Worker.objects.get(queue=GPU).state == "stopped"  # said so on the way out
