import io

from PIL import Image

from generation.backends.base import GenerationRequest
from generation.backends.demo import DemoBackend


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
