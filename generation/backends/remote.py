"""Remote backend: the hosted `POST /v1/images/generations` endpoint (generation/spec/).

One HTTP call per image, each with `n: 1` and that image's own seed, so every stored image can
be reproduced on its own; the calls of one job run concurrently on a small thread pool. Each
call (request plus image download) has a wall-clock budget, enforced while the body streams,
because httpx read timeouts apply per chunk. Image URLs are fetched only from allowed origins
(the API base's own origin plus QWEN_IMAGE_DOWNLOAD_ORIGINS, exact scheme, host and port),
redirects are followed by hand within those origins, and every body is read under a byte cap.

Faults become `BackendError`s; the job service retries the retryable ones with backoff up to
GENERATION_MAX_ATTEMPTS and fails the others at once with the message shown here:

| code                      | retry | when                                                        |
|---------------------------|-------|-------------------------------------------------------------|
| not_configured            | no    | no QWEN_IMAGE_API_KEY, or a malformed QWEN_IMAGE_* setting   |
| rate_limited              | yes   | HTTP 429; Retry-After (seconds or a date) sets the delay     |
| upstream_error            | yes   | HTTP 5xx (Retry-After honoured on 503), 408                  |
| upstream_timeout          | yes   | connect/read/write/pool timeout, or the call budget ran out |
| upstream_unreachable      | yes   | connection refused, DNS failure, connection dropped         |
| upstream_bad_json         | yes   | a 2xx body that is not valid JSON                            |
| upstream_bad_content_type | yes   | a 2xx answer that is not `application/json`                  |
| upstream_no_data          | yes   | JSON without a non-empty `data` list                         |
| upstream_bad_item         | yes   | an item with neither `url` nor valid base64 `b64_json`       |
| bad_request               | no    | HTTP 400 or 422: the provider's own message is shown         |
| content_policy            | no    | a 4xx whose message or code names a content/safety policy    |
| upstream_auth             | no    | HTTP 401 or 403: the API key is wrong or not allowed         |
| upstream_not_found        | no    | HTTP 404: wrong QWEN_IMAGE_API_BASE or model                 |
| upstream_rejected         | no    | any other 4xx                                               |
| upstream_redirect         | no    | the generation call itself answered with a redirect         |
| download_refused          | no    | image URL outside the allowed origins, a private/loopback/   |
|                           |       | link-local address, a redirect off them, or > 3 redirects   |
| download_failed           | yes   | the image URL answered non-2xx or not an image content type |
| image_too_large           | no    | image or body over QWEN_IMAGE_MAX_DOWNLOAD_BYTES            |

Undecodable images (truncated PNG, decompression bombs) are refused later by
generation.imaging (`invalid_image`). The API key is sent only in the Authorization header, to
the API's own origin, and never appears in a log line or an error message.
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import contextlib
import datetime as dt
import email.utils
import ipaddress
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx
from django.conf import settings

from generation.backends.base import (
    BackendError,
    CancelCheck,
    Canceled,
    GeneratedImage,
    GenerationRequest,
    ProgressCallback,
)

logger = logging.getLogger("qwen.backends.remote")

GENERATIONS_PATH = "/v1/images/generations"
MAX_REDIRECTS = 3
MAX_RETRY_AFTER = 3600.0
_JSON_OVERHEAD = 1024 * 1024  # room for JSON around a base64 image
_CONTENT_POLICY = re.compile(
    r"content[\s_-]*(policy|filter|moderation|management)|safety[\s_-]*(system|checker|filter)"
    r"|nsfw|moderation|prohibited content|inappropriate|unsafe content|sensitive content",
    re.IGNORECASE,
)
_IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")
_DATA_URI = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def origin_of(url: str) -> Origin | None:
    """scheme, lower-cased host and explicit port of an http(s) URL; None if it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return Origin(scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80))


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


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


def _clean(text: str, limit: int = 500) -> str:
    text = re.sub(r"[\x00-\x08\x0b-\x1f\x7f]+", " ", text).strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _provider_message(body: bytes) -> tuple[str, str]:
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


