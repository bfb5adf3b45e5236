"""Loading the local model on hardware it may not fit: every failure named, released, remembered.

CUDA-only faults are injected into the real loader on the tiny pipeline (pinned to the CPU):
an out-of-memory while the model moves to its device, a device that does not exist, a GPU
without bf16, memory held by another process. Lightning files that are missing, doubled,
corrupt or for another model fail accelerated jobs only.
"""

import shutil
import sys
import weakref
from types import SimpleNamespace

import pytest

from generation.backends import BackendError, get_backend
from generation.backends.local import LocalBackend, LocalConfig, preflight
from generation.backends.local import device as devices
from generation.backends.local.config import lightning_file, model_files
from generation.backends.local.device import DeviceMemory
from generation.backends.local.loading import classify
from generation.models import Job
from tests.generation.local_helpers import make_request, submit

pytestmark = pytest.mark.usefixtures("no_network")


def _run(backend, request=None):
    return backend.generate(
        request or make_request(), on_progress=lambda f: None, should_cancel=lambda: False
    )


def _count_loads(monkeypatch):
    import diffusers

    calls = []
    original = diffusers.QwenImagePipeline.from_pretrained

    def counted(*args, **kwargs):
        calls.append(kwargs)
        return original(*args, **kwargs)

    monkeypatch.setattr(diffusers.QwenImagePipeline, "from_pretrained", counted)
    return calls


# --- Out of memory while loading ------------------------------------------------------------------


