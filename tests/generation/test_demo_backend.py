import io
import os

import pytest
from PIL import Image

from generation.backends import get_backend, reset_backends
from generation.backends.base import GenerationRequest
from generation.backends.demo import DemoBackend
from tests.fakes.backends import CRASH_PROMPT, CrashingDemoBackend


def _request(seeds, prompt="a red fox"):
    return GenerationRequest(
        model="qwen-image",
        prompt=prompt,
        negative_prompt=" ",
        width=512,
        height=384,
        num_inference_steps=30,
        guidance_scale=2.5,
        acceleration="none",
        enable_safety_checker=True,
        seeds=seeds,
    )


def _generate(seeds, prompt="a red fox"):
    progress = []
    results = DemoBackend(step_delay=0).generate(
        _request(seeds, prompt), on_progress=progress.append, should_cancel=lambda: False
    )
    return results, progress


def _pixels(data: bytes) -> bytes:
    return Image.open(io.BytesIO(data)).convert("RGB").tobytes()


def test_same_seed_and_prompt_give_identical_pixels():
    first, _ = _generate([7])
    second, _ = _generate([7])
    assert _pixels(first[0].data) == _pixels(second[0].data)


def test_different_seed_or_prompt_differs():
    base, _ = _generate([7])
    other_seed, _ = _generate([8])
    other_prompt, _ = _generate([7], prompt="a blue whale")
    assert _pixels(base[0].data) != _pixels(other_seed[0].data)
    assert _pixels(base[0].data) != _pixels(other_prompt[0].data)


def test_one_image_per_seed_of_the_requested_size_with_progress():
    results, progress = _generate([1, 2, 3])
    assert [r.seed for r in results] == [1, 2, 3]
    for result in results:
        assert Image.open(io.BytesIO(result.data)).size == (512, 384)
    assert progress[-1] == 1.0
    assert progress == sorted(progress)


def test_the_demo_backend_has_no_crash_prompt():
    results, progress = _generate([1], prompt=CRASH_PROMPT)
    assert len(results) == 1 and progress[-1] == 1.0


def test_test_settings_swap_in_the_crashing_demo_backend(settings, monkeypatch):
    settings.QWEN_IMAGE_TEST_BACKENDS = {"demo": "tests.fakes.backends.CrashingDemoBackend"}
    exits: list[int] = []

    def exit_(code: int):
        exits.append(code)
        raise SystemExit(code)

    monkeypatch.setattr(os, "_exit", exit_)
    reset_backends()
    try:
        backend = get_backend("demo")
        assert isinstance(backend, CrashingDemoBackend)
        never = lambda: False  # noqa: E731
        other = backend.generate(_request([1]), on_progress=lambda _: None, should_cancel=never)
        assert len(other) == 1 and exits == []  # any other prompt: a demo image
        progress: list[float] = []
        with pytest.raises(SystemExit):
            backend.generate(
                _request([1], CRASH_PROMPT), on_progress=progress.append, should_cancel=never
            )
        assert (exits, progress) == ([70], [0.1, 0.2])  # dies at its second step
    finally:
        reset_backends()
