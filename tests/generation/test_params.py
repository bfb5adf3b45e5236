import pytest
from pydantic import ValidationError

from generation.params import GenerationParams


def test_defaults_resolve_the_default_preset():
    params = GenerationParams(prompt="a cat")
    assert (params.width, params.height, params.size_preset) == (1024, 768, "landscape_4_3")
    assert params.negative_prompt == " "
    assert params.num_inference_steps == 30
    assert params.guidance_scale == 2.5
    assert params.seed is None
    assert params.n == 1


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ("square_hd", (1024, 1024, "square_hd")),
        ("portrait_16_9", (576, 1024, "portrait_16_9")),
        ("native_16_9", (1664, 928, "native_16_9")),
        ({"width": 1328, "height": 1328}, (1328, 1328, "native_1_1")),
        ({"width": 640, "height": 480}, (640, 480, "")),
        ("1280x720", (1280, 720, "")),
    ],
)
def test_size_accepts_presets_objects_and_strings(size, expected):
    params = GenerationParams(prompt="x", size=size)
    assert (params.width, params.height, params.size_preset) == expected


@pytest.mark.parametrize(
    "size",
    ["giant", {"width": 1000, "height": 768}, {"width": 64, "height": 64}, "99999x16", "12x"],
)
def test_bad_sizes_are_refused_with_a_message(size):
    with pytest.raises(ValidationError) as info:
        GenerationParams(prompt="x", size=size)
    assert (
        "size" in str(info.value).lower()
        or "multiple" in str(info.value).lower()
        or ("between" in str(info.value))
    )


@pytest.mark.parametrize(
    "overrides",
    [
        {"prompt": "   "},
        {"prompt": "x" * 5000},
        {"num_inference_steps": 0},
        {"guidance_scale": float("nan")},
        {"guidance_scale": -1},
        {"seed": -5},
        {"seed": 2**40},
        {"n": 0},
        {"n": 99},
        {"acceleration": "ludicrous"},
        {"unknown_field": 1},
    ],
)
def test_bad_values_are_refused(overrides):
    values = {"prompt": "a cat", **overrides}
    with pytest.raises(ValidationError):
        GenerationParams(**values)
