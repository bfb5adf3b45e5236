"""The local backend: parameter mapping, and real jobs on a tiny random Qwen-Image pipeline.

The pipeline is built offline on the CPU once per session, saved to a temp folder and loaded
by the project's own loader through QWEN_IMAGE_LOCAL_MODEL, with HF_HUB_OFFLINE=1 and every
non-local socket connection refused.
"""

import math
import threading

import pytest
from django.core.files.storage import default_storage
from django.urls import reverse
from PIL import Image as PILImage

from generation import lifecycle
from generation.backends import BackendError, Canceled, get_backend
from generation.backends.local import (
    ADAPTER_4,
    ADAPTER_8,
    POSITIVE_MAGIC,
    LocalBackend,
    LocalConfig,
    check_tokenizer,
    plan_for,
)
from generation.models import Job
from tests.generation.local_helpers import make_request as _request
from tests.generation.local_helpers import pixels, record_progress, submit
from usage.models import LedgerEntry, Reservation

pytestmark = pytest.mark.usefixtures("no_network")


# --- Parameter mapping (no torch needed) ----------------------------------------------------


def test_guidance_scale_becomes_true_cfg_and_blank_negative_prompt_becomes_a_space():
    plan = plan_for(_request(guidance_scale=4.0, negative_prompt="  "), LocalConfig(model="m"))
    assert plan.true_cfg_scale == 4.0
    assert plan.negative_prompt == " "
    assert plan.num_inference_steps == 3 and plan.adapter is None
    kept = plan_for(_request(negative_prompt="blurry"), LocalConfig(model="m"))
    assert kept.negative_prompt == "blurry"


def test_guidance_of_one_or_less_turns_classifier_free_guidance_off():
    plan = plan_for(_request(guidance_scale=1.0, negative_prompt="blurry"), LocalConfig(model="m"))
    assert plan.true_cfg_scale == 1.0 and plan.negative_prompt is None


def test_acceleration_with_lightning_weights_uses_8_or_4_steps_at_cfg_one():
    config = LocalConfig(model="m", lightning_lora="/w/8.safetensors")
    regular = plan_for(_request(acceleration="regular", num_inference_steps=50), config)
    high = plan_for(_request(acceleration="high", num_inference_steps=50), config)
    assert (regular.num_inference_steps, regular.true_cfg_scale) == (8, 1.0)
    assert (high.num_inference_steps, high.true_cfg_scale) == (4, 1.0)
    assert regular.adapter == high.adapter == ADAPTER_8
    both = LocalConfig(model="m", lightning_lora="/w/8", lightning_lora_4steps="/w/4")
    assert plan_for(_request(acceleration="high"), both).adapter == ADAPTER_4
    assert plan_for(_request(acceleration="none"), both).adapter is None


def test_acceleration_without_lightning_weights_only_reduces_steps():
    config = LocalConfig(model="m")
    assert plan_for(_request(acceleration="regular", num_inference_steps=50), config) == (
        plan_for(_request(num_inference_steps=25), config)
    )
    assert (
        plan_for(_request(acceleration="high", num_inference_steps=40), config).num_inference_steps
        == 10
    )
    assert (
        plan_for(_request(acceleration="high", num_inference_steps=8), config).num_inference_steps
        == 4
    )
    assert (
        plan_for(_request(acceleration="high", num_inference_steps=3), config).num_inference_steps
        == 3
    )


def test_positive_magic_suffix_is_optional_and_follows_the_prompt_language():
    assert plan_for(_request(prompt="a cat"), LocalConfig(model="m")).prompt == "a cat"
    english = plan_for(_request(prompt="a cat"), LocalConfig(model="m", positive_magic="en"))
    assert english.prompt == "a cat" + POSITIVE_MAGIC["en"]
    auto = LocalConfig(model="m", positive_magic="auto")
    assert plan_for(_request(prompt="一只猫"), auto).prompt == "一只猫" + POSITIVE_MAGIC["zh"]
    assert plan_for(_request(prompt="a cat"), auto).prompt.endswith(POSITIVE_MAGIC["en"])


def test_sizes_that_are_not_multiples_of_16_are_refused_before_loading_anything():
    backend = LocalBackend(LocalConfig(model="/does/not/exist"))
    with pytest.raises(BackendError) as error:
        backend.generate(
            _request(width=40), on_progress=lambda f: None, should_cancel=lambda: False
        )
    assert error.value.code == "invalid_size" and not error.value.retryable