@pytest.mark.django_db
def test_out_of_memory_moving_the_model_fails_the_job_once_frees_it_and_is_not_reloaded(
    owner, local, monkeypatch, django_capture_on_commit_callbacks
):
    import diffusers
    import torch

    loads = _count_loads(monkeypatch)
    held = []
    released = []

    def to(self, *args, **kwargs):
        big = torch.ones(1 << 20)  # what the half-moved model holds on the device
        held.extend([weakref.ref(self), weakref.ref(big)])
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 20.00 GiB")

    real_release = devices.release_memory

    def release(torch_module, device):
        released.append(sys.exc_info()[0])  # None: not inside the except block
        real_release(torch_module, device)
        released.append([ref() is None for ref in held])

    monkeypatch.setattr(diffusers.QwenImagePipeline, "to", to)
    monkeypatch.setattr(devices, "release_memory", release)

    job = submit(owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED
    assert job.error_code == "out_of_memory" and job.attempts == 1  # not retried
    assert "Out of memory while moving the local model onto cpu" in job.error_message
    # The failed attempt's pipeline and tensors were gone when the cache was emptied.
    assert released[0] is None and released[1] == [True, True]

    again = submit(owner, django_capture_on_commit_callbacks, seed=8)
    assert again.status == Job.Status.FAILED and again.error_code == "out_of_memory"
    assert "This worker's load at" in again.error_message
    assert len(loads) == 1  # the next job did not read the model again


@pytest.mark.django_db
def test_a_model_larger_than_the_device_is_refused_before_reading_it(
    owner, local, monkeypatch, django_capture_on_commit_callbacks
):
    loads = _count_loads(monkeypatch)
    backend = get_backend("local")
    backend.holder.memory = lambda torch, device: DeviceMemory(
        free=1 << 20, total=1 << 20, in_use=0
    )
    job = submit(owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED and job.error_code == "out_of_memory"
    assert job.attempts == 1 and "this machine has 1 MiB in all" in job.error_message
    assert loads == []


@pytest.mark.django_db
def test_memory_held_by_another_process_retries_later_without_loading(
    owner, local, monkeypatch, django_capture_on_commit_callbacks
):
    loads = _count_loads(monkeypatch)
    backend = get_backend("local")
    backend.holder.memory = lambda torch, device: DeviceMemory(
        free=1 << 20, total=1 << 40, in_use=0
    )
    job = submit(owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.QUEUED  # back in the queue, for after retry_after
    assert job.error_code == "gpu_busy" and job.attempts == 1
    assert "other processes hold the rest" in job.error_message
    assert (job.next_attempt_at - job.updated_at).total_seconds() >= 59
    assert loads == []


# --- Devices ----------------------------------------------------------------------------------


def _fake_torch(*, available=True, count=1, bf16=True):
    import torch

    cuda = SimpleNamespace(
        is_available=lambda: available,
        device_count=lambda: count,
        current_device=lambda: 0,
        device=lambda device: __import__("contextlib").nullcontext(),
        is_bf16_supported=lambda including_emulation=True: bf16,
        get_device_capability=lambda device: (7, 5),
        get_device_name=lambda device: "Tesla T4",
    )
    return SimpleNamespace(
        device=torch.device, cuda=cuda, float32=torch.float32, bfloat16=torch.bfloat16
    )


def test_a_worker_without_cuda_refuses_unless_the_cpu_is_asked_for():
    fake = _fake_torch(available=False)
    with pytest.raises(BackendError) as error:
        devices.resolve_device(fake, LocalConfig(model="m"))
    assert error.value.code == "not_configured" and not error.value.retryable
    assert "QWEN_IMAGE_LOCAL_DEVICE=cpu" in error.value.message
    assert str(devices.resolve_device(fake, LocalConfig(model="m", device="cpu"))) == "cpu"


def test_a_device_number_this_process_cannot_see_is_a_configuration_error(monkeypatch):
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    with pytest.raises(BackendError) as error:
        devices.resolve_device(_fake_torch(count=2), LocalConfig(model="m", device="cuda:2"))
    assert error.value.code == "not_configured"
    assert "sees 2 CUDA devices (CUDA_VISIBLE_DEVICES=2,3)" in error.value.message
    device = devices.resolve_device(_fake_torch(count=2), LocalConfig(model="m", device="cuda:1"))
    assert str(device) == "cuda:1"


def test_a_gpu_without_bfloat16_is_refused_unless_a_dtype_is_chosen():
    import torch

    fake = _fake_torch(bf16=False)
    cuda = torch.device("cuda", 0)
    with pytest.raises(BackendError) as error:
        devices.resolve_dtype(fake, cuda, LocalConfig(model="m"))
    assert "Tesla T4 (compute capability 7.5) has no native bfloat16" in error.value.message
    chosen = devices.resolve_dtype(fake, cuda, LocalConfig(model="m", dtype="float32"))
    assert chosen == torch.float32
    assert devices.resolve_dtype(_fake_torch(), cuda, LocalConfig(model="m")) == torch.bfloat16


def test_load_failures_are_classified_by_what_went_wrong(tiny):
    import torch

    report = preflight(LocalConfig(model=str(tiny.model), device="cpu"))

    def code(error):
        found = classify(torch, error, stage="reading", report=report)
        return found.code, found.retryable

    assert code(RuntimeError("CUDA error: invalid device ordinal")) == ("not_configured", False)
    assert code(AssertionError("Torch not compiled with CUDA enabled")) == ("not_configured", False)
    busy = RuntimeError("CUDA error: CUDA-capable device(s) is/are busy or unavailable")
    assert code(busy) == ("gpu_busy", True)
    assert code(torch.OutOfMemoryError("CUDA out of memory")) == ("out_of_memory", False)
    assert code(RuntimeError("CUDA error: out of memory")) == ("out_of_memory", False)
    assert code(OSError("Error no file named diffusion_pytorch_model.safetensors")) == (
        "local_model_unavailable",
        False,
    )
    assert code(KeyError("transformer_blocks.3.attn.to_q.weight")) == (
        "local_model_unavailable",
        False,
    )


# --- The model's files ------------------------------------------------------------------------


def _copy_model(tiny, tmp_path):
    copy = tmp_path / "model"
    shutil.copytree(tiny.model, copy)
    return copy


def test_a_half_downloaded_model_is_refused_before_loading_naming_what_is_missing(
    tiny, tmp_path, monkeypatch
):
    loads = _count_loads(monkeypatch)
    model = _copy_model(tiny, tmp_path)
    weights = model / "transformer" / "diffusion_pytorch_model.safetensors"
    shards = {"weight_map": {"a": weights.name, "b": "diffusion_pytorch_model-00002.safetensors"}}
    (model / "transformer" / "diffusion_pytorch_model.safetensors.index.json").write_text(
        __import__("json").dumps(shards)
    )
    backend = LocalBackend(LocalConfig(model=str(model), device="cpu"))
    with pytest.raises(BackendError) as error:
        _run(backend)
    assert error.value.code == "local_model_unavailable" and not error.value.retryable
    assert "transformer is incomplete: 1 of 2 weight files are missing" in error.value.message
    assert loads == []


def test_a_truncated_weight_file_is_refused_before_loading(tiny, tmp_path):
    model = _copy_model(tiny, tmp_path)
    weights = model / "vae" / "diffusion_pytorch_model.safetensors"
    weights.write_bytes(weights.read_bytes()[:-100])
    with pytest.raises(BackendError) as error:
        model_files(LocalConfig(model=str(model)))
    assert error.value.code == "local_model_unavailable"
    assert "vae" in error.value.message and "truncated" in error.value.message


def test_the_model_loads_straight_onto_its_device(tiny, monkeypatch):
    loads = _count_loads(monkeypatch)
    LocalBackend(LocalConfig(model=str(tiny.model), device="cpu")).pipeline()
    # device_map puts each weight where it runs as it is read: on CUDA no 58 GB host copy.
    assert loads[0]["device_map"] == "cpu" and loads[0]["local_files_only"] is True
    offloaded = _count_loads(monkeypatch)
    LocalBackend(LocalConfig(model=str(tiny.model), device="cpu", cpu_offload=True)).pipeline()
    assert offloaded[0]["device_map"] == "cpu"  # no accelerator: offload is moot


def test_the_weights_are_counted_from_the_file_headers(tiny):
    files = model_files(LocalConfig(model=str(tiny.model)))
    pipe = LocalBackend(LocalConfig(model=str(tiny.model), device="cpu")).pipeline()
    counted = sum(
        p.numel()
        for module in (pipe.transformer, pipe.text_encoder, pipe.vae)
        for p in module.state_dict().values()
    )
    assert files.parameters == counted


# --- Lightning LoRA files ---------------------------------------------------------------------


@pytest.mark.django_db
def test_a_mistyped_lightning_path_fails_only_accelerated_jobs_before_any_load(
    owner, local, settings, monkeypatch, django_capture_on_commit_callbacks
):
    loads = _count_loads(monkeypatch)
    settings.QWEN_IMAGE_LIGHTNING_LORA = str(local.root / "lightnin" / "8steps.safetensors")
    capture = django_capture_on_commit_callbacks
    fast = submit(owner, capture, acceleration="regular")
    assert fast.status == Job.Status.FAILED and fast.attempts == 1
    assert fast.error_code == "lightning_unavailable"
    assert "no Lightning LoRA weights at" in fast.error_message and "lightnin" in fast.error_message
    assert "Jobs without acceleration are not affected" in fast.error_message
    assert loads == []  # noticed before the base model was read
    plain = submit(owner, capture, acceleration="none")
    assert plain.status == Job.Status.SUCCEEDED, plain.error_message


def test_a_lightning_folder_must_hold_exactly_one_file(tiny, tmp_path):
    folder = tmp_path / "lora"
    folder.mkdir()
    shutil.copy(tiny.lora8, folder / "Qwen-Image-Lightning-8steps-V1.0.safetensors")
    shutil.copy(tiny.lora8, folder / "Qwen-Image-Lightning-8steps-V2.0.safetensors")
    with pytest.raises(BackendError) as error:
        lightning_file("lightning", str(folder))
    assert error.value.code == "lightning_unavailable"
    assert "exactly one .safetensors file (it holds 2: Qwen-Image-Lightning-8steps-V1.0" in (
        error.value.message
    )
    (folder / "Qwen-Image-Lightning-8steps-V1.0.safetensors").unlink()
    assert lightning_file("lightning", str(folder)).name.endswith("V2.0.safetensors")


def test_a_corrupt_or_foreign_lightning_file_is_named_at_start(tiny, tmp_path):
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(tiny.lora8.read_bytes()[:-10])
    with pytest.raises(BackendError) as error:
        lightning_file("lightning", str(truncated))
    assert "truncated.safetensors is not a usable file: it is truncated" in error.value.message
    base_weights = tiny.model / "vae" / "diffusion_pytorch_model.safetensors"
    with pytest.raises(BackendError) as error:
        lightning_file("lightning_4steps", str(base_weights))
    assert "QWEN_IMAGE_LIGHTNING_LORA_4STEPS" in error.value.message
    assert "holds no LoRA weights" in error.value.message
    report = preflight(
        LocalConfig(model=str(tiny.model), device="cpu", lightning_lora=str(truncated))
    )
    assert list(report.lightning_errors) == ["lightning"] and report.lightning == {}


def test_a_lora_for_another_model_fails_accelerated_jobs_and_leaves_the_base_untouched(
    tiny, tmp_path
):
    from tests.generation.tiny_qwen import build_tiny_lora

    wrong = build_tiny_lora(tmp_path / "wrong.safetensors", seed=3, attention_head_dim=32)
    backend = LocalBackend(
        LocalConfig(model=str(tiny.model), device="cpu", lightning_lora=str(wrong))
    )
    with pytest.raises(BackendError) as error:
        _run(backend, make_request(acceleration="regular"))
    assert error.value.code == "lightning_unavailable" and not error.value.retryable
    assert "wrong.safetensors does not load into this model (RuntimeError" in error.value.message
    base = [image.data for image in _run(backend)]
    plain = LocalBackend(LocalConfig(model=str(tiny.model), device="cpu"))
    assert base == [image.data for image in _run(plain)]


def test_a_second_pipeline_on_the_device_unloads_the_first_before_it_loads(tiny):
    first = LocalBackend(LocalConfig(model=str(tiny.model), device="cpu"))
    first.pipeline()
    assert first.holder.loaded is not None
    second = LocalBackend(LocalConfig(model=str(tiny.model), device="cpu", positive_magic="en"))
    second.pipeline()  # e.g. an edit pipeline: one model on a small GPU at a time
    assert first.holder.loaded is None and second.holder.loaded is not None
    assert len(_run(first)) == 2  # the first loads again when its next job comes
    assert second.holder.loaded is None
