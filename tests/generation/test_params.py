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


# --- The one owner of the parameter set ----------------------------------------------------


@pytest.mark.django_db
def test_a_job_reads_back_the_parameters_it_was_made_with():
    from tests.factories import make_job, make_user

    owner = make_user("owner")
    job = make_job(owner, run=False, prompt="a lighthouse", size="native_16_9", seed=7, n=2)
    params = GenerationParams.from_job(job)
    assert params.as_api() == {
        "prompt": "a lighthouse",
        "negative_prompt": " ",
        "size": {"width": 1664, "height": 928},
        "size_preset": "native_16_9",
        "num_inference_steps": 30,
        "guidance_scale": 2.5,
        "seed": 7,
        "acceleration": "none",
        "enable_safety_checker": True,
        "n": 2,
        "revised_prompt": "",
        "enhance": False,
        "size_auto": False,
    }
    assert params.job_fields() == {name: getattr(job, name) for name in params.job_fields()}


def test_each_image_of_a_job_has_its_own_seed_in_the_backend_request():
    params = GenerationParams(prompt="x", seed=41, n=3, size="640x480")
    request = params.backend_request(model="qwen-image")
    assert request.seeds == [41, 42, 43]
    assert (request.width, request.height, request.model) == (640, 480, "qwen-image")
    one = params.for_image(42)
    assert (one.seed, one.n, one.backend_request(model="m").seeds) == (42, 1, [42])


def test_form_values_keep_a_preset_by_name_and_a_custom_size_by_its_sides():
    preset = GenerationParams(prompt="x", size="square").form_initial()
    assert preset["size"] == "square" and "width" not in preset
    custom = GenerationParams(prompt="x", size="640x480", seed=3).form_initial()
    assert (custom["size"], custom["width"], custom["height"], custom["seed"]) == (
        "custom",
        640,
        480,
        3,
    )


def test_a_changed_copy_is_validated_again():
    params = GenerationParams(prompt="x", seed=1)
    assert params.revalidated(seed=2**32 - 1, n=1).seed == 2**32 - 1
    with pytest.raises(ValidationError):
        params.revalidated(seed=2**32, n=1)


def test_seeds_wrap_past_the_last_one_so_any_seed_goes_with_any_n():
    """The OpenAPI document can state a seed's range but not "seed + n"; so there is no such
    rule: image i uses (seed + i) mod 2**32."""
    params = GenerationParams(prompt="x", seed=2**32 - 1, n=3, size="512x512")
    assert params.backend_request(model="m").seeds == [2**32 - 1, 0, 1]


def test_the_same_setup_draws_alike_whatever_the_seed_or_count():
    base = GenerationParams(prompt="x", seed=1, n=1)
    assert base.draws_like(GenerationParams(prompt="x", seed=9, n=4, enable_safety_checker=False))
    assert not base.draws_like(GenerationParams(prompt="x", guidance_scale=4.0))
    assert not base.draws_like(GenerationParams(prompt="x", size="square"))


def test_form_and_api_defaults_come_from_the_params():
    from generation.forms import GenerationForm

    form = GenerationForm()
    for name in ("num_inference_steps", "guidance_scale", "acceleration", "n", "size"):
        assert form.fields[name].initial == GenerationParams.default(name), name
