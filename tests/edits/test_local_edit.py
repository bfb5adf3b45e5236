"""The local edit pipelines: the parameter mapping, and real edit jobs on a tiny random
Qwen-Image-Edit pipeline built offline on the CPU (tests/generation/tiny_qwen_edit.py), loaded
by the backend's own loader, with the network refused.

The real pipelines work on ~1 MP of every source whatever the output size; the tiny one is
run at 64×64 working size instead (diffusers' module constants, patched here only), so a run
takes seconds on a CPU.
"""

import io
import os
import socket
from types import SimpleNamespace

import pytest
from PIL import Image as PILImage

from generation.backends import BackendError, Canceled, EditRequest, GenerationRequest, get_backend
from generation.backends.local import LocalConfig
from generation.backends.local.device import slot_for
from generation.backends.local_edit import LocalEditBackend, edit_plan_for
from generation.models import Job
from tests.edits.helpers import box_mask, make_edit, photo, pixels

SKIP_REASON = "the [local] extra (torch, diffusers) is not installed: make test-deps installs it"


def _request(**overrides) -> GenerationRequest:
    values = {
        "model": "qwen-image-edit-plus",
        "prompt": "make it red",
        "negative_prompt": "",
        "width": 64,
        "height": 48,
        "num_inference_steps": 2,
        "guidance_scale": 4.0,
        "acceleration": "none",
        "enable_safety_checker": False,
        "seeds": [5],
        "edit": EditRequest(images=[photo(64, 48)]),
    }
    values.update(overrides)
    return GenerationRequest(**values)


# --- The mapping (no torch) -----------------------------------------------------------------


def test_plan_true_cfg_lightning_and_the_pipeline_for_a_mask():
    config = LocalConfig(model="m")
    plan = edit_plan_for(_request(), config)
    assert (plan.pipeline, plan.true_cfg_scale, plan.negative_prompt) == ("plus", 4.0, " ")
    masked = _request(edit=EditRequest(images=[b"a"], mask=b"m", strength=0.7))
    assert edit_plan_for(masked, config).pipeline == "inpaint"
    assert edit_plan_for(masked, config).strength == 0.7
    with_refs = _request(edit=EditRequest(images=[b"a", b"b"], mask=b"m"))
    assert edit_plan_for(with_refs, config).pipeline == "plus"  # the portal applies the mask
    lightning = LocalConfig(model="m", lightning_lora="/w/8.safetensors")
    fast = edit_plan_for(_request(acceleration="high", num_inference_steps=40), lightning)
    assert (fast.num_inference_steps, fast.true_cfg_scale, fast.negative_prompt) == (4, 1.0, None)
    assert (
        edit_plan_for(
            _request(acceleration="regular", num_inference_steps=40), config
        ).num_inference_steps
        == 20
    )


def test_sizes_not_multiple_of_16_are_refused_before_loading():
    backend = LocalEditBackend(LocalConfig(model="/does/not/exist"))
    with pytest.raises(BackendError) as error:
        backend.generate(
            _request(width=40), on_progress=lambda f: None, should_cancel=lambda: False
        )
    assert error.value.code == "invalid_size"


@pytest.mark.django_db
def test_an_edit_job_without_an_edit_model_fails_clearly(owner, settings):
    settings.QWEN_IMAGE_BACKEND = "local"
    settings.QWEN_IMAGE_LOCAL_EDIT_MODEL = ""
    job = make_edit(owner)
    assert job.status == Job.Status.FAILED and job.error_code == "not_configured"
    assert "QWEN_IMAGE_LOCAL_EDIT_MODEL" in job.error_message


# --- The tiny pipeline ------------------------------------------------------------------------


