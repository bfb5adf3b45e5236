"""The local enhancer's real loading and generation code (transformers on the CPU) on a tiny
randomly initialised Qwen2 chat model written offline; and the download command, which is the
only thing that fetches the real model (never in tests)."""

import io
import json
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from generation.prompts import local as local_module
from generation.prompts.enhancer import prompt_enhance
from generation.prompts.errors import EnhancerError
from generation.prompts.local import LocalEnhancer
from tests.generation.tiny_qwen import SPECIAL_TOKENS, write_tokenizer

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

CHAT_TEMPLATE = (
    "{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n"
    "{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)


@pytest.fixture(scope="module")
def tiny_chat_model(tmp_path_factory) -> Path:
    """A Qwen2ForCausalLM of a few hundred KB with a byte-level tokenizer and chat template."""
    directory = tmp_path_factory.mktemp("tiny-chat")
    write_tokenizer(directory)
    config_path = directory / "tokenizer_config.json"
    tokenizer_config = json.loads(config_path.read_text())
    tokenizer_config.update(
        chat_template=CHAT_TEMPLATE, eos_token="<|im_end|>", pad_token="<|endoftext|>"
    )
    config_path.write_text(json.dumps(tokenizer_config))
    tokenizer = transformers.AutoTokenizer.from_pretrained(directory)
    ids = dict(zip(SPECIAL_TOKENS, tokenizer.convert_tokens_to_ids(SPECIAL_TOKENS), strict=True))
    torch.manual_seed(0)
    config = transformers.Qwen2Config(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        vocab_size=len(tokenizer),
        max_position_embeddings=512,
        bos_token_id=ids["<|endoftext|>"],
        eos_token_id=ids["<|im_end|>"],
        tie_word_embeddings=True,
    )
    model = transformers.Qwen2ForCausalLM(config)
    # Special and blank tokens never win, so the random model says *something* visible.
    silent = [
        i
        for t, i in tokenizer.get_vocab().items()
        if not tokenizer.convert_tokens_to_string([t]).strip()
    ]
    with torch.no_grad():
        for token_id in [*ids.values(), *silent]:
            model.get_input_embeddings().weight[token_id] = 0
    model.save_pretrained(directory)
    tokenizer.save_pretrained(directory)
    return directory


def test_the_local_model_loads_from_its_folder_and_answers(tiny_chat_model):
    enhancer = LocalEnhancer(path=str(tiny_chat_model), max_tokens=12)
    reply = enhancer.complete(system="Rewrite.", prompt="a cat", budget=60)
    assert isinstance(reply, str) and reply.strip()  # random weights: some tokens, not sense
    again = enhancer.complete(system="Rewrite.", prompt="a cat", budget=60)
    assert again == reply  # greedy: the same prompt gets the same revision


def test_the_configured_local_enhancer_is_used_by_prompt_enhance(tiny_chat_model, settings):
    settings.PROMPT_ENHANCER = "local"
    settings.PROMPT_ENHANCER_LOCAL_DIR = str(tiny_chat_model)
    settings.PROMPT_ENHANCER_MAX_TOKENS = 8
    result = prompt_enhance(prompt="a cat", timeout=60)
    assert result.status == "enhanced", result.note
    assert result.note.startswith(f"Enhanced by {tiny_chat_model.name}")


def test_a_missing_model_says_how_to_get_it(tmp_path):
    enhancer = LocalEnhancer(path=str(tmp_path / "nothing-here"))
    with pytest.raises(EnhancerError, match="enhancer_download"):
        enhancer.complete(system="s", prompt="p", budget=5)


def test_a_call_waits_for_loading_only_as_long_as_its_budget(tmp_path, monkeypatch):
    enhancer = LocalEnhancer(path=str(tmp_path))
    monkeypatch.setattr(enhancer, "_load", lambda: time.sleep(3) or enhancer._loaded.set())
    started = time.monotonic()
    with pytest.raises(EnhancerError, match="still loading") as raised:
        enhancer.complete(system="s", prompt="p", budget=0.3)
    assert raised.value.timed_out and time.monotonic() - started < 1.0


def test_the_download_command_fetches_only_when_run_and_only_weights(tmp_path, monkeypatch):
    calls = []

    def fake_snapshot_download(**kwargs):
        calls.append(kwargs)
        Path(kwargs["local_dir"], "config.json").write_text("{}")

    import huggingface_hub

    monkeypatch.setattr(huggingface_hub, "snapshot_download", fake_snapshot_download)
    call_command("enhancer_download", dir=str(tmp_path / "m"), stdout=io.StringIO())
    (call,) = calls
    assert call["repo_id"] == local_module.DEFAULT_MODEL
    assert call["allow_patterns"] == local_module.WEIGHT_FILES
    monkeypatch.setattr(huggingface_hub, "snapshot_download", lambda **kw: None)
    with pytest.raises(CommandError, match="no config.json"):
        call_command("enhancer_download", dir=str(tmp_path / "empty"), stdout=io.StringIO())
