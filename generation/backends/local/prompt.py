"""Prompt length in the text encoder's tokens: refused when too long, never cut silently.

QwenImagePipeline wraps the prompt in a chat template, tokenizes it (truncating at 1024 + 34
tokens), drops the template's first 34 tokens and keeps `max_sequence_length` (default 512,
at most 1024) of the rest: anything beyond is cut without a word, the positive-magic suffix
(appended last) first. The backend passes 1024 and refuses a longer prompt (or negative
prompt) with its length in tokens; the web process makes the same count at submission when it
can read the model's tokenizer, so the form and the API refuse before a job exists.
"""

from __future__ import annotations

import functools
import logging
from pathlib import Path

from generation.backends.base import BackendError

logger = logging.getLogger(__name__)

MAX_SEQUENCE_LENGTH = 1024  # the most QwenImagePipeline accepts
# QwenImagePipeline.__init__'s prompt_template_encode and prompt_template_encode_start_idx
# (diffusers 0.42.1); the worker uses the loaded pipeline's own values.
TEMPLATE = (
    "<|im_start|>system\nDescribe the image by detailing the color, shape, size, texture, "
    "quantity, text, spatial relationships of the objects and background:<|im_end|>\n"
    "<|im_start|>user\n{}<|im_end|>\n<|im_start|>assistant\n"
)
DROP = 34


def encoded_length(tokenizer, text: str, *, template: str = TEMPLATE, drop: int = DROP) -> int:
    """Tokens the pipeline keeps for `text`: the templated text less the dropped head."""
    return len(tokenizer(template.format(text), truncation=False).input_ids) - drop


def too_long(
    tokenizer, text: str, *, what: str, template: str = TEMPLATE, drop: int = DROP
) -> str | None:
    """Why `text` is too long for the pipeline, or None when it fits."""
    length = encoded_length(tokenizer, text, template=template, drop=drop)
    if length <= MAX_SEQUENCE_LENGTH:
        return None
    tail = encoded_length(tokenizer, "", template=template, drop=drop)  # the template's tail
    words = length - tail
    limit = MAX_SEQUENCE_LENGTH - tail
    return (
        f"The {what} is {words:,} tokens long; the model reads at most {limit:,}. "
        f"Shorten it by about {words - limit:,} tokens (Chinese, Japanese and Korean text "
        "takes about one token per character)."
    )


def check_plan(pipe, plan) -> None:
    """Refuse a job whose prompt or negative prompt the pipeline would cut."""
    template = getattr(pipe, "prompt_template_encode", TEMPLATE)
    drop = getattr(pipe, "prompt_template_encode_start_idx", DROP)
    for what, text in (("prompt", plan.prompt), ("negative prompt", plan.negative_prompt)):
        if text is None:
            continue
        problem = too_long(pipe.tokenizer, text, what=what, template=template, drop=drop)
        if problem:
            if what == "prompt" and plan.prompt_suffix:
                problem += f" That count includes the suffix {plan.prompt_suffix!r} added to it."
            raise BackendError(problem, code="prompt_too_long", retryable=False)


# --- At submission, in the web process ------------------------------------------------------------


def prompt_problem(text: str, *, what: str, magic: str = "") -> str | None:
    """Why the local model would refuse this text, or None (also when the tokenizer cannot be
    read here: the worker counts again before it runs the job)."""
    from django.conf import settings

    from generation.backends.local.config import LocalConfig
    from generation.backends.local.plan import with_magic

    if len(text) * 4 + 64 <= MAX_SEQUENCE_LENGTH:  # byte-level BPE: at most 4 tokens a character
        return None
    try:
        folder = _tokenizer_folder(LocalConfig.from_settings())
    except BackendError:
        return None
    tokenizer = _tokenizer(str(folder)) if folder else None
    if tokenizer is None:
        return None
    if what == "prompt":
        text = with_magic(text, magic or (settings.QWEN_IMAGE_POSITIVE_MAGIC or "").strip().lower())
    return too_long(tokenizer, text, what=what)


def _tokenizer_folder(config) -> Path | None:
    from generation.backends.local.config import _cached_snapshot

    path = Path(config.model).expanduser()
    folder = path if path.is_dir() else _cached_snapshot(config.model)
    return folder / "tokenizer" if folder and (folder / "tokenizer").is_dir() else None


@functools.lru_cache(maxsize=4)
def _tokenizer(folder: str):
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder, local_files_only=True)
    except Exception as error:  # any failure only skips the early check
        logger.warning("prompt length not checked at submission: %s", error)
        return None