@pytest.mark.django_db
def test_job_without_a_configured_model_fails_with_a_clear_message(
    owner, settings, django_capture_on_commit_callbacks
):
    settings.QWEN_IMAGE_BACKEND = "local"
    settings.QWEN_IMAGE_LOCAL_MODEL = ""
    job = submit(owner, django_capture_on_commit_callbacks, size="256x256")
    assert job.status == Job.Status.FAILED
    assert job.error_code == "not_configured"
    assert "QWEN_IMAGE_LOCAL_MODEL" in job.error_message


# --- The tiny pipeline ----------------------------------------------------------------------


@pytest.mark.django_db
def test_local_job_stores_images_of_the_requested_size(
    owner, local, django_capture_on_commit_callbacks
):
    job = submit(owner, django_capture_on_commit_callbacks, size="64x32", n=2, seed=100)
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert job.backend == "local" and job.attempts == 1
    images = list(job.images.order_by("index"))
    assert [(i.width, i.height, i.seed) for i in images] == [(64, 32, 100), (64, 32, 101)]
    for image in images:
        assert default_storage.exists(image.file.name)
        assert default_storage.exists(image.thumbnail.name)
        with default_storage.open(image.file.name) as handle:
            assert PILImage.open(handle).size == (64, 32)


@pytest.mark.django_db
def test_same_seed_gives_identical_pixels_and_different_seeds_differ(
    owner, local, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    first = submit(owner, capture, size="48x32", seed=7).images.get()
    again = submit(owner, capture, size="48x32", seed=7).images.get()
    other = submit(owner, capture, size="48x32", seed=8).images.get()
    assert first.pixel_sha256 == again.pixel_sha256
    assert pixels(first) == pixels(again)
    assert first.pixel_sha256 != other.pixel_sha256


@pytest.mark.django_db
def test_each_image_of_a_batch_is_reproducible_from_its_own_seed(
    owner, local, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    batch = submit(owner, capture, size="48x32", seed=20, n=3)
    alone = submit(owner, capture, size="48x32", seed=22, n=1)
    third = batch.images.get(index=2)
    assert third.seed == 22
    assert third.pixel_sha256 == alone.images.get().pixel_sha256


@pytest.mark.django_db
def test_progress_moves_step_by_step_in_the_job(
    owner, local, monkeypatch, django_capture_on_commit_callbacks
):
    get_backend("local").pipeline()  # loaded by an earlier job in this worker
    stored = record_progress(monkeypatch)
    job = submit(owner, django_capture_on_commit_callbacks, num_inference_steps=4)
    assert job.status == Job.Status.SUCCEEDED
    # Four denoising steps, then the decode: the bar never jumps and ends full.
    assert stored == pytest.approx([0.2, 0.4, 0.6, 0.8, 1.0])
    assert job.progress == 1.0


@pytest.mark.django_db
def test_cancel_stops_the_job_between_steps_and_stores_nothing(
    owner, local, monkeypatch, django_capture_on_commit_callbacks
):
    def cancel_at_second_step(job, step):
        if step == 2:
            lifecycle.job_cancel(job=job)

    stored = record_progress(monkeypatch, on_step=cancel_at_second_step)
    job = submit(owner, django_capture_on_commit_callbacks, num_inference_steps=10, n=2)
    assert job.status == Job.Status.CANCELED
    assert len(stored) == 2 and job.progress < 1.0
    assert not job.images.exists()
    assert not default_storage.exists(f"images/{job.public_id}/0.png")


@pytest.mark.django_db
def test_a_model_with_an_empty_tokenizer_is_refused_with_a_clear_error(
    owner, local, settings, tmp_path, django_capture_on_commit_callbacks
):
    from transformers import Qwen2Tokenizer

    broken = tmp_path / "broken-model"
    broken.mkdir()
    for part in ("model_index.json", "scheduler", "text_encoder", "transformer", "vae"):
        (broken / part).symlink_to(local.model / part)
    # What transformers 5 hands back, without raising, when the tokenizer files are missing.
    Qwen2Tokenizer().save_pretrained(broken / "tokenizer")
    settings.QWEN_IMAGE_LOCAL_MODEL = str(broken)
    job = submit(owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED
    assert job.error_code == "local_model_invalid" and job.attempts == 1
    assert "tokenizer" in job.error_message


def test_the_tokenizer_guard_accepts_the_tiny_tokenizer_and_refuses_an_empty_one(tiny):
    from transformers import Qwen2Tokenizer

    backend = LocalBackend(LocalConfig(model=str(tiny.model), device="cpu"))
    pipe = backend.pipeline()
    check_tokenizer(pipe)  # the byte-level test tokenizer is complete
    pipe.tokenizer = Qwen2Tokenizer()
    with pytest.raises(BackendError) as error:
        check_tokenizer(pipe)
    assert error.value.code == "local_model_invalid"
    assert "1 tokens" in error.value.message


@pytest.mark.django_db
def test_a_hub_id_missing_from_the_cache_fails_without_downloading(
    owner, local, settings, django_capture_on_commit_callbacks
):
    settings.QWEN_IMAGE_LOCAL_MODEL = "qwen-image-studio-tests/not-cached"
    job = submit(owner, django_capture_on_commit_callbacks)
    assert job.status == Job.Status.FAILED
    assert job.error_code == "local_model_unavailable" and job.attempts == 1
    assert "hf download" in job.error_message


def test_the_backend_is_built_once_per_process_and_loads_on_first_use(local):
    backend = get_backend("local")
    assert isinstance(backend, LocalBackend) and get_backend("local") is backend
    assert backend.holder.loaded is None  # nothing loaded until a job runs
    pipe = backend.pipeline()
    assert backend.pipeline() is pipe
    assert pipe.text_encoder.dtype.is_floating_point and str(pipe.device) == "cpu"
    assert str(pipe.transformer.dtype) == "torch.float32"


# Two adapters on one transformer is the point here.
@pytest.mark.filterwarnings("ignore:Already found a `peft_config`:UserWarning")
def test_lightning_lora_switches_steps_scheduler_and_adapter_per_job(tiny):
    backend = LocalBackend(
        LocalConfig(
            model=str(tiny.model),
            device="cpu",
            lightning_lora=str(tiny.lora8),
            lightning_lora_4steps=str(tiny.lora4),
            cpu_offload=True,  # no accelerator here: ignored, not an error
        )
    )

    def run(acceleration):
        seen = []

        def on_progress(fraction):
            pipe = backend.pipeline()
            seen.append((fraction, tuple(pipe.get_active_adapters()), pipe.scheduler))

        images = backend.generate(
            _request(acceleration=acceleration),
            on_progress=on_progress,
            should_cancel=lambda: False,
        )
        return [i.data for i in images], seen

    base, base_seen = run("none")
    regular, regular_seen = run("regular")
    high, high_seen = run("high")
    after, after_seen = run("none")

    # 0: loaded; three steps; the first of two images decoded; done.
    assert [fraction for fraction, *_ in base_seen] == [0.0, 0.25, 0.5, 0.75, 0.875, 1.0]
    assert len(regular_seen) == 8 + 2 and len(high_seen) == 4 + 2
    assert regular_seen[0][1] == (ADAPTER_8,) and high_seen[0][1] == (ADAPTER_4,)
    lightning = regular_seen[0][2]
    assert lightning.config.base_shift == pytest.approx(math.log(3))  # the shift-3 schedule
    assert lightning.config.max_shift == pytest.approx(math.log(3))
    assert base_seen[0][2] is after_seen[0][2] is not lightning
    # On the base model the adapters and their scheduler leave no trace.
    plain = LocalBackend(LocalConfig(model=str(tiny.model), device="cpu"))
    reference = plain.generate(_request(), on_progress=lambda f: None, should_cancel=lambda: False)
    assert base == after == [i.data for i in reference]
    assert regular != base and high != regular


def test_one_job_at_a_time_per_device(tiny):
    backend = LocalBackend(LocalConfig(model=str(tiny.model), device="cpu"))
    backend.pipeline()
    order: list[str] = []
    errors: list[BaseException] = []

    def work(name):
        try:
            backend.generate(
                _request(num_inference_steps=4, seeds=[1]),
                on_progress=lambda fraction: fraction < 1.0 and order.append(name),
                should_cancel=lambda: False,
            )
        except BaseException as error:  # surfaced below
            errors.append(error)

    threads = [threading.Thread(target=work, args=(name,)) for name in "AB"]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not errors
    assert order in (list("AAAABBBB"), list("BBBBAAAA"))


def test_cancel_before_the_first_step_loads_nothing_and_runs_nothing(tiny):
    backend = LocalBackend(LocalConfig(model=str(tiny.model), device="cpu"))
    steps = []
    with pytest.raises(Canceled):
        backend.generate(_request(), on_progress=steps.append, should_cancel=lambda: True)
    assert steps == [] and backend.holder.loaded is None


# --- The model's own defaults ---------------------------------------------------------------


@pytest.mark.django_db
def test_the_form_and_the_api_default_to_the_local_models_own_settings(
    owner_client, owner, settings
):
    from accounts.keys import api_key_create
    from generation.params import GenerationParams

    settings.QWEN_IMAGE_BACKEND = "local"
    settings.QWEN_IMAGE_LOCAL_MODEL = "/models/not-needed-for-this"
    page = owner_client.get(reverse("generate")).content.decode()
    assert 'name="num_inference_steps" value="50"' in page
    assert 'name="guidance_scale" value="4.0"' in page
    params = GenerationParams(prompt="a cat")
    assert (params.num_inference_steps, params.guidance_scale) == (50, 4.0)
    _, key = api_key_create(user=owner, name="t")
    answer = owner_client.post(
        "/v1/jobs",
        {"prompt": "a cat", "size": "square"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {key}"},
    )
    assert answer.status_code == 202, answer.content
    assert answer.json()["params"]["num_inference_steps"] == 50
    assert answer.json()["params"]["guidance_scale"] == 4.0

    settings.QWEN_IMAGE_BACKEND = "demo"  # the hosted endpoint's defaults elsewhere
    assert GenerationParams(prompt="a cat").num_inference_steps == 30
    assert (
        'name="num_inference_steps" value="30"'
        in owner_client.get(reverse("generate")).content.decode()
    )


def test_each_image_is_handed_over_as_soon_as_it_is_decoded(tiny):
    """The decode loop hands each image to on_image before decoding the next, so the runner
    stores it and the Create feed shows it while the others are still being made."""
    backend = LocalBackend(LocalConfig(model=str(tiny.model), device="cpu"))
    request = _request(num_inference_steps=2, seeds=[5, 6, 7])
    events: list = []
    results = backend.generate(
        request,
        on_progress=lambda fraction: events.append(("progress", fraction)),
        should_cancel=lambda: False,
        on_image=lambda index, image: events.append(("image", index, image.seed, image.data)),
    )
    handed = [event for event in events if event[0] == "image"]
    assert [(index, seed) for _, index, seed, _ in handed] == [(0, 5), (1, 6), (2, 7)]
    assert [data for *_, data in handed] == [result.data for result in results]
    # Image 0 arrives before the decode of the others is reported, and all before the end.
    first = events.index(handed[0])
    assert ("progress", 1.0) not in events[:first]
    assert any(event[0] == "progress" for event in events[first:])
    # Handing over changes nothing in the pixels.
    plain = backend.generate(request, on_progress=lambda f: None, should_cancel=lambda: False)
    assert [image.data for image in plain] == [result.data for result in results]


# --- The usage ledger (issue 15): one unit per image made on the GPU --------------------------


def _units(job) -> list[tuple[str, bool]]:
    return list(
        LedgerEntry.objects.filter(job_ref=job.public_id, kind="work")
        .order_by("index")
        .values_list("status", "counted")
    )


@pytest.mark.django_db
def test_local_images_are_units_in_the_usage_ledger_and_a_late_cancel_still_counts(
    owner, local, monkeypatch, django_capture_on_commit_callbacks
):
    done = submit(owner, django_capture_on_commit_callbacks, size="64x32", n=2)
    assert done.status == Job.Status.SUCCEEDED, done.error_message
    assert _units(done) == [("succeeded", True)] * 2

    def cancel_at_second_step(job, step):
        if step == 2:
            lifecycle.job_cancel(job=job)

    record_progress(monkeypatch, on_step=cancel_at_second_step)
    canceled = submit(owner, django_capture_on_commit_callbacks, num_inference_steps=10, n=2)
    assert canceled.status == Job.Status.CANCELED
    assert _units(canceled) == [("canceled", True)] * 2  # the GPU did the steps


def test_a_local_job_refused_before_its_pipeline_ran_counts_nothing(
    owner, settings, django_capture_on_commit_callbacks
):
    settings.QWEN_IMAGE_BACKEND = "local"
    settings.QWEN_IMAGE_LOCAL_MODEL = ""
    job = submit(owner, django_capture_on_commit_callbacks, size="256x256")
    assert job.error_code == "not_configured"
    assert _units(job) == []  # no backend to ask: no unit of work was started
    assert Reservation.objects.get(job_ref=job.public_id).closed_at is not None
