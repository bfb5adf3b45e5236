"""The /v1 error envelope: one exception type every router may raise, and how it is rendered."""

import json

from django.http import HttpResponse
from ninja import Schema
from pydantic import Field

# The `type` of an error, by HTTP status (OpenAI-style names, so SDKs show something familiar).
ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    409: "conflict_error",
    413: "invalid_request_error",
    415: "invalid_request_error",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "service_unavailable_error",
    504: "timeout_error",
}

DEFAULT_CODES = {
    400: "invalid_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "request_too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
    500: "internal_error",
    502: "upstream_error",
    503: "service_unavailable",
    504: "timeout",
}


class ApiError(Exception):
    """Raise from any /v1 endpoint: rendered as {"error": {...}} with `status`.

    `headers` are added to the response (e.g. Retry-After); `extra` adds fields to the error
    object (e.g. the job id of a generation whose wait ran out).
    """

    def __init__(
        self,
        status: int,
        message: str,
        *,
        code: str | None = None,
        param: str | None = None,
        type: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.code = code or DEFAULT_CODES.get(status, "error")
        self.param = param
        self.type = type or error_type(status)
        self.headers = headers or {}
        self.extra = extra or {}


def error_type(status: int) -> str:
    if status in ERROR_TYPES:
        return ERROR_TYPES[status]
    return "api_error" if status >= 500 else "invalid_request_error"


def error_body(error: ApiError) -> dict:
    return {
        "error": {
            "message": error.message,
            "type": error.type,
            "param": error.param,
            "code": error.code,
            **error.extra,
        }
    }


def error_response(error: ApiError) -> HttpResponse:
    response = HttpResponse(
        json.dumps(error_body(error)), status=error.status, content_type="application/json"
    )
    for name, value in error.headers.items():
        response[name] = value
    # A client error will not go away by repeating the request: tell SDKs that retry on
    # 409 and 5xx (OpenAI's, Stainless-generated ones) not to, unless we said otherwise.
    if "x-should-retry" not in {name.lower() for name in error.headers}:
        retryable = error.status in (429, 503) or (
            error.status >= 500 and error.status not in (502, 504)
        )
        response["x-should-retry"] = "true" if retryable else "false"
    return response


class ErrorDetailOut(Schema):
    message: str
    type: str
    param: str | None = None
    code: str | None = None
    job_id: str | None = Field(
        None, description="Set when the error concerns a job that exists (poll it)."
    )


class ErrorOut(Schema):
    """The envelope of every error under /v1."""

    error: ErrorDetailOut


def optional_body_object(request) -> None:
    """For operations whose JSON body is optional: no body, null, or a JSON object.
    django-ninja would read any other JSON value (a list, a number, a string) as "no body";
    the OpenAPI document says it must be an object or null, so it is a 400."""
    if not request.body:
        return
    try:
        value = json.loads(request.body)
    except ValueError:
        return  # ninja answers malformed JSON itself
    if value is not None and not isinstance(value, dict):
        raise ApiError(400, "The request body must be a JSON object.", code="invalid_parameter")
