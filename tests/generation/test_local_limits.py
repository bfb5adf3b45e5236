"""What a real GPU would hit, checked on the tiny pipeline (pinned to the CPU).

The VAE decodes one image at a time, tiled when planned or when an untiled decode runs out of
memory; a job too large for the device's memory is refused before any step with the largest
size that fits; long prompts are refused with their length in tokens (max_sequence_length is
1024, and the tokens past 512 count); a job waiting for the device or the model keeps its lease.
"""

import datetime as dt
import threading
import time

import pytest
from django.urls import reverse
from django.utils import timezone

from generation import runner
from generation.backends import BackendError, Canceled, get_backend
from generation.backends.local import LocalBackend, LocalConfig
from generation.backends.local import memory as job_memory
from generation.backends.local import prompt as prompts
from generation.backends.local.config import model_files
from generation.backends.local.device import DeviceMemory
from generation.models import Job
from tests.generation.local_helpers import make_request, submit

pytestmark = pytest.mark.usefixtures("no_network")


def _backend(tiny, probe=None, **config) -> LocalBackend:
    config.setdefault("device", "cpu")
    return LocalBackend(LocalConfig(model=str(tiny.model), **config), memory_probe=probe)


def _run(backend, request=None, **callbacks):
    callbacks.setdefault("on_progress", lambda f: None)
    callbacks.setdefault("should_cancel", lambda: False)
    return backend.generate(request or make_request(), **callbacks)


def _spy_decodes(monkeypatch, *, fail_untiled=0):
    """Record (batch, tiled) of every VAE decode; the first `fail_untiled` untiled ones OOM."""
    import torch
    from diffusers import AutoencoderKLQwenImage

    calls = []
    original = AutoencoderKLQwenImage._decode

    def decode(self, z, return_dict=True):
        calls.append((z.shape[0], self.use_tiling))
        if not self.use_tiling and sum(1 for _, tiled in calls if not tiled) <= fail_untiled:
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 9.00 GiB")
        return original(self, z, return_dict=return_dict)

    monkeypatch.setattr(AutoencoderKLQwenImage, "_decode", decode)
    return calls


# --- The VAE decode -------------------------------------------------------------------------


def test_the_vae_decodes_one_image_at_a_time_and_in_tiles_above_the_threshold(tiny, monkeypatch):
    calls = _spy_decodes(monkeypatch)
    small = _run(_backend(tiny), make_request(seeds=[1, 2, 3]))
    assert calls == [(1, False)] * 3  # never the whole batch at once
    calls.clear()
    tiled_backend = _backend(tiny, vae_tile_pixels=64 * 32 - 1)
    pipe = tiled_backend.pipeline()
    pipe.vae.tile_sample_min_height = pipe.vae.tile_sample_min_width = 32  # real tiles here
    pipe.vae.tile_sample_stride_height = pipe.vae.tile_sample_stride_width = 16
    tiled = _run(tiled_backend, make_request(seeds=[1, 2, 3]))
    assert calls == [(1, True)] * 3
    assert len(tiled) == 3 and tiled[0].data != small[0].data  # blended tiles, not the same pass
    assert pipe.vae.use_tiling is False  # left as found for the next job


def test_an_untiled_decode_out_of_memory_is_redone_in_tiles_without_losing_the_job(
    tiny, monkeypatch
):
    calls = _spy_decodes(monkeypatch, fail_untiled=1)
    images = _run(_backend(tiny), make_request(seeds=[1, 2]))
    assert len(images) == 2
    assert calls[:2] == [(1, False), (1, True)]  # the failed image again, tiled


def test_out_of_memory_even_in_tiles_fails_the_job_plainly(tiny, monkeypatch):
    import torch
    from diffusers import AutoencoderKLQwenImage

    def decode(self, z, return_dict=True):
        raise torch.OutOfMemoryError("CUDA out of memory")

    monkeypatch.setattr(AutoencoderKLQwenImage, "_decode", decode)
    with pytest.raises(BackendError) as error:
        _run(_backend(tiny))
    assert error.value.code == "out_of_memory" and not error.value.retryable
    assert "even in tiles" in error.value.message


