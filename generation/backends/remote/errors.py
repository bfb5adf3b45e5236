"""What the image service's faults become: `BackendError`s with a code and a readable message.

Two tables do the mapping, read top to bottom, first match wins: STATUS_RULES for an HTTP
status (with the provider's own message and code from the error body), TRANSPORT_ERRORS for
httpx's transport faults. The codes are listed in generation/backends/remote/__init__.py.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import email.utils
import json
import math
import re
from collections.abc import Container, Iterator
from dataclasses import dataclass
from typing import Any

import httpx

from generation.backends.base import BackendError

MAX_RETRY_AFTER = 3600.0
CONTENT_POLICY = re.compile(
    r"content[\s_-]*(policy|filter|moderation|management)|safety[\s_-]*(system|checker|filter)"
    r"|nsfw|moderation|prohibited content|inappropriate|unsafe content|sensitive content",
    re.IGNORECASE,
)
ANY_STATUS = range(0, 1 << 31)


@dataclass(frozen=True)
class StatusRule:
    """One row of STATUS_RULES.

    `message` may use {status}, {said} (": <provider message>" or ".") and {wait} (" Retrying
    after N s." when the answer had a Retry-After); `bare` replaces it when the provider gave
    no message.
    """

    statuses: Container[int]
    code: str
    retryable: bool
    message: str
    bare: str = ""
    policy: bool = False  # only when the provider's message or code names a content policy
    retry_after: bool = False  # pass the answer's Retry-After on to the retry


STATUS_RULES: tuple[StatusRule, ...] = (
    StatusRule(
        range(300, 400),
        "upstream_redirect",
        False,
        "The image service answered with a redirect (HTTP {status}); set QWEN_IMAGE_API_BASE "
        "to the address it really serves.",
    ),
    StatusRule(
        {429},
        "rate_limited",
        True,
        "The image service is rate limiting requests (HTTP 429).{wait}",
        retry_after=True,
    ),
    StatusRule(
        range(500, 1 << 31),
        "upstream_error",
        True,
        "The image service had an error (HTTP {status}){said}",
        retry_after=True,
    ),
    StatusRule(
        {408},
        "upstream_error",
        True,
        "The image service had an error (HTTP {status}){said}",
        retry_after=True,
    ),
    StatusRule(
        ANY_STATUS,
        "content_policy",
        False,
        "The image service refused the prompt under its content policy{said}",
        policy=True,
    ),
    StatusRule(
        {401, 403},
        "upstream_auth",
        False,
        "The image service refused the API key (HTTP {status}){said} Check QWEN_IMAGE_API_KEY.",
    ),
    StatusRule(
        {400, 422},
        "bad_request",
        False,
        "The image service rejected the request{said}",
        bare="The image service rejected the request (HTTP {status}).",
    ),
    StatusRule(
        {404},
        "upstream_not_found",
        False,
        "The image service has no such endpoint or model (HTTP 404); check "
        "QWEN_IMAGE_API_BASE and QWEN_IMAGE_MODEL.",
    ),
    StatusRule(
        ANY_STATUS,
        "upstream_rejected",
        False,
        "The image service refused the request (HTTP {status}){said}",
    ),
)

# (exception classes, code, retryable, message with {what} and {name}: the exception's class)
Kinds = type[Exception] | tuple[type[Exception], ...]
TRANSPORT_ERRORS: tuple[tuple[Kinds, str, bool, str], ...] = (
    (httpx.TimeoutException, "upstream_timeout", True, "Timed out waiting for {what} ({name})."),
    (httpx.ConnectError, "upstream_unreachable", True, "Could not connect to {what}."),
    (
        (httpx.UnsupportedProtocol, httpx.InvalidURL),
        "download_refused",
        False,
        "Cannot fetch from {what}: unsupported address.",
    ),
    (httpx.HTTPError, "upstream_unreachable", True, "The connection to {what} broke ({name})."),
)


# Faults before the request left: the service never saw it (and cannot have billed it).
NOT_SENT = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.UnsupportedProtocol,
    httpx.InvalidURL,
)


def status_error(status: int, headers: httpx.Headers, body: bytes) -> BackendError:
    """The error for a non-2xx answer to the generation call, by the first matching rule."""
    message, provider_code = provider_message(body)
    retry_after = parse_retry_after(headers.get("retry-after"))
    names_policy = bool(CONTENT_POLICY.search(message) or CONTENT_POLICY.search(provider_code))
    rule = next(
        rule
        for rule in STATUS_RULES
        if status in rule.statuses and (names_policy or not rule.policy)
    )
    template = rule.bare if rule.bare and not message else rule.message
    text = template.format(
        status=status,
        said=f": {message}" if message else ".",
        wait=f" Retrying after {retry_after:g} s." if retry_after is not None else "",
    )
    return BackendError(
        text,
        code=rule.code,
        retryable=rule.retryable,
        retry_after=retry_after if rule.retry_after else None,
        status=status,
    )


@contextlib.contextmanager
def transport_errors(*, what: str) -> Iterator[None]:
    """httpx's transport faults as BackendErrors a person can read."""
    try:
        yield
    except (httpx.HTTPError, httpx.InvalidURL) as error:
        for kinds, code, retryable, message in TRANSPORT_ERRORS:
            if isinstance(error, kinds):
                text = message.format(what=what, name=type(error).__name__)
                raise BackendError(
                    text, code=code, retryable=retryable, sent=not isinstance(error, NOT_SENT)
                ) from None
        raise  # not reached: httpx.HTTPError is the last row


def parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        if when.tzinfo is None:
            when = when.replace(tzinfo=dt.UTC)
        seconds = (when - dt.datetime.now(dt.UTC)).total_seconds()
    if not math.isfinite(seconds):
        return None
    return min(max(seconds, 0.0), MAX_RETRY_AFTER)


def provider_message(body: bytes) -> tuple[str, str]:
    """(message, code) from an error body in any of the usual shapes."""
    try:
        payload = json.loads(body)
    except ValueError:
        return _clean(body.decode("utf-8", "replace"), 300), ""
    message: Any = ""
    code: Any = ""
    if isinstance(payload, dict):
        error = payload.get("error")
        if isinstance(error, dict):
            message = error.get("message") or ""
            code = error.get("code") or error.get("type") or ""
        elif isinstance(error, str):
            message = error
        message = message or payload.get("message") or payload.get("detail") or ""
        code = code or payload.get("code") or ""
    if isinstance(message, list):  # FastAPI-style validation details
        message = "; ".join(
            str(item.get("msg", item)) if isinstance(item, dict) else str(item) for item in message
        )
    return _clean(str(message)), _clean(str(code), 100)


def _clean(text: str, limit: int = 500) -> str:
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def budget_spent(seconds: float) -> BackendError:
    return BackendError(
        f"The image service did not finish within the {seconds:g} s budget for one image.",
        code="upstream_timeout",
        retryable=True,
    )


def too_large(max_bytes: int) -> BackendError:
    return BackendError(
        f"The image is larger than the {max_bytes:,} byte limit.",
        code="image_too_large",
        retryable=False,
    )


def refused(message: str) -> BackendError:
    return BackendError(message, code="download_refused", retryable=False)
