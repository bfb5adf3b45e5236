"""The one NinjaAPI at /v1/: routers from the apps, one error envelope for every failure."""

import logging

from django.conf import settings
from django.core.exceptions import (
    ObjectDoesNotExist,
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
)
from django.db import OperationalError
from django.http import Http404
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError, Throttled, ValidationError

from accounts.auth import api_auth
from config.middleware import request_too_large_error
from core.errors import ApiError, ErrorOut, error_response
from gallery.api import router as gallery_router
from generation.api import router as generation_router
from generation.api_files import router as files_router
from generation.api_images import router as images_router
from generation.api_prompts import router as prompts_router
from generation.api_webhooks import router as webhooks_router
from generation.edit_api import router as edits_router
from generation.edits.payloads import edit_error
from generation.edits.sources import EditInputError
from generation.moderation import PromptBlocked
from generation.retention import StorageQuotaExceeded
from generation.schemas import openapi_constraints
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
    402: "A money budget (yours, your team's or your API key's) would be passed; see "
    "`Retry-After` (when the budget period starts again).",
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
        # The limits the server enforces, from the settings it enforces them with.
        openapi_constraints(components)
        openapi_links(schema)
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
                    if status in (402, 429, 503):
                        responses[status].setdefault("headers", _RETRY_AFTER)
        return schema


# --- OpenAPI links: from a response that names a job, image or share to the operations that
# take its id, so generated clients and fuzzers (schemathesis' stateful phase) can follow them.

_JOB_OPS = {
    "GetJob": ("get", "/v1/jobs/{job_id}"),
    "CancelJob": ("post", "/v1/jobs/{job_id}/cancel"),
    "RetryJob": ("post", "/v1/jobs/{job_id}/retry"),
}
_IMAGE_OPS = {
    "GetImage": ("get", "/v1/images/{image_id}"),
    "UpdateImage": ("patch", "/v1/images/{image_id}"),
    "DeleteImage": ("delete", "/v1/images/{image_id}"),
    "ReseedImage": ("post", "/v1/images/{image_id}/reseed"),
    "FavoriteImage": ("post", "/v1/images/{image_id}/favorite"),
    "ShareImage": ("post", "/v1/images/{image_id}/share"),
    "ReportImage": ("post", "/v1/images/{image_id}/report"),
}
_SHARE_OPS = {"RevokeShare": ("delete", "/v1/shares/{share_id}")}
_PRESET_OPS = {
    "GetPreset": ("get", "/v1/presets/{preset_id}"),
    "UpdatePreset": ("put", "/v1/presets/{preset_id}"),
    "ApprovePreset": ("post", "/v1/presets/{preset_id}/approve"),
    "DeletePreset": ("delete", "/v1/presets/{preset_id}"),
}
# (method, path, status) → [(operations, parameter, JSON pointer of the id in the body)]
_LINKS = {
    ("post", "/v1/jobs", "202"): [(_JOB_OPS, "job_id", "/id")],
    ("get", "/v1/jobs", "200"): [(_JOB_OPS, "job_id", "/data/0/id")],
    ("get", "/v1/jobs/{job_id}", "200"): [
        (_JOB_OPS, "job_id", "/id"),
        (_IMAGE_OPS, "image_id", "/images/0/id"),
    ],
    ("post", "/v1/jobs/{job_id}/cancel", "200"): [(_JOB_OPS, "job_id", "/id")],
    ("post", "/v1/jobs/{job_id}/retry", "202"): [(_JOB_OPS, "job_id", "/id")],
    ("post", "/v1/images/generations", "200"): [(_JOB_OPS, "job_id", "/job_id")],
    ("get", "/v1/images", "200"): [(_IMAGE_OPS, "image_id", "/data/0/id")],
    ("get", "/v1/images/{image_id}", "200"): [(_IMAGE_OPS, "image_id", "/id")],
    ("patch", "/v1/images/{image_id}", "200"): [(_IMAGE_OPS, "image_id", "/id")],
    ("post", "/v1/images/{image_id}/reseed", "202"): [(_JOB_OPS, "job_id", "/id")],
    ("post", "/v1/images/{image_id}/share", "201"): [(_SHARE_OPS, "share_id", "/id")],
    ("post", "/v1/presets", "201"): [(_PRESET_OPS, "preset_id", "/id")],
    ("get", "/v1/presets", "200"): [(_PRESET_OPS, "preset_id", "/data/0/id")],
    ("put", "/v1/presets/{preset_id}", "200"): [(_PRESET_OPS, "preset_id", "/id")],
}


def openapi_links(schema: dict) -> None:
    paths = schema["paths"]
    for (method, path, status), targets in _LINKS.items():
        responses = paths.get(path, {}).get(method, {}).get("responses", {})
        response = responses.get(status) or responses.get(int(status))
        if response is None:
            continue
        links = response.setdefault("links", {})
        for operations, parameter, pointer in targets:
            for name, (target_method, target_path) in operations.items():
                target = paths.get(target_path, {}).get(target_method)
                if target is None or "operationId" not in target:
                    continue
                links[name] = {
                    "operationId": target["operationId"],
                    "parameters": {parameter: f"$response.body#{pointer}"},
                }


api = StudioAPI(
    title="Qwen Image Studio API",
    version="1.0.0",
    description=DESCRIPTION,
    urls_namespace="api",
    docs_url="/docs",
    openapi_url="/openapi.json",
    auth=api_auth,
)
api.add_router("", images_router)
api.add_router("", generation_router)
api.add_router("", webhooks_router)
api.add_router("", files_router)
api.add_router("", edits_router)
api.add_router("", prompts_router)
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
    if loc and loc[0] == "header" and parts:  # header names start upper-case: keep them
        return parts[0]
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


@api.exception_handler(StorageQuotaExceeded)
def _storage_full(request, exc: StorageQuotaExceeded):
    # Not a 429: waiting does not help, deleting (and emptying the trash) does.
    return error_response(ApiError(403, exc.message, code="storage_quota_exceeded"))


@api.exception_handler(QuotaExceeded)
def _quota_exceeded(request, exc: QuotaExceeded):
    # 429 for a count (images per day, concurrency), 402 for a money budget (BudgetExceeded);
    # `limit` and `scope` say which limit of whom (user, team or API key).
    return error_response(
        ApiError(
            exc.status,
            exc.message,
            code=exc.code,
            type="insufficient_quota" if exc.status == 402 else None,
            extra={"limit": exc.limit, "scope": exc.scope},
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


@api.exception_handler(RequestDataTooBig)
def _request_too_big(request, exc):
    # A body without Content-Length that grows past the limit (the middleware refuses the
    # declared ones before anything reads them).
    return error_response(request_too_large_error(settings.DATA_UPLOAD_MAX_MEMORY_SIZE))


@api.exception_handler(SuspiciousOperation)
def _suspicious(request, exc):
    return error_response(ApiError(400, "Malformed request.", code="invalid_request"))


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