def test_decode_memory_is_bounded_by_slicing_and_tiling():
    config = LocalConfig(model="m")
    one = job_memory.estimate(1664, 928, 1, tiled=False, dtype_size=2, config=config)
    four = job_memory.estimate(1664, 928, 4, tiled=False, dtype_size=2, config=config)
    assert four.decode == one.decode  # one image at a time: n does not multiply the decode
    assert four.denoise == 4 * one.denoise
    big = job_memory.estimate(2048, 2048, 1, tiled=False, dtype_size=2, config=config)
    big_tiled = job_memory.estimate(2048, 2048, 1, tiled=True, dtype_size=2, config=config)
    assert big.decode > 20 * 2**30 and big_tiled.decode < 3 * 2**30
    # Above the threshold (the largest native size, 1328²) the plan tiles even with room.
    plan = job_memory.plan_memory(
        2048, 2048, 1, free=1 << 40, capacity=1 << 40, dtype_size=2, config=config
    )
    assert plan.tiled
    native = job_memory.plan_memory(
        1328, 1328, 4, free=1 << 40, capacity=1 << 40, dtype_size=2, config=config
    )
    assert not native.tiled
    # Below it, it tiles when an untiled decode would not fit.
    tight = job_memory.plan_memory(
        1328, 1328, 1, free=4 << 30, capacity=4 << 30, dtype_size=2, config=config
    )
    assert tight.tiled


# --- The memory cap ---------------------------------------------------------------------------


def _probe(free, total=None, in_use=1):
    return lambda torch, device: DeviceMemory(free=free, total=total or free, in_use=in_use)


def test_a_job_too_large_for_the_device_is_refused_before_any_step_naming_what_fits(
    tiny, monkeypatch
):
    # A transformer hungrier than the decode, so the number of images matters.
    sizes = {"memory_margin_bytes": 0, "denoise_bytes_per_pixel": 1 << 16}
    one = job_memory.estimate(
        64, 32, 1, tiled=False, dtype_size=4, config=LocalConfig("m", **sizes)
    )
    room = one.peak + 1024  # one image at 64×32 fits, two do not
    backend = _backend(tiny, _probe(room), **sizes)
    pipe = backend.pipeline()
    steps = []
    monkeypatch.setattr(type(pipe), "__call__", lambda *a, **k: steps.append("denoise"))
    seen = []
    with pytest.raises(BackendError) as error:
        _run(backend, make_request(seeds=[1, 2]), on_progress=seen.append)
    assert error.value.code == "out_of_memory" and not error.value.retryable
    message = error.value.message
    assert message.startswith("Too large for this GPU: 2 images at 64×32 need about")
    assert "The largest that fits: 2 images at " in message
    assert "or 1 image at 64×32." in message
    assert steps == [] and seen == []  # no text encoding, no step, no progress


def test_a_job_that_fits_once_other_processes_let_go_is_retried(tiny):
    backend = _backend(tiny, memory_margin_bytes=0)
    backend.pipeline()  # loaded while the device was free; now another process holds it
    backend.holder.memory = _probe(free=1 << 20, total=1 << 40)
    with pytest.raises(BackendError) as error:
        _run(backend)
    assert error.value.code == "gpu_busy" and error.value.retryable
    assert error.value.retry_after == 30.0
    assert "only 1 MiB is free now (other processes hold the rest)" in error.value.message