class _Deadline:
    """A call's wall-clock budget, shared by its request and its downloads."""

    def __init__(self, seconds: float, stop: threading.Event) -> None:
        self.seconds = seconds
        self.expires = time.monotonic() + seconds
        self.stop = stop

    def remaining(self) -> float:
        return self.expires - time.monotonic()

    def check(self) -> None:
        if self.stop.is_set():
            raise _Stopped()
        if self.remaining() <= 0:
            raise BackendError(
                f"The image service did not finish within the {self.seconds:g} s budget "
                "for one image.",
                code="upstream_timeout",
                retryable=True,
            )


class _Stopped(Exception):
    """Another image of the same job failed, or the job was canceled: stop this call."""


class RemoteBackend:
    name = "remote"

    def __init__(
        self,
        *,
        api_base: str,
        api_key: str,
        model: str,
        output_format: str = "b64_json",
        connect_timeout: float = 10.0,
        read_timeout: float = 120.0,
        call_budget: float = 300.0,
        max_download_bytes: int = 40 * 1024 * 1024,
        download_origins: list[str] | tuple[str, ...] = (),
        parallel_calls: int = 4,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        # A bad setting fails each job with a clear message (the backend is built lazily,
        # inside a job, so raising here would only show up as an internal error).
        self.config_error = ""
        if output_format not in ("url", "b64_json"):
            self.config_error = (
                f"QWEN_IMAGE_OUTPUT_FORMAT must be url or b64_json, not {output_format!r}."
            )
        self.api_base = api_base.rstrip("/")
        self._api_key = api_key
        self.model = model
        self.output_format = output_format
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.call_budget = call_budget
        self.max_download_bytes = max_download_bytes
        self.parallel_calls = max(1, parallel_calls)
        self.api_origin = origin_of(self.api_base)
        self.allowed_origins: set[Origin] = set()
        if self.api_origin:
            self.allowed_origins.add(self.api_origin)
        for value in download_origins:
            origin = origin_of(value)
            if origin is None:
                self.config_error = (
                    f"QWEN_IMAGE_DOWNLOAD_ORIGINS holds {value!r}, which is not an http(s) origin."
                )
            else:
                self.allowed_origins.add(origin)
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_pid: int | None = None
        self._client_lock = threading.Lock()

    @classmethod
    def from_settings(cls) -> RemoteBackend:
        return cls(
            api_base=settings.QWEN_IMAGE_API_BASE,
            api_key=settings.QWEN_IMAGE_API_KEY,
            model=settings.QWEN_IMAGE_MODEL,
            output_format=settings.QWEN_IMAGE_OUTPUT_FORMAT,
            connect_timeout=settings.QWEN_IMAGE_CONNECT_TIMEOUT,
            read_timeout=settings.QWEN_IMAGE_READ_TIMEOUT,
            call_budget=settings.QWEN_IMAGE_CALL_BUDGET,
            max_download_bytes=settings.QWEN_IMAGE_MAX_DOWNLOAD_BYTES,
            download_origins=settings.QWEN_IMAGE_DOWNLOAD_ORIGINS,
            parallel_calls=settings.QWEN_IMAGE_PARALLEL_CALLS,
        )

    def __repr__(self) -> str:  # never shows the key
        return f"<RemoteBackend {self.api_base} model={self.model}>"

    # --- The shared client -------------------------------------------------------------------

    @property
    def client(self) -> httpx.Client:
        """One client per process, built on first use (a forked child builds its own)."""
        pid = os.getpid()
        with self._client_lock:
            if self._client is None or self._client_pid != pid:
                self._client = httpx.Client(
                    timeout=httpx.Timeout(
                        connect=self.connect_timeout,
                        read=self.read_timeout,
                        write=self.connect_timeout,
                        pool=self.connect_timeout,
                    ),
                    limits=httpx.Limits(
                        max_connections=max(16, self.parallel_calls * 4),
                        max_keepalive_connections=max(8, self.parallel_calls * 2),
                    ),
                    follow_redirects=False,
                    headers={"User-Agent": "QwenImageStudio/0.1"},
                    transport=self._transport,
                )
                self._client_pid = pid
            return self._client

    def close(self) -> None:
        with self._client_lock:
            if self._client is not None and self._client_pid == os.getpid():
                self._client.close()
            self._client = None

    # --- Backend interface -------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
    ) -> list[GeneratedImage]:
        if not self._api_key:
            raise BackendError(
                "The remote backend has no API key: set QWEN_IMAGE_API_KEY.",
                code="not_configured",
                retryable=False,
            )
        if self.api_origin is None:
            self.config_error = f"QWEN_IMAGE_API_BASE is not an http(s) URL: {self.api_base!r}."
        if self.config_error:
            raise BackendError(self.config_error, code="not_configured", retryable=False)
        seeds = list(request.seeds)
        if should_cancel():
            raise Canceled()
        on_progress(0.0)
        stop = threading.Event()
        results: dict[int, GeneratedImage] = {}
        errors: list[BackendError] = []
        pool = concurrent.futures.ThreadPoolExecutor(
            max_workers=min(len(seeds), self.parallel_calls) or 1,
            thread_name_prefix="qwen-remote",
        )
        try:
            futures = {
                pool.submit(self._generate_one, request, seed, stop): index
                for index, seed in enumerate(seeds)
            }
            pending = set(futures)
            while pending:
                done, pending = concurrent.futures.wait(
                    pending, timeout=0.25, return_when=concurrent.futures.FIRST_COMPLETED
                )
                for future in done:
                    try:
                        results[futures[future]] = future.result()
                    except BackendError as error:
                        errors.append(error)
                    except _Stopped:
                        pass
                if errors:
                    break
                if done:
                    on_progress(len(results) / len(seeds))
                if pending and should_cancel():
                    stop.set()
                    raise Canceled()
        finally:
            stop.set()  # running calls stop at their next chunk
            pool.shutdown(wait=False, cancel_futures=True)
        if errors:
            # A permanent fault wins: retrying the job cannot help.
            permanent = [e for e in errors if not e.retryable]
            error = permanent[0] if permanent else errors[0]
            if error.retryable:
                waits = [e.retry_after for e in errors if e.retry_after is not None]
                error.retry_after = max(waits) if waits else None
            raise error
        return [results[index] for index in range(len(seeds))]

    # --- One image ---------------------------------------------------------------------------

    def _body(self, request: GenerationRequest, seed: int) -> dict:
        # Every field of the spec's body, always: providers disagree on defaults.
        return {
            "model": request.model or self.model,
            "prompt": request.prompt,
            "size": {"width": request.width, "height": request.height},
            "num_inference_steps": request.num_inference_steps,
            "guidance_scale": request.guidance_scale,
            "seed": seed,
            "negative_prompt": request.negative_prompt,
            "acceleration": request.acceleration,
            "enable_safety_checker": request.enable_safety_checker,
            "n": 1,
            "output_format": self.output_format,
        }

    def _timeout(self, deadline: _Deadline) -> httpx.Timeout:
        left = max(0.001, deadline.remaining())
        return httpx.Timeout(
            connect=min(self.connect_timeout, left),
            read=min(self.read_timeout, left),
            write=min(self.connect_timeout, left),
            pool=min(self.connect_timeout, left),
        )

    def _generate_one(
        self, request: GenerationRequest, seed: int, stop: threading.Event
    ) -> GeneratedImage:
        deadline = _Deadline(self.call_budget, stop)
        started = time.monotonic()
        url = self.api_base + GENERATIONS_PATH
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        with (
            _transport_errors(deadline, what="the image service"),
            self.client.stream(
                "POST",
                url,
                json=self._body(request, seed),
                headers=headers,
                timeout=self._timeout(deadline),
            ) as response,
        ):
            status = response.status_code
            if status >= 300:
                body = self._read(response, deadline, limit=64 * 1024, truncate=True)
                raise self._status_error(response, body)
            content_type = response.headers.get("content-type", "")
            if "json" not in content_type.split(";")[0].lower():
                raise BackendError(
                    "The image service answered with "
                    f"{content_type.split(';')[0] or 'no content type'} instead of JSON.",
                    code="upstream_bad_content_type",
                    retryable=True,
                    status=status,
                )
            limit = math.ceil(self.max_download_bytes / 3) * 4 + _JSON_OVERHEAD
            body = self._read(response, deadline, limit=limit)
        try:
            payload = json.loads(body)
        except ValueError:
            raise BackendError(
                "The image service answered with malformed JSON.",
                code="upstream_bad_json",
                retryable=True,
                status=status,
            ) from None
        data = payload.get("data") if isinstance(payload, dict) else None
        if not isinstance(data, list) or not data or not isinstance(data[0], dict):
            raise BackendError(
                "The image service answered without any image in `data`.",
                code="upstream_no_data",
                retryable=True,
                status=status,
            )
        item = data[0]
        image = self._item_bytes(item, deadline)
        revised = item.get("revised_prompt")
        elapsed = time.monotonic() - started
        logger.info("remote image seed=%s bytes=%s seconds=%.3f", seed, len(image), elapsed)
        return GeneratedImage(
            data=image,
            seed=seed,
            revised_prompt=revised if isinstance(revised, str) else "",
            provider_nsfw=_nsfw_flag(payload, item),
        )

    def _item_bytes(self, item: dict, deadline: _Deadline) -> bytes:
        encoded = item.get("b64_json")
        if isinstance(encoded, str) and encoded:
            encoded = _DATA_URI.sub("", encoded, count=1)
            if len(encoded) > math.ceil(self.max_download_bytes / 3) * 4:
                raise self._too_large()
            try:
                return base64.b64decode(encoded, validate=True)
            except (binascii.Error, ValueError):
                raise BackendError(
                    "The image service sent `b64_json` that is not valid base64.",
                    code="upstream_bad_item",
                    retryable=True,
                ) from None
        url = item.get("url")
        if isinstance(url, str) and url:
            return self._download(url, deadline)
        raise BackendError(
            "The image service sent an image item with neither `url` nor `b64_json`.",
            code="upstream_bad_item",
            retryable=True,
        )

    # --- Downloads ---------------------------------------------------------------------------

    def check_download_url(self, url: str) -> Origin:
        """The URL's origin if we may fetch it; BackendError(download_refused) otherwise."""
        origin = origin_of(url)
        if origin is None:
            raise _refused("The image service sent an image address that is not http(s).")
        if urlsplit(url).username is not None:
            raise _refused("The image service sent an image address with credentials in it.")
        if origin in self.allowed_origins:
            return origin
        ip = _literal_ip(origin.host)
        if ip is not None and _is_internal(ip):
            raise _refused(
                f"The image service sent an image address on a private or local network "
                f"({origin}); refused."
            )
        raise _refused(
            f"The image service sent an image address outside the allowed origins ({origin}). "
            "An operator can allow it with QWEN_IMAGE_DOWNLOAD_ORIGINS."
        )

    def _download(self, url: str, deadline: _Deadline) -> bytes:
        for _hop in range(MAX_REDIRECTS + 1):
            origin = self.check_download_url(url)
            headers = {"Accept": "image/*"}
            if origin == self.api_origin:  # the key goes to the API's own origin only
                headers["Authorization"] = f"Bearer {self._api_key}"
            with (
                _transport_errors(deadline, what="the image download"),
                self.client.stream(
                    "GET", url, headers=headers, timeout=self._timeout(deadline)
                ) as response,
            ):
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    raise BackendError(
                        f"Downloading the image failed with HTTP {response.status_code}.",
                        code="download_failed",
                        retryable=True,
                        status=response.status_code,
                    )
                content_type = response.headers.get("content-type", "").lower()
                if content_type and not content_type.startswith(_IMAGE_TYPES):
                    raise BackendError(
                        "The image address answered with "
                        f"{content_type.split(';')[0]} instead of an image.",
                        code="download_failed",
                        retryable=True,
                    )
                return self._read(response, deadline, limit=self.max_download_bytes)
        raise _refused(f"The image address redirected more than {MAX_REDIRECTS} times.")

    # --- Reading and errors ------------------------------------------------------------------

    def _read(
        self, response: httpx.Response, deadline: _Deadline, *, limit: int, truncate: bool = False
    ) -> bytes:
        """The body, streamed under the byte cap and the call's deadline."""
        declared = response.headers.get("content-length")
        if not truncate and declared and declared.isdigit() and int(declared) > limit:
            raise self._too_large()
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():  # as they arrive: a chunk size would buffer
            deadline.check()
            size += len(chunk)
            if size > limit:
                if truncate:
                    chunks.append(chunk[: limit - (size - len(chunk))])
                    break
                raise self._too_large()
            chunks.append(chunk)
        deadline.check()
        return b"".join(chunks)

    def _too_large(self) -> BackendError:
        return BackendError(
            f"The image is larger than the {self.max_download_bytes:,} byte limit.",
            code="image_too_large",
            retryable=False,
        )

    def _status_error(self, response: httpx.Response, body: bytes) -> BackendError:
        status = response.status_code
        message, provider_code = _provider_message(body)
        retry_after = parse_retry_after(response.headers.get("retry-after"))
        said = f": {message}" if message else "."
        if 300 <= status < 400:
            return BackendError(
                f"The image service answered with a redirect (HTTP {status}); set "
                "QWEN_IMAGE_API_BASE to the address it really serves.",
                code="upstream_redirect",
                retryable=False,
                status=status,
            )
        if status == 429:
            wait = f" Retrying after {retry_after:g} s." if retry_after is not None else ""
            return BackendError(
                f"The image service is rate limiting requests (HTTP 429).{wait}",
                code="rate_limited",
                retryable=True,
                retry_after=retry_after,
                status=status,
            )
        if status >= 500 or status == 408:
            return BackendError(
                f"The image service had an error (HTTP {status}){said}",
                code="upstream_error",
                retryable=True,
                retry_after=retry_after,
                status=status,
            )
        if _CONTENT_POLICY.search(message) or _CONTENT_POLICY.search(provider_code):
            return BackendError(
                f"The image service refused the prompt under its content policy{said}",
                code="content_policy",
                retryable=False,
                status=status,
            )
        if status in (401, 403):
            return BackendError(
                f"The image service refused the API key (HTTP {status}){said} "
                "Check QWEN_IMAGE_API_KEY.",
                code="upstream_auth",
                retryable=False,
                status=status,
            )
        if status in (400, 422):
            return BackendError(
                f"The image service rejected the request{said}"
                if message
                else f"The image service rejected the request (HTTP {status}).",
                code="bad_request",
                retryable=False,
                status=status,
            )
        if status == 404:
            return BackendError(
                "The image service has no such endpoint or model (HTTP 404); check "
                "QWEN_IMAGE_API_BASE and QWEN_IMAGE_MODEL.",
                code="upstream_not_found",
                retryable=False,
                status=status,
            )
        return BackendError(
            f"The image service refused the request (HTTP {status}){said}",
            code="upstream_rejected",
            retryable=False,
            status=status,
        )


