"""A fake of the hosted `POST /v1/images/generations` endpoint, served on 127.0.0.1.

It serves edits too: JSON bodies with `image_urls` (qwen-image-edit-plus) or `image_url`
(qwen-image-edit) on the generations path, checked by `validate_edit_body`, and OpenAI multipart
on `/v1/images/edits`; each source is a data URI or a URL it fetches (the portal's signed URLs),
and the answer is the demo backend's edit of those sources.

A real HTTP server (for tests, benchmarks and manual runs with `manage.py fake_endpoint`) that
validates each body against the stored OpenAPI document, records what it received, and answers
with real PNGs of the requested size as `url` (served by itself) or `b64_json`. Latency and a
queue of scripted faults make it misbehave on purpose; each generation request takes the next
fault from the queue, and an empty queue means a normal answer.

    with FakeImageEndpoint(latency=0.05) as fake:
        fake.push("rate_limit", retry_after="2")
        fake.push("server_error", status=503)
        ...  # point QWEN_IMAGE_API_BASE at fake.url
        assert all(r.valid for r in fake.requests)

It stops by itself after `max_lifetime` seconds and runs on daemon threads, so a forgotten one
never keeps a process alive.
"""

from __future__ import annotations

import base64
import collections
import functools
import io
import json
import secrets
import struct
import threading
import time
import zlib
from dataclasses import asdict, dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

SPEC_PATH = (
    Path(__file__).resolve().parents[2]
    / "generation"
    / "spec"
    / "qwen-image-text-to-image.openapi.json"
)
GENERATIONS_PATH = "/v1/images/generations"
# Edits come on the generations path (JSON with image_urls / image_url: the hosted
# qwen-image-edit-plus and qwen-image-edit shapes) or as OpenAI multipart on EDITS_PATH.
EDITS_PATH = "/v1/images/edits"
MAX_EDIT_SOURCES = 3
DEFAULT_SIZE = (1024, 768)  # the spec's default, landscape_4_3
MAX_SIDE = 4096

# kind → what the endpoint does for the generation request that takes it from the queue
FAULT_KINDS: dict[str, str] = {
    "ok": "a normal answer",
    "rate_limit": "HTTP 429 with Retry-After (retry_after, default '1')",
    "server_error": "HTTP 5xx (status, default 500)",
    "bad_request": "HTTP 400 with a provider message (message)",
    "unprocessable": "HTTP 422 with a FastAPI-style `detail` list",
    "unauthorized": "HTTP 401",
    "forbidden": "HTTP 403",
    "content_policy": "HTTP 400 saying the prompt broke the content policy",
    "slow": "sleep `seconds` (default 5) before a normal answer: past the client's timeout",
    "trickle": "send the JSON answer one byte every `seconds` (default 0.2)",
    "drop": "close the connection without answering",
    "malformed_json": "HTTP 200, application/json, a body cut in the middle",
    "no_data": "HTTP 200 JSON without `data`",
    "wrong_content_type": "HTTP 200 text/html",
    "truncated_png": "an image whose PNG bytes are cut in half",
    "bad_base64": "a `b64_json` item that is not valid base64",
    "decompression_bomb": "a tiny PNG that declares 10000×10000 pixels",
    "oversized": "an image body of `size` bytes (default 8 MiB) with Content-Length",
    "oversized_stream": "an image body of `size` bytes streamed without Content-Length",
    "foreign_url": "a `url` on another origin (target, default 127.0.0.1 on port+1)",
    "private_url": "a `url` on a private address (target, default http://10.0.0.1/image.png)",
    "redirect": "a `url` here that redirects to target (default the metadata address)",
    "redirect_loop": "a `url` here that redirects to itself forever",
    "redirect_same_origin": "a `url` here that redirects once within this origin, then serves",
    "nsfw": "a normal image flagged with has_nsfw_concepts: [true]",
}


@dataclass
class Fault:
    kind: str
    status: int = 0
    retry_after: str = "1"
    seconds: float = 0.0
    size: int = 0
    message: str = ""
    target: str = ""

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"Unknown fault {self.kind!r}; one of: {', '.join(FAULT_KINDS)}")


