"""/v1 image edits: OpenAI-compatible multipart `POST /v1/images/edits`, the signed source
files a provider fetches, and the `edit` part of `POST /v1/jobs` (resolved here, used by
generation.api). Thin: the rules are in generation.edits and GenerationParams."""

import hashlib
import json
import re

import pydantic
from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import Http404, HttpResponse
from ninja import Header, Router
from ninja.responses import Status

from core.errors import ApiError, ErrorOut
from generation import api_images, api_requests
from generation.edits.payloads import edit_error
from generation.edits.signed import InvalidInputToken, edit_input_for_token
from generation.edits.sources import EditInputError, PreparedEdit, edit_prepare
from generation.files import edit_input_file_response
from generation.idempotency import (
    IdempotencyConflict,
    InvalidIdempotencyKey,
    idempotency_key_check,
    job_create_idempotent,
)
from generation.models import Job, Visibility
from generation.params import GenerationParams, prompt_pattern
from generation.presenters import api_job_payload
from generation.schemas import ImagesResponseOut, JobOut

router = Router(tags=["edits"])

_INDEXED = re.compile(r"^image\[(\d{1,2})\]$")
# Form fields besides the files: OpenAI's, then the hosted model's own.
_OPENAI_IGNORED = {
    "user",
    "quality",
    "background",
    "output_format",
    "output_compression",
    "input_fidelity",
    "partial_images",
    "moderation",
}
_FIELD_TYPES = {
    "prompt": str,
    "negative_prompt": str,
    "n": int,
    "seed": int,
    "num_inference_steps": int,
    "guidance_scale": float,
    "strength": float,
    "acceleration": str,
    "enable_safety_checker": bool,
}

EDIT_FORM_SCHEMA = {
    "type": "object",
    "required": ["prompt", "image"],
    "properties": {
        "image": {
            "description": "The image(s) to edit: 1 to 3 PNG, JPEG or WebP files (also spelled "
            "`image[]` or `image[0]`…`image[2]`), or ids of gallery images you may see. The "
            "first is edited; the others are references.",
            "oneOf": [
                {"type": "string", "format": "binary"},
                {"type": "array", "items": {"type": "string", "format": "binary"}},
            ],
        },
        "mask": {
            "type": "string",
            "format": "binary",
            "description": "PNG over the first image: transparent pixels (or, without alpha, "
            "white ones) may change; every other pixel stays the source's.",
        },
        "prompt": {
            "type": "string",
            "minLength": 1,
            "pattern": prompt_pattern(),
            "description": "The edit instruction (not blank, no NUL).",
        },
        "n": {"type": "integer", "minimum": 1, "description": "Number of results. Default 1."},
        "size": {
            "type": "string",
            "description": '"auto" (default: the first image\'s size and aspect), "WxH" or '
            "a preset name.",
        },
        "response_format": {"type": "string", "enum": ["url", "b64_json"]},
        "model": {"type": "string"},
        "seed": {"type": "integer"},
        "negative_prompt": {"type": "string"},
        "num_inference_steps": {"type": "integer"},
        "guidance_scale": {"type": "number"},
        "acceleration": {"type": "string", "enum": ["none", "regular", "high"]},
        "strength": {
            "type": "number",
            "exclusiveMinimum": 0,
            "maximum": 1,
            "description": "With a mask: how freely the masked area is repainted (0-1].",
        },
        "enable_safety_checker": {"type": "boolean"},
        "visibility": {"type": "string", "enum": ["private", "team", "public"]},
        "webhook_url": {"type": "string"},
        "wait": {
            "type": "boolean",
            "description": "false: answer 202 with the job at once (poll it or use a webhook).",
        },
    },
}


def _images_in(request) -> list:
    """image, image[] and image[N] (files, or our image ids as plain fields), in order."""
    files, post = request.FILES, request.POST
    values: list = []
    for key in ("image", "image[]"):
        values += [upload for upload in files.getlist(key)]
        values += [text for text in post.getlist(key) if text.strip()]
    indexed = sorted(
        (int(match.group(1)), key)
        for key in [*files.keys(), *post.keys()]
        if (match := _INDEXED.match(key))
    )
    for _, key in indexed:
        values += files.getlist(key) + [t for t in post.getlist(key) if t.strip()]
    limit = settings.EDIT_MAX_IMAGES
    if len(values) > limit:
        raise ApiError(
            400, f"An edit takes at most {limit} images.", code="too_many_images", param="image"
        )
    out = []
    for value in values:
        if hasattr(value, "read"):
            if value.size > settings.EDIT_MAX_UPLOAD_BYTES:
                raise ApiError(
                    400,
                    f"{value.name or 'An image'} is larger than "
                    f"{settings.EDIT_MAX_UPLOAD_BYTES / 2**20:.0f} MiB.",
                    code="image_too_large",
                    param="image",
                )
            out.append(value.read())
        else:
            out.append(value.strip())
    return out


def _field(post, name: str, kind):
    raw = post.get(name)
    if raw is None or raw == "":
        return None
    if kind is str:
        return raw
    if kind is bool:
        if raw.lower() in ("true", "1", "yes", "on"):
            return True
        if raw.lower() in ("false", "0", "no", "off"):
            return False
    else:
        try:
            return kind(raw)
        except ValueError:
            pass
    kind_name = {int: "an integer", float: "a number", bool: "true or false"}[kind]
    raise ApiError(400, f"Invalid value for '{name}': {kind_name} is required.", param=name)


def _params(fields: dict, prepared: PreparedEdit) -> GenerationParams:
    try:
        return GenerationParams(**fields, edit=prepared.params())
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else "size"
        message = first["msg"].removeprefix("Value error, ")
        raise ApiError(400, message, code="invalid_parameter", param=param) from None


