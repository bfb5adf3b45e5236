"""Request ids on every response (and in every log line of the request), request metrics,
and the /v1 error envelope for errors raised outside ninja."""

import contextvars
import logging
import re
import time
import uuid

from django.conf import settings

from core.errors import ApiError, error_response
from core.http import Gone
from core.metrics import request_observed
from core.views import gone

API_PREFIX = "/v1/"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")

logger = logging.getLogger("qwen.api")


# The request being answered on this thread, for log lines (config.logging.JsonFormatter).
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "current_request_id", default=""
)


class RequestIdMiddleware:
    """Echo a sane incoming X-Request-ID (letters, digits, `._:-`, ≤128) or make one; every
    log line written while the request is answered carries it; count and time the request
    for /metrics by its route pattern (never the raw path: ids and tokens stay out)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        started = time.monotonic()
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        # Not reset on the way out: Django logs a 4xx/5xx (and the dev server its access line)
        # after the middlewares return, and those lines belong to this request too. The next
        # request on this thread sets its own.
        current_request_id.set(request.request_id)
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        match = getattr(request, "resolver_match", None)
        route = (match.route or match.view_name) if match is not None else "unmatched"
        request_observed(
            method=request.method if request.method in _METHODS else "other",
            route=route or "unmatched",
            status=response.status_code,
            seconds=time.monotonic() - started,
        )
        return response


_METHODS = {"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"}


class ApiErrorEnvelopeMiddleware:
    """Under /v1/, turn Django's own error pages (unknown route, wrong method, crash) into the
    same JSON envelope the API's exception handlers produce; refuse a body over
    DATA_UPLOAD_MAX_MEMORY_SIZE with 413 before anything reads it."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if request.path.startswith(API_PREFIX) and (too_big := body_too_big(request)):
            return error_response(too_big)
        response = self.get_response(request)
        if (
            response.status_code < 400
            or not request.path.startswith(API_PREFIX)
            or response.get("Content-Type", "").startswith("application/json")
        ):
            return response
        return _envelope_for(request, response)


def _envelope_for(request, response):
    status = response.status_code
    headers = {}
    if status == 404:
        message = f"No such endpoint: {request.method} {request.path}."
        code = "route_not_found"
    elif status == 405:
        allowed = response.get("Allow", "")
        headers["Allow"] = allowed
        message = f"{request.method} is not allowed on {request.path}; use {allowed or 'another'}."
        code = "method_not_allowed"
    elif status == 503:
        headers["Retry-After"] = response.get("Retry-After", "5")
        message = "The service is briefly unavailable; try again shortly."
        code = "service_unavailable"
    elif status >= 500:
        message = "Internal server error. Quote the x-request-id header when reporting it."
        code = "internal_error"
    else:
        message = response.reason_phrase or "Request failed."
        code = None
    if "Retry-After" in response and "Retry-After" not in headers:
        headers["Retry-After"] = response["Retry-After"]
    envelope = error_response(ApiError(status, message, code=code, headers=headers))
    # The middlewares below this one already set the security headers (nosniff, frame
    # options, CSP, HSTS …) on the page being replaced: keep them.
    for name, value in response.items():
        if name.lower() not in _BODY_HEADERS and name not in envelope:
            envelope[name] = value
    return envelope


_BODY_HEADERS = {"content-type", "content-length", "content-encoding", "content-disposition"}


# Multipart upload routes of the API with a body limit of their own (the form limit counts
# no files, and these carry images): path → (setting, what to do instead).
UPLOAD_LIMITS = {
    "/v1/images/edits": (
        "EDIT_MAX_REQUEST_BYTES",
        "send fewer or smaller images (each file at most EDIT_MAX_UPLOAD_BYTES).",
    ),
}


class GoneMiddleware:
    """A view that raises core.http.Gone answers 410 with the branded page saying why."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        return self.get_response(request)

    def process_exception(self, request, exception):
        if isinstance(exception, Gone):
            return gone(request, exception)
        return None


def body_too_big(request) -> ApiError | None:
    """The 413 for a request whose declared body is over its limit (Django itself would
    raise RequestDataTooBig wherever the body is first read): Django's form limit, or, for a
    multipart POST to an upload route, that route's own."""
    limit, why = settings.DATA_UPLOAD_MAX_MEMORY_SIZE, ""
    upload = UPLOAD_LIMITS.get(request.path)
    if upload and request.method == "POST" and request.content_type == "multipart/form-data":
        limit, why = getattr(settings, upload[0]), upload[1]
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return ApiError(400, "Content-Length is not a number.", code="invalid_request")
    if limit is None or length <= limit:
        return None
    return request_too_large_error(limit, why=why)


def request_too_large_error(limit: int, *, why: str = "") -> ApiError:
    why = why or (
        "the largest valid request is far smaller (a prompt has at most a few thousand characters)."
    )
    return ApiError(
        413,
        f"The request body is larger than {limit / (1024 * 1024):.1f} MiB; {why}",
        code="request_too_large",
        headers={"x-should-retry": "false"},
    )