@dataclass
class ReceivedRequest:
    """One request to the generations path, as the endpoint saw it."""

    path: str
    headers: dict[str, str]
    body: Any
    errors: list[str]
    fault: str
    at: float = field(default_factory=time.time)

    @property
    def valid(self) -> bool:
        return not self.errors

    def as_dict(self) -> dict:
        return {**asdict(self), "valid": self.valid}


@functools.cache
def load_spec() -> dict:
    return json.loads(SPEC_PATH.read_text())


def request_schema() -> dict:
    operation = load_spec()["paths"][GENERATIONS_PATH]["post"]
    return operation["requestBody"]["content"]["application/json"]["schema"]


def response_schema() -> dict:
    operation = load_spec()["paths"][GENERATIONS_PATH]["post"]
    return operation["responses"]["200"]["content"]["application/json"]["schema"]


@functools.cache
def _validator(which: str):
    from jsonschema import Draft202012Validator

    schema = request_schema() if which == "request" else response_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def validate_request_body(body: Any) -> list[str]:
    """Every way `body` breaks the spec's request schema (empty when it conforms)."""
    errors = sorted(_validator("request").iter_errors(body), key=lambda e: list(e.path))
    return [f"{'/'.join(str(p) for p in e.path) or '(body)'}: {e.message}" for e in errors]


def validate_response_body(body: Any) -> list[str]:
    errors = sorted(_validator("response").iter_errors(body), key=lambda e: list(e.path))
    return [f"{'/'.join(str(p) for p in e.path) or '(body)'}: {e.message}" for e in errors]


def is_edit_body(body: Any) -> bool:
    return isinstance(body, dict) and ("image_urls" in body or "image_url" in body)


_EDIT_FIELDS = {
    "model": str,
    "prompt": str,
    "negative_prompt": str,
    "image_urls": list,
    "image_url": str,
    "image_size": dict,
    "num_inference_steps": int,
    "guidance_scale": (int, float),
    "seed": int,
    "acceleration": str,
    "enable_safety_checker": bool,
    "num_images": int,
    "output_format": str,
}


def validate_edit_body(body: Any) -> list[str]:
    """Every way a JSON edit body breaks the hosted qwen-image-edit(-plus) shape."""
    if not isinstance(body, dict):
        return ["(body): an object is required"]
    errors = [f"{name}: unknown field" for name in body if name not in _EDIT_FIELDS]
    for name, kind in _EDIT_FIELDS.items():
        value = body.get(name)
        if name in body and (
            not isinstance(value, kind) or isinstance(value, bool) != (kind is bool)
        ):
            errors.append(f"{name}: wrong type")
    if not isinstance(body.get("prompt"), str) or not body.get("prompt", "").strip():
        errors.append("prompt: required")
    if ("image_urls" in body) == ("image_url" in body):
        errors.append("(body): exactly one of image_urls and image_url")
    urls = body.get("image_urls", [body.get("image_url")])
    if isinstance(urls, list) and not 1 <= len(urls) <= MAX_EDIT_SOURCES:
        errors.append(f"image_urls: 1 to {MAX_EDIT_SOURCES} images")
    for index, url in enumerate(urls if isinstance(urls, list) else []):
        if not isinstance(url, str) or not url.startswith(("data:image/", "http://", "https://")):
            errors.append(f"image_urls/{index}: a data URI or an http(s) URL is required")
    size = body.get("image_size")
    if isinstance(size, dict) and not all(
        isinstance(size.get(k), int) for k in ["width", "height"]
    ):
        errors.append("image_size: {width, height} integers")
    if isinstance(body.get("num_images"), int) and not 1 <= body["num_images"] <= 4:
        errors.append("num_images: 1 to 4")
    return errors


def load_source(url: str) -> bytes:
    """The bytes of one source: a data URI, or a URL fetched (the portal's signed URLs)."""
    if url.startswith("data:"):
        return base64.b64decode(url.split(",", 1)[1], validate=True)
    import urllib.request

    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - http(s) checked
        return answer.read()