def _fingerprint(request, images: list, mask: bytes | None) -> str:
    body = {
        "fields": sorted((k, v) for k, v in request.POST.items()),
        "images": [hashlib.sha256(v).hexdigest() if isinstance(v, bytes) else v for v in images],
        "mask": hashlib.sha256(mask).hexdigest() if mask else None,
    }
    return hashlib.sha256(json.dumps(body, sort_keys=True).encode()).hexdigest()


@router.post(
    "/images/edits",
    response={
        200: ImagesResponseOut,
        202: JobOut,
        413: ErrorOut,
        415: ErrorOut,
        502: ErrorOut,
        504: ErrorOut,
    },
    exclude_none=True,
    url_name="images-edits",
    summary="Edit images and wait for them (OpenAI-compatible multipart)",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"multipart/form-data": {"schema": EDIT_FORM_SCHEMA}},
        }
    },
)
def images_edits(
    request,
    response: HttpResponse,
    idempotency_key: str | None = Header(
        None, alias="Idempotency-Key", description=api_requests.IDEMPOTENCY_DOC
    ),
):
    """Edits `image` by `prompt` (with `mask`, only inside it) and waits up to
    API_SYNC_WAIT_SECONDS, like `POST /v1/images/generations`; `wait=false` answers 202 with
    the job. You may only edit images you may see; the edit is yours."""
    # The body's size was checked before this (config.middleware: EDIT_MAX_REQUEST_BYTES).
    if not (request.content_type or "").startswith("multipart/form-data"):
        raise ApiError(
            415, "Send the edit as multipart/form-data (image, mask, prompt, …).", param=None
        )
    try:
        post = request.POST
        request.FILES  # noqa: B018 - parsed here, where its limits can answer
    except RequestDataTooBig:
        raise ApiError(
            413,
            "The form fields are too large: send images and masks as files, not as text.",
            code="request_too_large",
        ) from None
    except (TooManyFieldsSent, TooManyFilesSent):
        raise ApiError(400, "Too many form fields or files.", code="invalid_request") from None
    model = post.get("model") or None
    if model and model not in (settings.QWEN_IMAGE_EDIT_MODEL, "qwen-image-edit"):
        raise ApiError(
            400,
            f"Unknown model {model!r}: this portal edits with {settings.QWEN_IMAGE_EDIT_MODEL!r}.",
            code="model_not_found",
            param="model",
        )
    if _field(post, "stream", bool):
        raise ApiError(400, "Streaming edits are not supported.", param="stream")
    fmt = post.get("response_format") or "url"
    if fmt not in ("url", "b64_json"):
        raise ApiError(400, "response_format must be url or b64_json.", param="response_format")
    visibility = post.get("visibility") or Visibility.PRIVATE
    if visibility not in Visibility.values:
        raise ApiError(400, "visibility must be private, team or public.", param="visibility")
    fields = {
        name: value
        for name, kind in _FIELD_TYPES.items()
        if (value := _field(post, name, kind)) is not None
    }
    strength = fields.pop("strength", None)
    if "prompt" not in fields:
        raise ApiError(400, "Missing required parameter 'prompt'.", param="prompt")
    size = post.get("size")
    if size and size != "auto":
        fields["size"] = size
    images = _images_in(request)
    upload = request.FILES.get("mask")
    mask = upload.read() if upload is not None else (post.get("mask") or None)
    if upload is not None and upload.size > settings.EDIT_MAX_UPLOAD_BYTES:
        raise ApiError(400, "The mask is too large.", code="image_too_large", param="mask")
    try:
        prepared = edit_prepare(
            user=request.auth, images=images, mask=mask, strength=strength, param="image"
        )
    except EditInputError as exc:
        raise edit_error(exc) from None
    params = _params(fields, prepared)
    key = ""
    if idempotency_key is not None:
        try:
            key = idempotency_key_check(idempotency_key)
        except InvalidIdempotencyKey as exc:
            raise ApiError(400, str(exc), param="Idempotency-Key") from None
    try:
        job, created = job_create_idempotent(
            user=request.auth,
            params=params,
            idempotency_key=key,
            request_hash=_fingerprint(request, images, mask) if key else "",
            source=Job.Source.API,
            visibility=visibility,
            webhook_url=api_requests.webhook_url_for(post.get("webhook_url")),
            edit_inputs=prepared,
        )
    except IdempotencyConflict as exc:
        raise ApiError(
            409,
            "This Idempotency-Key was already used with a different request.",
            code="idempotency_key_reused",
            param="Idempotency-Key",
            extra={"job_id": str(exc.job.public_id)},
        ) from None
    if not created:
        response["Idempotent-Replayed"] = "true"
    if _field(post, "wait", bool) is False:
        job.refresh_from_db()
        response["Location"] = request.build_absolute_uri(api_requests.job_path(job))
        return Status(202, api_job_payload(job, request))
    return api_images.sync_answer(request, job, fmt, created=created)


@router.get("/edit-inputs/{token}", auth=None, include_in_schema=False, url_name="edit-input-file")
def edit_input_file(request, token: str):
    """A source of a running edit, for the provider that holds its signed URL."""
    try:
        row = edit_input_for_token(token)
    except InvalidInputToken as exc:
        if exc.expired:
            raise ApiError(403, str(exc), code="url_expired") from None
        raise ApiError(404, str(exc), code="not_found") from None
    try:
        return edit_input_file_response(row, cache="private, no-store")
    except Http404:
        raise ApiError(404, "No such file.", code="not_found") from None
