"""Bad input on the pages: hypothesis fills the generate form (and the gallery's filters) with
unicode, huge prompts, negative, NaN and absurd numbers. The answer is the form again with its
errors, or a job whose parameters are all within bounds; never a 5xx.
"""

import math
import re

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from generation.models import Job
from generation.params import SEED_MAX
from generation.sizes import PRESETS
from tests.factories import make_team, make_user
from tests.reliability import ledger

SUITE = "form_fuzz"
EXAMPLES = 250

pytestmark = pytest.mark.django_db

# Anything a browser (or a script posing as one) can put in a form field: no lone surrogates,
# which cannot be sent as UTF-8.
unicode_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=60)
numbers = st.one_of(
    st.integers(min_value=-(10**40), max_value=10**40).map(str),
    st.integers(min_value=-5, max_value=5000).map(str),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.sampled_from(
        [
            "NaN",
            "nan",
            "inf",
            "-inf",
            "Infinity",
            "1e309",
            "-0",
            "0x10",
            "",
            " ",
            "١٢٣",  # Arabic-Indic digits
            "1_000",
            "12.5.3",
            "4294967295",
            "4294967296",
            "99999999999999999999999",
            "-1",
        ]
    ),
    unicode_text,
)
prompts = st.one_of(
    unicode_text,
    st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=400),
    st.integers(min_value=1990, max_value=200_000).map(lambda n: "é" * n),
    st.sampled_from(["", " ", "\x00", "a\x00b", "\u202etxt.exe", "<script>alert(1)</script>"]),
)
sizes = st.one_of(st.sampled_from([*PRESETS, "custom", "custom", ""]), unicode_text)


def _choice(options):
    return st.one_of(st.sampled_from(options), unicode_text)


OPTIONAL = {
    "negative_prompt": prompts,
    "acceleration": _choice(["none", "regular", "high"]),
    "enable_safety_checker": _choice(["on", ""]),
    "visibility": _choice(["private", "team", "public"]),
}
FIELDS = ["prompt", "size", "width", "height", "num_inference_steps", "guidance_scale", "seed", "n"]
# Every field hostile at once …
hostile_form = st.fixed_dictionaries(
    {"prompt": prompts, "size": sizes, **{field: numbers for field in FIELDS[2:]}},
    optional=OPTIONAL,
)
# … or a valid form with one field (or none) replaced: the checks behind a valid field run.
sides = st.integers(min_value=1, max_value=128).map(lambda k: str(16 * k))
valid_form = st.fixed_dictionaries(
    {
        "prompt": st.text(st.characters(blacklist_categories=("Cs", "Cc")), min_size=1).filter(
            str.strip
        ),
        "size": st.sampled_from([*PRESETS, "custom"]),
        "width": sides,
        "height": sides,
        "num_inference_steps": st.integers(min_value=1, max_value=100).map(str),
        "guidance_scale": st.floats(min_value=0, max_value=20).map(repr),
        "seed": st.one_of(st.just(""), st.integers(min_value=0, max_value=SEED_MAX - 4).map(str)),
        "n": st.integers(min_value=1, max_value=4).map(str),
        "acceleration": st.sampled_from(["none", "regular", "high"]),
    },
)
one_bad_field = st.builds(
    lambda form, key, value: {**form, key: value} if key else form,
    valid_form,
    st.sampled_from([None, *FIELDS, *OPTIONAL]),
    st.one_of(numbers, prompts, unicode_text),
)
form_data = st.one_of(hostile_form, one_bad_field, valid_form)


@pytest.fixture
def painter(settings):
    settings.QUOTA_CONCURRENT_JOBS = 1_000_000
    settings.QUOTA_IMAGES_PER_DAY = 10_000_000
    user = make_user("painter", team=make_team("Fuzz"))
    client = Client(raise_request_exception=False)
    client.force_login(user)
    return user, client


def _sane(job: Job) -> None:
    low, high = django_settings.GENERATION_MIN_SIDE, django_settings.GENERATION_MAX_SIDE
    assert low <= job.width <= high and low <= job.height <= high
    assert job.width % 16 == 0 and job.height % 16 == 0
    assert 1 <= len(job.prompt) <= django_settings.GENERATION_MAX_PROMPT_LENGTH
    assert "\x00" not in job.prompt and "\x00" not in job.negative_prompt
    assert 1 <= job.num_inference_steps <= django_settings.GENERATION_MAX_STEPS
    assert math.isfinite(job.guidance_scale) and 0 <= job.guidance_scale <= 20
    assert 1 <= job.n <= django_settings.GENERATION_MAX_IMAGES_PER_JOB
    assert job.seed >= 0 and job.seed + job.n - 1 <= SEED_MAX
    assert job.acceleration in ("none", "regular", "high")
    assert job.visibility in ("private", "team", "public")


def test_the_generate_form_answers_bad_input_with_errors_never_a_crash(painter):
    user, client = painter
    seen = {"errors": 0, "jobs": 0}

    @hsettings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    @given(data=form_data)
    def post(data):
        before = Job.objects.filter(user=user).count()
        response = client.post(reverse("generate"), data)
        ledger.record(SUITE, examples=1, server_errors=int(response.status_code >= 500))
        assert response.status_code in (200, 302), response.status_code
        jobs = Job.objects.filter(user=user).order_by("-pk")
        if response.status_code == 302:
            seen["jobs"] += 1
            assert jobs.count() == before + 1
            _sane(jobs.first())
        else:
            seen["errors"] += 1
            assert jobs.count() == before
            assert re.search(r'class="error[^"]*" role="alert"', response.content.decode())

    post()
    ledger.record(SUITE, rejected=seen["errors"], accepted=seen["jobs"])
    # Both sides were exercised: refusals, and jobs whose stored parameters were checked.
    assert seen["errors"] > EXAMPLES // 4 and seen["jobs"] > EXAMPLES // 20


gallery_params = st.dictionaries(
    st.sampled_from(
        ["scope", "q", "from", "to", "aspect", "size", "backend", "model", "sort", "cursor"]
        + ["collection", "flagged", "partial"]
    ),
    # Values stay under what gunicorn passes in a request line (4094 bytes).
    st.one_of(numbers, unicode_text, st.just("0" * 2000)),
)


@pytest.mark.parametrize("signed_in", [True, False], ids=["signed in", "anonymous"])
def test_gallery_filters_answer_bad_input_without_a_crash(painter, signed_in):
    _, client = painter
    if not signed_in:
        client = Client(raise_request_exception=False)

    @hsettings(
        max_examples=40, deadline=None, suppress_health_check=list(HealthCheck), database=None
    )
    @given(params=gallery_params)
    def browse(params):
        response = client.get(reverse("gallery"), params)
        ledger.record(SUITE, examples=1, server_errors=int(response.status_code >= 500))
        assert response.status_code in (200, 302, 404), response.status_code

    browse()


def test_an_unknown_scope_is_a_message_over_the_public_grid_not_a_login_page(db):
    response = Client().get(reverse("gallery"), {"scope": "everything"})
    assert response.status_code == 200
    assert "Scope must be one of" in response.content.decode()
    mine = Client().get(reverse("gallery"), {"scope": "mine"})
    assert mine.status_code == 302 and mine["Location"].startswith(reverse("login"))
