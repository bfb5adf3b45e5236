"""The one NinjaAPI at /v1/: routers from the apps, one error envelope for every failure."""

import logging

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import OperationalError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from accounts.auth import api_auth
from core.errors import ApiError, ErrorOut, error_response
from gallery.api import router as gallery_router
from generation.api import router as generation_router
from generation.edit_api import router as edits_router
from generation.edits.payloads import edit_error
from generation.edits.sources import EditInputError
from generation.moderation import PromptBlocked
from usage.api import router as usage_router
from usage.quotas import QuotaExceeded

logger = logging.getLogger("qwen.api")

DESCRIPTION = """
Generate images with Qwen-Image from your own programs.

* **Auth**: `Authorization: Bearer <api key>` (create one on your account page or with
  `manage.py create_api_key`). A signed-in browser may call the API with its session and
  the `X-CSRFToken` header.
* **OpenAI-compatible**: `POST /v1/images/generations` accepts the hosted Qwen-Image body and
  OpenAI's spellings, so OpenAI SDKs work with `base_url=<portal>/v1`.
* **Errors**: always `{"error": {"message", "type", "param", "code"}}` with the HTTP status;
  429 and 503 carry `Retry-After`. Every response carries `x-request-id`.
* **Idempotency**: send `Idempotency-Key` on POSTs that create jobs; a repeat with the same
  body returns the same job, with another body it is a 409.
"""

# Statuses any operation may answer besides its own (documented so clients and schema
# checkers know the envelope).
_COMMON_ERRORS = {
    400: "Invalid request: `param` names the offending field.",
    401: "Missing, unknown or revoked API key.",
    403: "Forbidden (e.g. a session request without its CSRF token).",
    404: "No such object (or not yours), or no such endpoint.",
    429: "Quota or rate limit reached; see `Retry-After`.",
    500: "Internal error; quote the `x-request-id` header when reporting it.",
    503: "Briefly unavailable; see `Retry-After`.",
}
_WRITE_ERRORS = {409: "Conflict: an Idempotency-Key reused with another body, or a state clash."}
_RETRY_AFTER = {"Retry-After": {"schema": {"type": "integer"}, "description": "Seconds to wait."}}


class StudioAPI(NinjaAPI):
    def get_openapi_schema(self, *, path_prefix=None, path_params=None):
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        components = schema.setdefault("components", {}).setdefault("schemas", {})
        components["Error"] = ErrorOut.model_json_schema(
            ref_template="#/components/schemas/{model}"
        )
        for name, definition in components["Error"].pop("$defs", {}).items():
            components.setdefault(name, definition)
        ref = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
        for methods in schema["paths"].values():
            for method, operation in methods.items():
                extra = dict(_COMMON_ERRORS)
                if method in ("post", "put", "patch", "delete"):
                    extra.update(_WRITE_ERRORS)
                responses = operation.setdefault("responses", {})
                for status, description in extra.items():
                    if status not in responses:
                        responses[status] = {"description": description, "content": ref}
                    if status in (429, 503):
                        responses[status].setdefault("headers", _RETRY_AFTER)
        return schema


api = StudioAPI(
    title="Qwen Image Studio API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=api_auth,
)
api.add_router("", generation_router)
api.add_router("", edits_router)
api.add_router("", gallery_router)
api.add_router("", usage_router)


# --- One envelope for every error ---------------------------------------------------------


@api.exception_handler(ApiError)
def _api_error(request, exc: ApiError):
    return error_response(exc)


@api.exception_handler(EditInputError)
def _edit_input_error(request, exc: EditInputError):
    # An edit's input refused where no endpoint caught it (a reseed of an edit): a 400.
    return error_response(edit_error(exc))


@api.exception_handler(ValidationError)
def _validation_error(request, exc: ValidationError):
    # Of a union's failed branches, the one that got furthest into the value explains best
    # ({"width": "a"} is a bad width, not "a valid string" expected).
    first = max(exc.errors, key=lambda error: len(error.get("loc", ())), default={})
    param = param_from_loc(first.get("loc", ()))
    message = str(first.get("msg", "Invalid request.")).removeprefix("Value error, ")
    if first.get("type") == "missing" and param:
        message = f"Missing required parameter '{param}'."
    elif param:
        message = f"Invalid value for '{param}': {message}"
    return error_response(ApiError(400, message, code="invalid_parameter", param=param))


def param_from_loc(loc) -> str | None:
    """`("body", "payload", "size", "width")` → "size.width"; the source and the body
    argument's name are dropped, and so are pydantic's union-branch labels."""
    parts = [str(part) for part in loc[1:]]
    if loc and loc[0] == "body" and parts:
        parts = parts[1:]
    parts = [p for p in parts if not _is_branch_label(p)]
    return ".".join(parts) if parts else None


def _is_branch_label(part: str) -> bool:
    # pydantic names union branches by type: "str", "int", "SizeIn", "function-after[...]".
    return (
        part[:1].isupper()
        or part in ("str", "int", "float", "bool", "dict", "list")
        or ("[" in part)
    )


@api.exception_handler(AuthenticationError)
def _authentication_error(request, exc: AuthenticationError):
    if request.headers.get("Authorization"):
        message, code = "Invalid API key (unknown or revoked).", "invalid_api_key"
    else:
        message = "Authentication required: send 'Authorization: Bearer <api key>'."
        code = "missing_api_key"
    return error_response(
        ApiError(401, message, code=code, headers={"WWW-Authenticate": 'Bearer realm="api"'})
    )


@api.exception_handler(Throttled)
def _throttled(request, exc: Throttled):
    wait = max(1, int(exc.wait or 1))
    return error_response(
        ApiError(429, "Too many requests.", code="rate_limited", headers={"Retry-After": str(wait)})
    )


@api.exception_handler(HttpError)
def _http_error(request, exc: HttpError):
    code = None
    if exc.status_code == 403 and "CSRF" in exc.message:
        code = "csrf_failed"
    elif exc.status_code == 400 and exc.message.startswith("Cannot parse request body"):
        code = "invalid_json"
    return error_response(ApiError(exc.status_code, exc.message, code=code))


@api.exception_handler(QuotaExceeded)
def _quota_exceeded(request, exc: QuotaExceeded):
    return error_response(
        ApiError(
            429,
            exc.message,
            code="quota_exceeded",
            headers={"Retry-After": str(max(1, int(exc.retry_after)))},
        )
    )


@api.exception_handler(PromptBlocked)
def _prompt_blocked(request, exc: PromptBlocked):
    return error_response(ApiError(400, exc.message, code="prompt_blocked", param="prompt"))


@api.exception_handler(Http404)
@api.exception_handler(ObjectDoesNotExist)
def _not_found(request, exc):
    message = str(exc) if isinstance(exc, Http404) and str(exc) else "Not found."
    return error_response(ApiError(404, message, code="not_found"))


@api.exception_handler(PermissionDenied)
def _permission_denied(request, exc):
    return error_response(ApiError(403, str(exc) or "Forbidden.", code="forbidden"))


@api.exception_handler(OperationalError)
def _database_busy(request, exc):
    logger.warning("database unavailable: %s", exc)
    return error_response(
        ApiError(
            503,
            "The database is busy; try again shortly.",
            code="service_unavailable",
            headers={"Retry-After": "2"},
        )
    )


@api.exception_handler(Exception)
def _unexpected(request, exc):
    logger.exception("unhandled API error on %s %s", request.method, request.path)
    return error_response(
        ApiError(500, "Internal server error. Quote the x-request-id header when reporting it.")
    )