@functools.lru_cache(maxsize=64)
def render_edit_png(prompt: str, seed: int, width: int, height: int, sources: tuple) -> bytes:
    """The demo backend's edit of the sources (so it depends on them, the seed and prompt)."""
    from PIL import Image

    from generation.backends.demo import draw_edit

    pictures = [Image.open(io.BytesIO(data)) for data in sources]
    buffer = io.BytesIO()
    draw_edit(prompt, seed, width, height, pictures, 1.0).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


# --- Pictures ---------------------------------------------------------------------------------


@functools.lru_cache(maxsize=64)
def render_png(prompt: str, seed: int, width: int, height: int) -> bytes:
    """A real PNG of the requested size (the demo drawing, so it depends on seed and prompt)."""
    from generation.backends.demo import draw

    buffer = io.BytesIO()
    draw(prompt, seed, width, height).save(buffer, "PNG", compress_level=1)
    return buffer.getvalue()


def _png_chunk(kind: bytes, data: bytes) -> bytes:
    return (
        struct.pack(">I", len(data))
        + kind
        + data
        + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    )


@functools.cache
def bomb_png(side: int = 10000) -> bytes:
    """A valid 1-bit PNG of side×side pixels that compresses to a few kilobytes."""
    row = b"\x00" * (1 + (side + 7) // 8)
    compressor = zlib.compressobj(9)
    data = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + _png_chunk(b"IHDR", header)
        + _png_chunk(b"IDAT", data)
        + _png_chunk(b"IEND", b"")
    )


# --- Server -----------------------------------------------------------------------------------


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    fake: FakeImageEndpoint

    def handle_error(self, request, client_address) -> None:  # clients that hang up are normal
        pass