@pytest.mark.django_db
def test_a_too_large_job_fails_at_once_with_the_reason_on_the_job(
    owner, local, settings, django_capture_on_commit_callbacks
):
    settings.QWEN_IMAGE_LOCAL_MEMORY_MARGIN_MB = 0
    weights = model_files(LocalConfig(model=str(local.model))).weight_bytes(4)
    backend = get_backend("local")
    room = 8 << 20  # beside the weights: too little for a 64×32 decode

    def probe(torch, device):  # a device that the loaded weights fill but for `room`
        loaded = backend.holder.loaded is not None
        held = weights if loaded else 0
        return DeviceMemory(free=weights + room - held, total=weights + room, in_use=held)

    backend.holder.memory = probe
    job = submit(owner, django_capture_on_commit_callbacks, n=4)
    assert job.status == Job.Status.FAILED and job.attempts == 1
    assert job.error_code == "out_of_memory"
    assert "The largest that fits: 4 images at 32×16." in job.error_message


# --- Prompt length in tokens ------------------------------------------------------------------


def test_the_pipeline_reads_up_to_1024_tokens_so_the_tail_of_a_long_prompt_counts(
    tiny, monkeypatch
):
    backend = _backend(tiny)
    pipe = backend.pipeline()
    head = "x" * 700  # 700 tokens with the tiny byte-level tokenizer: past the old 512
    assert 600 < prompts.encoded_length(pipe.tokenizer, head) <= 1024
    seen = {}
    original = type(pipe).__call__

    def call(self, *args, **kwargs):
        seen.update(kwargs)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(type(pipe), "__call__", call)
    cat = _run(backend, make_request(prompt=head + " a cat", seeds=[1]))
    dog = _run(backend, make_request(prompt=head + " a dog", seeds=[1]))
    assert seen["max_sequence_length"] == 1024
    assert cat[0].data != dog[0].data  # with 512 kept, both would be the same picture


def test_a_prompt_the_pipeline_would_cut_is_refused_with_its_length(tiny):
    backend = _backend(tiny)
    tokenizer = backend.pipeline().tokenizer
    tail = prompts.encoded_length(tokenizer, "")
    fits = "x" * (1024 - tail)
    assert prompts.encoded_length(tokenizer, fits) == 1024
    _run(backend, make_request(prompt=fits, seeds=[1], num_inference_steps=1))
    with pytest.raises(BackendError) as error:
        _run(backend, make_request(prompt=fits + "x", seeds=[1]))
    assert error.value.code == "prompt_too_long" and not error.value.retryable
    assert f"The prompt is {1024 - tail + 1:,} tokens long; the model reads at most" in (
        error.value.message
    )
    with pytest.raises(BackendError) as error:
        _run(backend, make_request(negative_prompt=fits + "xx", seeds=[1]))
    assert "The negative prompt is" in error.value.message and "by about 2 tokens" in (
        error.value.message
    )


def test_the_positive_magic_suffix_counts_toward_the_limit(tiny):
    backend = _backend(tiny, positive_magic="en")
    tokenizer = backend.pipeline().tokenizer
    fits = "x" * (1024 - prompts.encoded_length(tokenizer, ""))
    with pytest.raises(BackendError) as error:
        _run(backend, make_request(prompt=fits, seeds=[1]))
    assert "includes the suffix ', Ultra HD, 4K, cinematic composition.'" in error.value.message


def test_cjk_prompts_are_counted_in_tokens_not_characters(tiny):
    backend = _backend(tiny)
    tokenizer = backend.pipeline().tokenizer
    text = "一只猫坐在月亮上" * 50  # 400 characters: 3 byte tokens each in the tiny vocabulary
    assert len(text) < 2000 and prompts.encoded_length(tokenizer, text) > 1024
    with pytest.raises(BackendError) as error:
        _run(backend, make_request(prompt=text, seeds=[1]))
    assert error.value.code == "prompt_too_long"


