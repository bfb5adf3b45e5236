"""The enhancer: rewrite a prompt by the rules on a model the operator configured (any
OpenAI-compatible chat endpoint, or a small local model on the CPU), within a time bound.

It never raises for a slow, failing or misbehaving model: `prompt_enhance` answers the original
prompt with a note saying why. Which model runs is configuration (PROMPT_ENHANCER and friends,
docs/prompts.md); off by default.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Literal, Protocol

import httpx
from django.conf import settings

from generation.prompts.errors import EnhancerError
from generation.prompts.rules import clean_reply, missing_quotes, system_prompt_for

logger = logging.getLogger("qwen.prompts")

Status = Literal["enhanced", "fallback"]
# Bytes of a chat answer read at most: a prompt is a few KB; anything larger is not one.
MAX_ANSWER_BYTES = 256 * 1024


class Enhancer(Protocol):
    name: str  # "chat" or "local"
    label: str  # the model, as the job's note names it

    def complete(self, *, system: str, prompt: str, budget: float) -> str:
        """The model's reply to the prompt under the system prompt, within `budget` seconds,
        or EnhancerError."""


@dataclass(frozen=True)
class Enhancement:
    prompt: str
    revised: str  # the original prompt when status is "fallback"
    status: Status
    note: str
    language: str
    seconds: float
    system_prompt: str

    @property
    def changed(self) -> bool:
        return self.status == "enhanced" and self.revised != self.prompt

    def as_api(self) -> dict:
        return {
            "prompt": self.prompt,
            "revised_prompt": self.revised,
            "status": self.status,
            "note": self.note,
            "language": self.language,
            "seconds": round(self.seconds, 3),
        }


# --- An OpenAI-compatible chat endpoint -------------------------------------------------------


class ChatEnhancer:
    """POST {base}/chat/completions, as Ollama, vLLM, llama.cpp's server and hosted models
    answer it. The whole call (connect, send, every chunk of the answer) fits in the budget."""

    name = "chat"

    def __init__(
        self,
        *,
        base_url: str,
        model: str,
        api_key: str = "",
        max_tokens: int = 400,
        temperature: float = 0.7,
        connect_timeout: float = 5.0,
    ) -> None:
        self.url = base_url.rstrip("/") + "/chat/completions"
        self.model = model
        self.label = model
        self.api_key = api_key
        self.max_tokens = max_tokens
        self.temperature = temperature
        self.connect_timeout = connect_timeout
        self._client = httpx.Client(follow_redirects=False)

    def complete(self, *, system: str, prompt: str, budget: float) -> str:
        deadline = time.monotonic() + budget
        body = {
            "model": self.model,
            "messages": [
                {"role": "system", "content": system},
                {"role": "user", "content": prompt},
            ],
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "stream": False,
        }
        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        left = max(0.001, budget)
        timeout = httpx.Timeout(left, connect=min(self.connect_timeout, left))
        try:
            with self._client.stream(
                "POST", self.url, json=body, headers=headers, timeout=timeout
            ) as response:
                data = bytearray()
                for chunk in response.iter_bytes():
                    data += chunk
                    if time.monotonic() > deadline:
                        raise httpx.ReadTimeout("budget spent")
                    if len(data) > MAX_ANSWER_BYTES:
                        raise EnhancerError("The prompt enhancer's answer was too large.")
        except httpx.TimeoutException:
            raise _timed_out(budget) from None
        except httpx.HTTPError as exc:
            raise EnhancerError(
                f"The prompt enhancer could not be reached ({type(exc).__name__})."
            ) from None
        if time.monotonic() > deadline:
            raise _timed_out(budget)
        if response.status_code != 200:
            raise EnhancerError(
                f"The prompt enhancer is unavailable (HTTP {response.status_code})."
            )
        try:
            return json.loads(bytes(data))["choices"][0]["message"]["content"] or ""
        except (ValueError, KeyError, IndexError, TypeError):
            raise EnhancerError("The prompt enhancer answered in an unexpected shape.") from None


def _timed_out(budget: float) -> EnhancerError:
    return EnhancerError(f"The prompt enhancer did not answer within {budget:g} s.", timed_out=True)


# --- Which enhancer this process uses -------------------------------------------------------

_enhancer: Enhancer | None = None
_enhancer_lock = threading.Lock()


def enhancer_kind() -> str:
    """ "" (off), "chat" or "local"."""
    return (settings.PROMPT_ENHANCER or "").strip().lower()


def enhancer_enabled() -> bool:
    return enhancer_kind() in ("chat", "local")


def get_enhancer() -> Enhancer | None:
    """The configured enhancer, built once per process (None when enhancement is off)."""
    global _enhancer
    kind = enhancer_kind()
    if kind not in ("chat", "local"):
        return None
    with _enhancer_lock:
        if _enhancer is None:
            if kind == "chat":
                _enhancer = ChatEnhancer(
                    base_url=settings.PROMPT_ENHANCER_BASE_URL,
                    model=settings.PROMPT_ENHANCER_MODEL,
                    api_key=settings.PROMPT_ENHANCER_API_KEY,
                    max_tokens=settings.PROMPT_ENHANCER_MAX_TOKENS,
                    temperature=settings.PROMPT_ENHANCER_TEMPERATURE,
                )
            else:
                from generation.prompts.local import LocalEnhancer  # torch loads only here

                _enhancer = LocalEnhancer(
                    path=settings.PROMPT_ENHANCER_LOCAL_DIR,
                    max_tokens=settings.PROMPT_ENHANCER_MAX_TOKENS,
                    threads=settings.PROMPT_ENHANCER_LOCAL_THREADS,
                )
        return _enhancer


def reset_enhancer() -> None:
    """Forget the process's enhancer (tests, or after the settings changed)."""
    global _enhancer
    with _enhancer_lock:
        _enhancer = None


