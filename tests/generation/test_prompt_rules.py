"""The rewriting rules, size "auto", quality and templates: pure rules, no server."""

import pytest
from pydantic import ValidationError

from generation.params import QUALITY, GenerationParams, apply_template, auto_size
from generation.prompts.rules import (
    DEFAULT_SYSTEM_PROMPTS,
    clean_reply,
    language_of,
    missing_quotes,
    quoted_texts,
    system_prompt_for,
)
from generation.sizes import aspect_from_text

# --- Which system prompt --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prompt", "language"),
    [
        ("a fox reading a newspaper", "en"),
        ("一只在读报纸的狐狸", "zh"),
        ("a shop sign that says “欢迎光临”", "en"),  # quoted text to draw decides nothing
        ('海报上写着 "OPEN"', "zh"),
        ("café crème, ölgemälde", "en"),
    ],
)
def test_the_system_prompt_language_follows_the_prompts_own_words(prompt, language):
    assert language_of(prompt) == language
    system, chosen = system_prompt_for(prompt)
    assert chosen == language and system == DEFAULT_SYSTEM_PROMPTS[language]


def test_a_teams_own_system_prompt_replaces_ours_for_its_language_only():
    custom = {"en": "Team rules.", "zh": ""}
    assert system_prompt_for("a fox", custom) == ("Team rules.", "en")
    assert system_prompt_for("狐狸", custom) == (DEFAULT_SYSTEM_PROMPTS["zh"], "zh")


def test_our_rules_say_what_qwens_say():
    english = DEFAULT_SYSTEM_PROMPTS["en"]
    assert "quotation marks" in english and "character for character" in english
    assert "200 words" in english and "style" in english and "meaning" in english
    assert "引号" in DEFAULT_SYSTEM_PROMPTS["zh"] and "200" in DEFAULT_SYSTEM_PROMPTS["zh"]


# --- Quoted text ----------------------------------------------------------------------------


def test_quoted_texts_of_every_quote_style_and_not_apostrophes():
    prompt = 'a fox\'s café, sign "OPEN 24/7", menu “Soup — $3”, 招牌「欢迎」 and 『福』'
    assert quoted_texts(prompt) == ["OPEN 24/7", "Soup — $3", "欢迎", "福"]


def test_a_revision_must_carry_each_quoted_text_verbatim_inside_quotes():
    original = 'a neon sign "OPEN" over a door'
    assert missing_quotes(original, 'a glowing neon sign reading "OPEN", rain') == []
    assert missing_quotes(original, "a glowing neon sign reading “OPEN”, rain") == []
    assert missing_quotes(original, 'a neon sign "Open" over a door') == ["OPEN"]
    assert missing_quotes(original, "a neon sign reading OPEN") == ["OPEN"]


@pytest.mark.parametrize(
    ("reply", "clean"),
    [
        ("  A fox,  reading.\n", "A fox, reading."),
        ("<think>user wants a fox</think>\nA fox at dawn.", "A fox at dawn."),
        ("Rewritten prompt: A fox at dawn.", "A fox at dawn."),
        ('"A fox at dawn."', "A fox at dawn."),
        ('A sign "OPEN" and a "CLOSED" one', 'A sign "OPEN" and a "CLOSED" one'),
        ("改写后的提示词：一只狐狸", "一只狐狸"),
        ("", ""),
    ],
)
def test_a_models_reply_is_cleaned_to_the_prompt(reply, clean):
    assert clean_reply(reply) == clean


# --- size "auto" ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "size"),
    [
        ("a lighthouse", (1472, 1104)),  # nothing said: the default preset's 4:3
        ("a 16:9 panorama of the alps", (1664, 928)),
        ("a portrait of an old sailor", (1104, 1472)),
        ("a vertical phone wallpaper of stars", (928, 1664)),
        ("an app icon of a fox", (1328, 1328)),
        ("横幅广告，全景", (1664, 928)),
        ("a 3:2 photo of a cat", (1584, 1056)),
    ],
)
def test_size_auto_takes_the_native_size_closest_to_the_prompts_aspect(text, size):
    width, height, name = auto_size(text)
    assert (width, height) == size and name.startswith("native_")
    params = GenerationParams(prompt=text, size="auto")
    assert (params.width, params.height, params.size_auto) == (*size, True)


def test_size_auto_follows_the_revised_prompt_when_there_is_one():
    params = GenerationParams(prompt="a fox", revised_prompt="a fox, 9:16 full-length", size="auto")
    assert (params.width, params.height) == (928, 1664)


def test_size_auto_stays_within_the_portals_side_limits(settings):
    settings.GENERATION_MAX_SIDE = 1024
    width, height, _ = auto_size("a 16:9 panorama")
    assert (width, height) == (1024, 576)  # no native size fits: the closest hosted one


def test_odd_ratios_in_a_prompt_are_not_aspects():
    assert aspect_from_text("at 12:45 in the afternoon") is None
    assert aspect_from_text("a 4:3 photo at 12:45") == 4 / 3


# --- quality and templates ------------------------------------------------------------------


@pytest.mark.parametrize(("quality", "fields"), list(QUALITY.items()))
def test_quality_maps_to_steps_and_acceleration_by_the_table(quality, fields):
    params = GenerationParams.build({"prompt": "x"}, quality=quality)
    expected = {"num_inference_steps": 30, "acceleration": "none", **fields}
    assert (params.num_inference_steps, params.acceleration) == (
        expected["num_inference_steps"],
        expected["acceleration"],
    )


def test_explicit_steps_win_over_quality_which_wins_over_the_preset():
    preset = {"num_inference_steps": 12, "acceleration": "regular", "guidance_scale": 4.0}
    params = GenerationParams.build({"prompt": "x"}, preset=preset, quality="high")
    assert (params.num_inference_steps, params.acceleration, params.guidance_scale) == (
        50,
        "none",
        4.0,
    )
    params = GenerationParams.build(
        {"prompt": "x", "num_inference_steps": 9}, preset=preset, quality="high"
    )
    assert params.num_inference_steps == 9


def test_unknown_quality_is_refused():
    with pytest.raises(ValueError, match="quality"):
        GenerationParams.build({"prompt": "x"}, quality="ultra")


def test_a_template_wraps_the_prompt_and_nothing_else_is_interpreted():
    assert apply_template("studio photo of {prompt}, softbox", "a {red} cup") == (
        "studio photo of a {red} cup, softbox"
    )
    params = GenerationParams.build(
        {"prompt": "a cup"}, preset={"prompt_template": "{prompt} :: {prompt}"}
    )
    assert params.prompt == "a cup :: a cup"


def test_size_auto_with_a_fixed_size_preset_takes_the_closest_native_size():
    params = GenerationParams.build(
        {"prompt": "a panorama", "size": "auto"}, preset={"size": "portrait_16_9"}
    )
    assert (params.width, params.height, params.size_preset) == (928, 1664, "native_9_16")


def test_a_revised_prompt_equal_to_the_prompt_is_no_revision_and_nul_is_refused():
    assert GenerationParams(prompt="a fox", revised_prompt=" a fox ").revised_prompt == ""
    with pytest.raises(ValidationError):
        GenerationParams(prompt="a fox", revised_prompt="a\x00fox")
    drawn = GenerationParams(prompt="a fox", revised_prompt="a red fox").backend_request(model="m")
    assert drawn.prompt == "a red fox"