@contextlib.contextmanager
def _transport_errors(deadline: _Deadline, *, what: str) -> Iterator[None]:
    """httpx's transport faults as BackendErrors a person can read."""
    deadline.check()
    try:
        yield
    except httpx.TimeoutException as error:
        raise BackendError(
            f"Timed out waiting for {what} ({type(error).__name__}).",
            code="upstream_timeout",
            retryable=True,
        ) from None
    except httpx.ConnectError:
        raise BackendError(
            f"Could not connect to {what}.", code="upstream_unreachable", retryable=True
        ) from None
    except (httpx.UnsupportedProtocol, httpx.InvalidURL):
        raise _refused(f"Cannot fetch from {what}: unsupported address.") from None
    except httpx.HTTPError as error:
        raise BackendError(
            f"The connection to {what} broke ({type(error).__name__}).",
            code="upstream_unreachable",
            retryable=True,
        ) from None


def _refused(message: str) -> BackendError:
    return BackendError(message, code="download_refused", retryable=False)


def _truthy_flag(value: Any) -> bool | None:
    if isinstance(value, bool):
        return value
    if isinstance(value, list) and value and all(isinstance(v, bool) for v in value):
        return any(value)
    return None


def _nsfw_flag(payload: dict, item: dict) -> bool | None:
    """The provider's safety signal, wherever it put it (item or top level)."""
    for key in ("has_nsfw_concepts", "has_nsfw_concept", "nsfw"):
        flag = _truthy_flag(item.get(key))
        if flag is not None:
            return flag
    for key in ("has_nsfw_concepts", "has_nsfw_concept"):
        value = payload.get(key)
        if isinstance(value, list) and value and isinstance(value[0], bool):
            return value[0]  # one image per call: the first entry is ours
        flag = _truthy_flag(value)
        if flag is not None:
            return flag
    return None
