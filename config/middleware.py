"""Request ids on every response, and the /v1 error envelope for errors raised outside ninja."""

import logging
import re
import uuid

from core.errors import ApiError, error_response
from core.http import Gone
from core.views import gone

API_PREFIX = "/v1/"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:\-]{0,127}$")

logger = logging.getLogger("qwen.api")


class RequestIdMiddleware:
    """Echo a sane incoming X-Request-ID (letters, digits, `._:-`, ≤128) or make one."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get("X-Request-ID", "")
        request.request_id = incoming if _REQUEST_ID.match(incoming) else uuid.uuid4().hex
        response = self.get_response(request)
        response["X-Request-ID"] = request.request_id
        return response


class ApiErrorEnvelopeMiddleware:
    """Under /v1/, turn Django's own error pages (unknown route, wrong method, crash) into the
    same JSON envelope the API's exception handlers produce."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
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