@pytest.fixture(scope="session")
def tiny_edit(tmp_path_factory):
    os.environ["HF_HUB_OFFLINE"] = "1"
    os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
    pytest.importorskip("torch", reason=SKIP_REASON)
    pytest.importorskip("diffusers", reason=SKIP_REASON)
    pytest.importorskip("peft", reason=SKIP_REASON)
    from tests.generation.tiny_qwen import build_tiny_lora
    from tests.generation.tiny_qwen_edit import build_tiny_edit_pipeline

    root = tmp_path_factory.mktemp("tiny-qwen-image-edit")
    model = build_tiny_edit_pipeline(root)
    return SimpleNamespace(
        model=model,
        lora8=build_tiny_lora(root / "lightning" / "edit-8steps.safetensors", seed=3),
        root=root,
    )


@pytest.fixture(autouse=True)
def _no_network(monkeypatch):
    real_connect = socket.socket.connect

    def connect(sock, address):
        if sock.family == socket.AF_UNIX or (
            isinstance(address, tuple) and address[0] in ("127.0.0.1", "::1", "localhost")
        ):
            return real_connect(sock, address)
        raise AssertionError(f"network access attempted: {address!r}")

    monkeypatch.setattr(socket.socket, "connect", connect)


@pytest.fixture
def small_working_size(monkeypatch):
    plus = pytest.importorskip("diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_plus")
    inpaint = pytest.importorskip("diffusers.pipelines.qwenimage.pipeline_qwenimage_edit_inpaint")
    monkeypatch.setattr(plus, "VAE_IMAGE_SIZE", 64 * 64)
    monkeypatch.setattr(plus, "CONDITION_IMAGE_SIZE", 56 * 56)
    real = inpaint.calculate_dimensions
    monkeypatch.setattr(inpaint, "calculate_dimensions", lambda area, ratio: real(64 * 64, ratio))


@pytest.fixture
def local_edit(settings, tiny_edit, small_working_size):
    settings.QWEN_IMAGE_BACKEND = "local"
    settings.QWEN_IMAGE_LOCAL_EDIT_MODEL = str(tiny_edit.model)
    settings.QWEN_IMAGE_LOCAL_MODEL = str(tiny_edit.model.parent / "model")
    settings.QWEN_IMAGE_LOCAL_ALLOW_DOWNLOAD = False
    settings.QWEN_IMAGE_LOCAL_DEVICE = "cpu"
    settings.GENERATION_MIN_SIDE = 32
    return tiny_edit


@pytest.mark.django_db
def test_edit_jobs_on_the_tiny_pipeline_reproduce_from_the_seed_and_follow_the_sources(
    owner, local_edit
):
    source = photo(64, 48, seed=1)
    first = make_edit(owner, images=[source], seed=9, num_inference_steps=2, size="64x48")
    assert first.status == Job.Status.SUCCEEDED, first.error_message
    again = make_edit(owner, images=[source], seed=9, num_inference_steps=2, size="64x48")
    other = make_edit(
        owner, images=[photo(64, 48, seed=2)], seed=9, num_inference_steps=2, size="64x48"
    )
    a, b, c = (job.images.get() for job in (first, again, other))
    assert (a.width, a.height) == (64, 48)
    assert a.pixel_sha256 == b.pixel_sha256 != c.pixel_sha256


@pytest.mark.django_db
def test_a_masked_edit_runs_the_inpaint_pipeline_and_keeps_pixels_outside(owner, local_edit):
    source = photo(64, 64, seed=4)
    job = make_edit(
        owner, images=[source], mask=box_mask(64, 64, box=(16, 16, 47, 47)), num_inference_steps=2
    )
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    holder = get_backend("local", edit=True).holder
    assert holder._inpaint is not None  # built from the loaded modules: no second copy
    assert holder._inpaint.transformer is holder.loaded.transformer
    after = pixels(job.images.get())
    before = PILImage.open(io.BytesIO(source)).convert("RGB")
    assert all(after.getpixel((x, 1)) == before.getpixel((x, 1)) for x in range(64))