class FakeImageEndpoint:
    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        latency: float = 0.0,
        output_format: str | None = None,
        api_key: str | None = None,
        max_lifetime: float = 300.0,
        faults: list[Fault] | tuple[Fault, ...] = (),
    ) -> None:
        if host not in ("127.0.0.1", "localhost", "::1"):
            raise ValueError("The fake endpoint binds to the loopback interface only.")
        self.host, self._port = host, port
        self.latency = latency
        self.output_format = output_format  # None: honour the request's output_format
        self.api_key = api_key
        self.max_lifetime = max_lifetime
        self._faults: collections.deque[Fault] = collections.deque(faults)
        self._lock = threading.Lock()
        self._files: collections.OrderedDict[str, bytes | Fault] = collections.OrderedDict()
        self.requests: list[ReceivedRequest] = []
        self.downloads: list[str] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    # --- Lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeImageEndpoint:
        server = _Server((self.host, self._port), _Handler)
        server.fake = self
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        self._timer = threading.Timer(self.max_lifetime, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        server, self._server = self._server, None
        if self._timer is not None and self._timer is not threading.current_thread():
            self._timer.cancel()
        if server is not None:
            server.shutdown()
            server.server_close()

    def __enter__(self) -> FakeImageEndpoint:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self._server is not None

    @property
    def port(self) -> int:
        if self._server is None:
            return self._port
        return self._server.server_address[1]

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # --- Script ------------------------------------------------------------------------------

    def push(self, kind: str, *, times: int = 1, **options) -> None:
        """Queue `times` copies of a fault; each generation request takes the next one."""
        with self._lock:
            for _ in range(times):
                self._faults.append(Fault(kind, **options))

    def _next_fault(self) -> Fault:
        with self._lock:
            return self._faults.popleft() if self._faults else Fault("ok")

    @property
    def pending_faults(self) -> int:
        with self._lock:
            return len(self._faults)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self.downloads.clear()
            self._faults.clear()

    def _record(self, request: ReceivedRequest) -> None:
        with self._lock:
            self.requests.append(request)

    def _store(self, content: bytes | Fault) -> str:
        token = secrets.token_urlsafe(12)
        with self._lock:
            self._files[token] = content
            while len(self._files) > 512:
                self._files.popitem(last=False)
        return token

    def _file(self, token: str) -> bytes | Fault | None:
        with self._lock:
            return self._files.get(token)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def log_message(self, format, *args) -> None:  # quiet: the endpoint records instead
        pass

    @property
    def fake(self) -> FakeImageEndpoint:
        return self.server.fake

    # --- Plumbing ----------------------------------------------------------------------------

    def _send(
        self, status: int, body: bytes, content_type: str = "application/json", headers=None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)

    def _json(self, status: int, payload: Any, headers=None) -> None:
        self._send(status, json.dumps(payload).encode(), headers=headers)

    def _error(self, status: int, message: str, kind: str, code: str = "", headers=None) -> None:
        self._json(
            status,
            {"error": {"message": message, "type": kind, "param": None, "code": code or None}},
            headers=headers,
        )

    def _read_body(self) -> bytes:
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    # --- Routes ------------------------------------------------------------------------------

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0]
        if path == "/_fake/requests":
            with self.fake._lock:
                recorded = [r.as_dict() for r in self.fake.requests]
            self._json(200, {"requests": recorded})
        elif path.startswith("/files/"):
            self._serve_file(path.removeprefix("/files/").split(".", 1)[0])
        else:
            self._error(404, "Not found.", "not_found")

    def do_POST(self) -> None:
        path = self.path.split("?", 1)[0]
        raw = self._read_body()
        if path == "/_fake/faults":
            try:
                for item in json.loads(raw or b"[]"):
                    self.fake.push(**item)
            except (TypeError, ValueError) as exc:
                self._error(400, str(exc), "invalid_request_error")
                return
            self._json(200, {"pending": self.fake.pending_faults})
        elif path == GENERATIONS_PATH:
            self._generate(raw)
        elif path == EDITS_PATH:
            self._generate(raw, multipart=True)
        else:
            self._error(404, "Not found.", "not_found")

    def _serve_file(self, token: str) -> None:
        with self.fake._lock:
            self.fake.downloads.append(token)
        content = self.fake._file(token)
        if content is None:
            self._error(404, "No such file.", "not_found")
        elif isinstance(content, Fault):
            self._serve_fault_file(token, content)
        else:
            self._send(200, content, "image/png")

    def _serve_fault_file(self, token: str, fault: Fault) -> None:
        if fault.kind == "redirect":
            target = fault.target or "http://169.254.169.254/latest/meta-data/"
            self._send(302, b"", "text/plain", {"Location": target})
        elif fault.kind == "redirect_loop":
            self._send(302, b"", "text/plain", {"Location": f"/files/{token}.png"})
        elif fault.kind == "oversized":
            size = fault.size or 8 * 1024 * 1024
            self._send(200, b"\x89PNG\r\n\x1a\n" + b"\x00" * (size - 8), "image/png")
        elif fault.kind == "oversized_stream":
            size = fault.size or 8 * 1024 * 1024
            self.send_response(200)
            self.send_header("Content-Type", "image/png")
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            sent = 0
            block = b"\x00" * 65536
            while sent < size:
                piece = block[: size - sent]
                self.wfile.write(piece)
                sent += len(piece)
        else:
            self._error(500, "Unknown file fault.", "server_error")

    def _generate(self, raw: bytes, *, multipart: bool = False) -> None:
        fake = self.fake
        fault = fake._next_fault()
        headers = {k: v for k, v in self.headers.items()}
        if "Authorization" in headers:  # record that a key came, never the key itself
            scheme = headers["Authorization"].split(" ", 1)[0]
            headers["Authorization"] = f"{scheme} ***"
        content_type = self.headers.get("Content-Type") or ""
        if multipart:
            body, errors = self._multipart_edit(raw, content_type)
        else:
            try:
                body = json.loads(raw)
                check = validate_edit_body if is_edit_body(body) else validate_request_body
                errors = check(body)
            except ValueError:
                body, errors = raw.decode("utf-8", "replace"), ["(body): not valid JSON"]
            if not content_type.startswith("application/json"):
                errors.append("Content-Type: expected application/json")
        auth = self.headers.get("Authorization") or ""
        if not auth.startswith("Bearer ") or not auth.removeprefix("Bearer ").strip():
            errors.append("Authorization: a Bearer token is required")
        recorded = body
        if isinstance(body, dict) and "_sources" in body:
            recorded = {k: v for k, v in body.items() if k != "_sources"}
        fake._record(ReceivedRequest(self.path, headers, recorded, errors, fault.kind))
        if fake.latency:
            time.sleep(fake.latency)
        if not auth.startswith("Bearer ") or (
            fake.api_key is not None and auth != f"Bearer {fake.api_key}"
        ):
            self._error(401, "Invalid API key.", "authentication_error", "invalid_api_key")
            return
        if errors:
            self._error(400, "Invalid request: " + "; ".join(errors), "invalid_request_error")
            return
        if is_edit_body(body):
            urls = body.get("image_urls") or [body.get("image_url")]
            try:
                body = {**body, "_sources": tuple(load_source(url) for url in urls)}
            except Exception as exc:  # an unreachable URL, a bad data URI
                self._error(400, f"Could not read a source image: {exc}", "invalid_request_error")
                return
        self._answer(body, fault)

    def _answer(self, body: dict, fault: Fault) -> None:
        kind = fault.kind
        if kind == "rate_limit":
            self._error(
                429,
                "Rate limit reached, slow down.",
                "rate_limit_error",
                headers={"Retry-After": fault.retry_after},
            )
            return
        if kind == "server_error":
            self._error(fault.status or 500, "Upstream exploded.", "server_error")
            return
        if kind == "bad_request":
            self._error(400, fault.message or "prompt is too long", "invalid_request_error")
            return
        if kind == "unprocessable":
            message = fault.message or "value is not a valid integer"
            self._json(422, {"detail": [{"loc": ["body", "seed"], "msg": message}]})
            return
        if kind == "unauthorized":
            self._error(401, "Invalid API key.", "authentication_error", "invalid_api_key")
            return
        if kind == "forbidden":
            self._error(403, "This key may not use this model.", "permission_error")
            return
        if kind == "content_policy":
            self._error(
                400,
                fault.message or "Your request was rejected as a result of our safety system.",
                "invalid_request_error",
                "content_policy_violation",
            )
            return
        if kind == "drop":
            self.close_connection = True
            self.connection.close()
            return
        if kind == "malformed_json":
            self._send(200, b'{"created": 1, "data": [{"url": "http://')
            return
        if kind == "no_data":
            self._json(200, {"created": int(time.time()), "error": None})
            return
        if kind == "wrong_content_type":
            self._send(200, b"<html><body>Gateway login</body></html>", "text/html")
            return
        if kind == "slow":
            time.sleep(fault.seconds or 5.0)

        if isinstance(body, dict) and body.get("_sources"):
            self._answer_edit(body, fault)
            return
        width, height = _size_of(body)
        if width > MAX_SIDE or height > MAX_SIDE or width < 1 or height < 1:
            self._error(400, f"size must be between 1 and {MAX_SIDE}", "invalid_request_error")
            return
        output_format = self.fake.output_format or body.get("output_format") or "url"
        n = body.get("n") or 1
        seed = body.get("seed")
        if seed is None:
            seed = secrets.randbelow(2**32)
        items = []
        for i in range(max(1, min(int(n), 8))):
            png = render_png(body["prompt"], int(seed) + i, width, height)
            items.append(self._item(png, output_format, fault, body))
        payload: dict[str, Any] = {"created": int(time.time()), "data": items}
        if kind == "nsfw":
            payload["has_nsfw_concepts"] = [True] * len(items)
        encoded = json.dumps(payload).encode()
        if kind == "trickle":
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(encoded)))
            self.end_headers()
            for i in range(len(encoded)):
                self.wfile.write(encoded[i : i + 1])
                self.wfile.flush()
                time.sleep(fault.seconds or 0.2)
            return
        self._send(200, encoded)

    def _multipart_edit(self, raw: bytes, content_type: str) -> tuple[dict, list[str]]:
        """An OpenAI multipart edit: image / image[] (1 to 3), optional mask, prompt, fields."""
        from email.parser import BytesParser
        from email.policy import HTTP

        errors: list[str] = []
        if not content_type.startswith("multipart/form-data"):
            return {}, ["Content-Type: expected multipart/form-data"]
        message = BytesParser(policy=HTTP).parsebytes(
            b"Content-Type: " + content_type.encode() + b"\r\n\r\n" + raw
        )
        fields: dict[str, Any] = {}
        sources: list[bytes] = []
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            payload = part.get_payload(decode=True) or b""
            if name in ("image", "image[]"):
                sources.append(payload)
            elif name == "mask":
                fields["mask"] = f"<{len(payload)} bytes>"
            else:
                fields[name] = payload.decode("utf-8", "replace")
        if not fields.get("prompt"):
            errors.append("prompt: required")
        if not 1 <= len(sources) <= MAX_EDIT_SOURCES:
            errors.append(f"image: 1 to {MAX_EDIT_SOURCES} files")
        size = fields.get("size", "")
        if size and size != "auto" and "x" not in size:
            errors.append("size: WIDTHxHEIGHT or auto")
        width, height = (int(v) for v in size.split("x")) if "x" in size else DEFAULT_SIZE
        body = {
            **fields,
            "image_count": len(sources),
            "image_size": {"width": width, "height": height},
            "output_format": fields.get("response_format", "url"),
            "num_images": int(fields.get("n") or 1),
            "_sources": tuple(sources),
        }
        return body, errors

    def _answer_edit(self, body: dict, fault: Fault) -> None:
        size = body.get("image_size") or {}
        width, height = int(size.get("width", 1024)), int(size.get("height", 768))
        sources = body["_sources"]
        output_format = self.fake.output_format or body.get("output_format") or "url"
        seed = body.get("seed")
        seed = int(seed) if seed not in (None, "") else secrets.randbelow(2**32)
        items = []
        for i in range(max(1, min(int(body.get("num_images") or 1), 4))):
            png = render_edit_png(body["prompt"], seed + i, width, height, sources)
            items.append(self._item(png, output_format, fault, body))
        payload: dict[str, Any] = {"created": int(time.time()), "data": items}
        if fault.kind == "nsfw":
            payload["has_nsfw_concepts"] = [True] * len(items)
        self._send(200, json.dumps(payload).encode())

    def _item(self, png: bytes, output_format: str, fault: Fault, body: dict) -> dict:
        kind = fault.kind
        item: dict[str, Any] = {"revised_prompt": body["prompt"]}
        if kind == "truncated_png":
            png = png[: len(png) // 2]
        elif kind == "decompression_bomb":
            png = bomb_png()
        if kind == "foreign_url":
            item["url"] = fault.target or f"http://127.0.0.1:{self.fake.port + 1}/files/x.png"
        elif kind == "private_url":
            item["url"] = fault.target or "http://10.0.0.1/image.png"
        elif kind in ("redirect", "redirect_loop", "oversized", "oversized_stream"):
            item["url"] = f"{self.fake.url}/files/{self.fake._store(fault)}.png"
        elif kind == "redirect_same_origin":
            final = self.fake._store(png)
            hop = self.fake._store(Fault("redirect", target=f"/files/{final}.png"))
            item["url"] = f"{self.fake.url}/files/{hop}.png"
        elif kind == "bad_base64":
            item["b64_json"] = "not*base64!" + base64.b64encode(png).decode()
        elif output_format == "b64_json":
            item["b64_json"] = base64.b64encode(png).decode()
        else:
            item["url"] = f"{self.fake.url}/files/{self.fake._store(png)}.png"
        return item


def _size_of(body: dict) -> tuple[int, int]:
    size = body.get("size")
    if isinstance(size, dict):
        return int(size["width"]), int(size["height"])
    return DEFAULT_SIZE
