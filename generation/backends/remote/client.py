"""RemoteBackend: the calls to the hosted `POST /v1/images/generations` endpoint.

One HTTP call per image, each with `n: 1` and that image's own seed, so every stored image can
be reproduced on its own; the calls of one job run concurrently on a small thread pool, over
one shared `httpx.Client` per process. Each call (request plus image download) has a
wall-clock budget, enforced while the body streams, because httpx read timeouts apply per
chunk. Image URLs go through the download guard (download.py); faults become BackendErrors
(errors.py).
"""

from __future__ import annotations

import base64
import binascii
import concurrent.futures
import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
from django.conf import settings

from generation.backends import metrics
from generation.backends.base import (
    BackendError,
    CallMeter,
    CancelCheck,
    Canceled,
    GeneratedImage,
    GenerationRequest,
    ImageCallback,
    ProgressCallback,
)
from generation.backends.remote.deadline import Deadline, Stopped
from generation.backends.remote.download import DownloadGuard, Origin, origin_of
from generation.backends.remote.edit import edit_call
from generation.backends.remote.errors import (
    status_error,
    too_large,
    transport_errors,
)

logger = logging.getLogger("qwen.backends.remote")

GENERATIONS_PATH = "/v1/images/generations"
_JSON_OVERHEAD = 1024 * 1024  # room for JSON around a base64 image
_DATA_URI = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)


@dataclass
class _Call:
    """One upstream call as the usage ledger sees it: did it leave, what did the service say."""

    meter: CallMeter
    index: int
    sent: bool = False
    status: int | None = None

    def sending(self) -> None:
        if not self.meter.call_sending(self.index):
            raise Stopped()  # the attempt was settled meanwhile: this call must not leave
        self.sent = True


class RemoteBackend:
    name = "remote"
    reports_calls = True  # each image is one billed call: the runner passes a CallMeter

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
        clock: Callable[[], float] = time.monotonic,
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
        self.clock = clock  # what the call budget is measured on (tests drive their own)
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
        self.guard = DownloadGuard(
            api_origin=self.api_origin,
            allowed_origins=self.allowed_origins,
            max_bytes=max_download_bytes,
        )
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

    def check_download_url(self, url: str) -> Origin:
        """The URL's origin if we may fetch it; BackendError(download_refused) otherwise."""
        return self.guard.check(url)

    # --- Backend interface -------------------------------------------------------------------

    def generate(
        self,
        request: GenerationRequest,
        *,
        on_progress: ProgressCallback,
        should_cancel: CancelCheck,
        on_image: ImageCallback | None = None,
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
                pool.submit(self._metered_call, request, index, seed, stop): index
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
                    except Stopped:
                        pass
                if errors:
                    break
                if done:
                    on_progress(len(results) / len(seeds))
                    if on_image is not None:  # on this thread: the runner writes rows
                        for future in done:
                            if futures[future] in results:
                                on_image(futures[future], results[futures[future]])
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

    def _call(self, request: GenerationRequest, seed: int) -> tuple[str, dict]:
        """(url, httpx arguments) of one image's call: a generation, or an edit (edit.py)."""
        if request.edit is not None:
            return edit_call(
                request,
                seed=seed,
                api_base=self.api_base,
                model=self.model,
                output_format=self.output_format,
            )
        return self.api_base + GENERATIONS_PATH, {"json": self._body(request, seed)}

    def _metered_call(
        self, request: GenerationRequest, index: int, seed: int, stop: threading.Event
    ) -> GeneratedImage:
        """One call, reported to the request's meter (the usage ledger) when it has one."""
        if request.meter is None:
            return self._generate_one(request, seed, stop)
        call = _Call(request.meter, index)
        try:
            result = self._generate_one(request, seed, stop, call)
        except BackendError as error:
            # A fault after the service answered (a download) does not undo the call.
            sent = call.sent and (call.status is not None or error.sent)
            request.meter.call_ended(index, sent=sent, status=call.status, code=error.code)
            raise
        except Stopped:
            request.meter.call_ended(index, sent=call.sent, status=call.status, stopped=True)
            raise
        except BaseException:
            request.meter.call_ended(
                index, sent=call.sent, status=call.status, code="internal_error"
            )
            raise
        request.meter.call_ended(index, sent=True, status=call.status, ok=True)
        return result

    def _generate_one(
        self,
        request: GenerationRequest,
        seed: int,
        stop: threading.Event,
        call: _Call | None = None,
    ) -> GeneratedImage:
        """One upstream request, timed for /metrics by its outcome."""
        started = time.monotonic()
        try:
            image = self._request_one(request, seed, stop, call)
        except BackendError as error:
            metrics.backend_call_observed(
                backend="remote_request",
                seconds=time.monotonic() - started,
                code=error.code,
                retryable=error.retryable,
            )
            raise
        metrics.backend_call_observed(backend="remote_request", seconds=time.monotonic() - started)
        return image

    def _request_one(
        self,
        request: GenerationRequest,
        seed: int,
        stop: threading.Event,
        call: _Call | None = None,
    ) -> GeneratedImage:
        deadline = Deadline(
            self.call_budget,
            stop,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            clock=self.clock,
        )
        started = time.monotonic()
        url, content = self._call(request, seed)
        headers = {"Authorization": f"Bearer {self._api_key}", "Accept": "application/json"}
        deadline.check()
        if call is not None:
            call.sending()
        with (
            transport_errors(what="the image service"),
            self.client.stream(
                "POST",
                url,
                **content,
                headers=headers,
                timeout=deadline.timeout(),
            ) as response,
        ):
            status = response.status_code
            if call is not None:
                call.status = status
            if status >= 300:
                body = self.guard.read(response, deadline, limit=64 * 1024, truncate=True)
                raise status_error(status, response.headers, body)
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
            body = self.guard.read(response, deadline, limit=limit)
        try:
            payload = json.loads(body)
        except ValueError:
            raise BackendError(
                "The image service answered with malformed JSON.",
                code="upstream_bad_json",
                retryable=True,
                status=status,
            ) from None
        # `data` (OpenAI's spelling); `images` (the hosted edit models' own).
        data = (payload.get("data") or payload.get("images")) if isinstance(payload, dict) else None
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

    def _item_bytes(self, item: dict, deadline: Deadline) -> bytes:
        encoded = item.get("b64_json")
        if isinstance(encoded, str) and encoded:
            encoded = _DATA_URI.sub("", encoded, count=1)
            if len(encoded) > math.ceil(self.max_download_bytes / 3) * 4:
                raise too_large(self.max_download_bytes)
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
            return self.guard.fetch(self.client, url, deadline, api_key=self._api_key)
        raise BackendError(
            "The image service sent an image item with neither `url` nor `b64_json`.",
            code="upstream_bad_item",
            retryable=True,
        )


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