@pytest.mark.django_db
def test_the_form_and_api_refuse_a_too_long_prompt_before_a_job_exists(
    owner_client, local, settings
):
    settings.GENERATION_MAX_PROMPT_LENGTH = 4000
    form = {
        "prompt": "x" * 1100,
        "size": "custom",
        "width": 64,
        "height": 32,
        "num_inference_steps": 3,
        "guidance_scale": 4.0,
        "acceleration": "none",
        "n": 1,
    }
    response = owner_client.post(reverse("generate"), form)
    assert response.status_code == 200
    assert "The prompt is 1,100 tokens long; the model reads at most" in response.content.decode()
    from accounts.keys import api_key_create

    _, key = api_key_create(user=response.wsgi_request.user, name="t")
    answer = owner_client.post(
        "/v1/jobs",
        {"prompt": "一只猫" * 200, "size": "64x32"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert error["param"] == "prompt" and "tokens long" in error["message"]
    assert not Job.objects.exists()


# --- Leases while waiting ---------------------------------------------------------------------


def test_a_job_waiting_for_the_device_renews_its_lease_and_can_be_canceled(tiny, monkeypatch):
    first = _backend(tiny, keepalive_seconds=0.05)
    second = _backend(tiny, keepalive_seconds=0.05)  # another pipeline, the same device
    first.pipeline()
    second.pipeline()
    started = threading.Event()

    def slow_step(fraction):
        started.set()
        time.sleep(0.15)

    holder = threading.Thread(
        target=_run,
        args=(first, make_request(num_inference_steps=4, seeds=[1])),
        kwargs={"on_progress": slow_step},
    )
    holder.start()
    started.wait(10)
    waited = []
    _run(second, make_request(num_inference_steps=1, seeds=[1]), on_progress=waited.append)
    holder.join(30)
    assert waited.count(0.0) >= 3  # keepalives while the other job held the device
    assert waited[-1] == 1.0

    started.clear()
    holder = threading.Thread(
        target=_run,
        args=(first, make_request(num_inference_steps=4, seeds=[1])),
        kwargs={"on_progress": slow_step},
    )
    holder.start()
    started.wait(10)
    deadline = time.monotonic() + 0.2
    with pytest.raises(Canceled):
        _run(second, should_cancel=lambda: time.monotonic() > deadline)
    holder.join(30)


@pytest.mark.django_db
def test_the_lease_never_lapses_while_the_model_loads(
    owner, local, settings, monkeypatch, django_capture_on_commit_callbacks
):
    import diffusers

    settings.GENERATION_LEASE_SECONDS = 3  # keepalive every 0.75 s
    original = diffusers.QwenImagePipeline.from_pretrained

    def slow(*args, **kwargs):
        time.sleep(3.5)  # a load longer than the lease
        return original(*args, **kwargs)

    monkeypatch.setattr(diffusers.QwenImagePipeline, "from_pretrained", slow)
    writes = []

    class Recorder(runner._Reporter):
        def progress(self, fraction):
            super().progress(fraction)
            lease = Job.objects.values_list("lease_expires_at", flat=True).get(pk=self.job.pk)
            if fraction == 0.0 and (not writes or writes[-1][1] != lease):
                writes.append((timezone.now(), lease))  # keepalives, and the one after the load

    monkeypatch.setattr(runner, "_Reporter", Recorder)
    claimed = timezone.now()
    job = submit(owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 1
    assert len(writes) >= 3  # renewed during the load, not only after it
    expiry = claimed + dt.timedelta(seconds=3)
    for at, lease in writes:
        assert at < expiry, "the lease ran out before it was renewed"
        expiry = lease


def test_a_cancel_mid_loop_still_hands_offloaded_models_back(tiny, monkeypatch):
    backend = _backend(tiny)
    pipe = backend.pipeline()
    freed = []
    original = type(pipe).maybe_free_model_hooks
    monkeypatch.setattr(
        type(pipe), "maybe_free_model_hooks", lambda self: freed.append(1) or original(self)
    )
    steps = []
    with pytest.raises(Canceled):
        _run(
            backend,
            make_request(num_inference_steps=6),
            on_progress=steps.append,
            should_cancel=lambda: len(steps) >= 2,
        )
    assert len(steps) == 2 and freed  # stopped between steps, hooks freed all the same