# --- The one entry point --------------------------------------------------------------------


def prompt_enhance(
    *, prompt: str, custom: dict[str, str] | None = None, timeout: float | None = None
) -> Enhancement:
    """The prompt rewritten by the rules (the team's `custom` system prompts, else ours), or
    the original with a note: never an exception, never longer than `timeout` seconds (default
    PROMPT_ENHANCER_TIMEOUT) plus a little."""
    budget = float(timeout if timeout is not None else settings.PROMPT_ENHANCER_TIMEOUT)
    system, language = system_prompt_for(prompt, custom)
    started = time.monotonic()

    def fallback(reason: str) -> Enhancement:
        seconds = time.monotonic() - started
        logger.info("prompt_enhance status=fallback seconds=%.3f", seconds)
        return Enhancement(
            prompt=prompt,
            revised=prompt,
            status="fallback",
            note=f"{reason} The original prompt was used.",
            language=language,
            seconds=seconds,
            system_prompt=system,
        )

    enhancer = get_enhancer()
    if enhancer is None:
        return fallback("Prompt enhancement is off on this server.")
    try:
        reply = enhancer.complete(system=system, prompt=prompt, budget=budget)
    except EnhancerError as exc:
        return fallback(exc.message)
    except Exception as exc:  # a bug in a runtime must not fail the job
        logger.exception("prompt enhancer failed")
        return fallback(f"The prompt enhancer failed ({type(exc).__name__}).")
    revised = clean_reply(reply)
    if not revised:
        return fallback("The prompt enhancer returned nothing usable.")
    if len(revised) > settings.GENERATION_MAX_PROMPT_LENGTH:
        return fallback(
            f"The revision was longer than {settings.GENERATION_MAX_PROMPT_LENGTH} characters."
        )
    if "\x00" in revised:
        return fallback("The prompt enhancer returned unusable characters.")
    lost = missing_quotes(prompt, revised)
    if lost:
        shown = ", ".join(f"“{text[:40]}”" for text in lost[:3])
        return fallback(f"The prompt enhancer changed the quoted text {shown}.")
    seconds = time.monotonic() - started
    logger.info("prompt_enhance status=enhanced seconds=%.3f", seconds)
    return Enhancement(
        prompt=prompt,
        revised=revised,
        status="enhanced",
        note=f"Enhanced by {enhancer.label} in {seconds:.1f} s.",
        language=language,
        seconds=seconds,
        system_prompt=system,
    )