def test_progress_cancel_and_lightning_on_the_tiny_pipeline(local_edit):
    backend = LocalEditBackend(
        LocalConfig(model=str(local_edit.model), device="cpu", lightning_lora=str(local_edit.lora8))
    )
    seen: list[float] = []
    results = backend.generate(_request(), on_progress=seen.append, should_cancel=lambda: False)
    assert seen == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0]) and len(results) == 1
    fast: list[float] = []
    backend.generate(
        _request(acceleration="regular"), on_progress=fast.append, should_cancel=lambda: False
    )
    assert len(fast) == 8 + 1  # Lightning: 8 steps, then the end
    assert backend.holder.loaded.get_active_adapters() == ["lightning"]
    steps = []

    def cancel_after_one():
        return len(steps) >= 1

    with pytest.raises(Canceled):
        backend.generate(
            _request(num_inference_steps=5),
            on_progress=steps.append,
            should_cancel=cancel_after_one,
        )


def test_one_model_at_a_time_on_the_device_slot(local_edit):
    from generation.backends.local import LocalBackend

    text = LocalBackend(LocalConfig(model=str(local_edit.model.parent / "model"), device="cpu"))
    edit = LocalEditBackend(LocalConfig(model=str(local_edit.model), device="cpu"))
    assert slot_for(text.device()) is slot_for(edit.device())  # one job at a time on it
    text.pipeline()
    edit.pipeline()
    assert text.holder.loaded is None and edit.holder.loaded is not None  # room was made
    text.pipeline()
    assert text.holder.loaded is not None and edit.holder.loaded is None
    text.close()
    edit.close()


def test_an_edit_too_large_for_the_device_is_refused_before_any_step(local_edit):
    from generation.backends.local.device import DeviceMemory

    def small_device(torch, device):  # room for the tiny weights, not for the job
        return DeviceMemory(free=3 * 2**30, total=3 * 2**30, in_use=0)

    config = LocalConfig(model=str(local_edit.model), device="cpu", memory_margin_bytes=0)
    backend = LocalEditBackend(config, memory_probe=small_device)
    steps: list[float] = []
    with pytest.raises(BackendError) as error:
        backend.generate(
            _request(edit=EditRequest(images=[photo(64, 48)] * 3)),
            on_progress=steps.append,
            should_cancel=lambda: False,
        )
    assert error.value.code == "out_of_memory" and "Too large for this GPU" in error.value.message
    assert steps == [0.0]  # loaded, then refused before the first step
    backend.close()


@pytest.mark.django_db
def test_a_missing_edit_model_folder_fails_without_downloading(owner, local_edit, settings):
    settings.QWEN_IMAGE_LOCAL_EDIT_MODEL = "qwen-image-studio-tests/not-cached-edit"
    job = make_edit(owner, size="64x48")
    assert job.status == Job.Status.FAILED and job.error_code == "local_model_unavailable"
    assert "hf download" in job.error_message


# --- The GPU queue and its worker -----------------------------------------------------------


@pytest.mark.django_db
def test_a_local_edit_waits_on_the_gpu_queue_that_run_gpu_worker_reads(owner, settings):
    from generation.queues import GPU
    from generation.selectors import job_queue

    settings.QWEN_IMAGE_BACKEND = "local"
    job = make_edit(owner, run=False)
    assert job.backend == "local" and job_queue(job_pk=job.pk) == GPU


@pytest.mark.django_db
def test_run_gpu_worker_checks_the_edit_model_too(local_edit, settings):
    import io as text_io

    from django.core.management import call_command

    from generation.backends import reset_backends

    reset_backends()
    out, err = text_io.StringIO(), text_io.StringIO()
    call_command("run_gpu_worker", "--check", stdout=out, stderr=err)
    assert f"edit model: {local_edit.model}" in out.getvalue()
    settings.QWEN_IMAGE_LOCAL_EDIT_MODEL = str(local_edit.root / "missing")
    reset_backends()
    out, err = text_io.StringIO(), text_io.StringIO()
    call_command("run_gpu_worker", "--check", stdout=out, stderr=err)  # not fatal: edits only
    assert "warning: edits:" in err.getvalue()
    reset_backends()
