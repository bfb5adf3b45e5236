"""What the /v1 generation operations share: a request's fields turned into GenerationParams
(a failure is a 400 naming the field), the model and webhook checks, the Idempotency-Key
header, and the job's creation."""

import pydantic
from django.conf import settings
from django.urls import reverse
from ninja import Header

from core.errors import ApiError
from core.webhook_urls import WebhookUrlRejected, webhook_url_check
from generation.edits.sources import PreparedEdit
from generation.idempotency import (
    KEY_PATTERN,
    MAX_KEY_LENGTH,
    IdempotencyConflict,
    InvalidIdempotencyKey,
    idempotency_key_check,
    job_create_idempotent,
    request_fingerprint,
)
from generation.models import Job, PresetVersion
from generation.params import GenerationParams, resolve_size
from generation.presets.selectors import PresetNotFound, preset_usable
from generation.schemas import GenerationFieldsIn
from generation.sizes import DEFAULT_PRESET

IDEMPOTENCY_DOC = (
    "Makes the POST safe to repeat: the same key with the same body returns the same job; "
    "with a different body it is a 409."
)
IDEMPOTENCY_HEADER = Header(
    None,
    alias="Idempotency-Key",
    description=IDEMPOTENCY_DOC,
    min_length=1,
    max_length=MAX_KEY_LENGTH,
    pattern=KEY_PATTERN,
)


def preset_for(request, ref: str | None) -> PresetVersion | None:
    """The current version of the preset the request names (id or name), or a 400."""
    if not ref:
        return None
    try:
        return preset_usable(user=request.auth, ref=ref)
    except PresetNotFound as exc:
        raise ApiError(404, exc.message, code="preset_not_found", param="preset") from None


def params_from(
    payload: GenerationFieldsIn,
    *,
    preset: PresetVersion | None = None,
    edit: PreparedEdit | None = None,
) -> GenerationParams:
    """Validate through GenerationParams (on top of the preset and the quality); a failure is
    a 400 naming the offending field."""
    fields = payload.generation_fields()
    fields.pop("preset", None)
    fields.pop("quality", None)
    try:
        if edit is not None:
            fields["edit"] = edit.params()
        return GenerationParams.build(
            fields, preset=preset.values() if preset else None, quality=payload.quality
        )
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        param = str(first["loc"][0]) if first["loc"] else _model_error_param(fields)
        message = first["msg"].removeprefix("Value error, ")
        raise ApiError(400, message, code="invalid_parameter", param=param) from None
    except ValueError as exc:  # a preset saved under looser limits than today's
        raise ApiError(400, str(exc), code="invalid_parameter", param="preset") from None


def _model_error_param(fields: dict) -> str:
    # GenerationParams' whole-model checks are about the size, or about seed + n.
    try:
        resolve_size(fields.get("size", DEFAULT_PRESET))
    except (ValueError, pydantic.ValidationError):
        return "size"
    return "seed"


def check_model(model: str | None, *, edit: bool = False) -> None:
    if edit and model in (settings.QWEN_IMAGE_EDIT_MODEL, "qwen-image-edit"):
        return
    if model is not None and model != settings.QWEN_IMAGE_MODEL:
        raise ApiError(
            400,
            f"Unknown model {model!r}: this portal serves {settings.QWEN_IMAGE_MODEL!r}.",
            code="model_not_found",
            param="model",
        )


def webhook_url_for(url: str | None) -> str:
    if not url:
        return ""
    try:
        return webhook_url_check(url)
    except WebhookUrlRejected as exc:
        raise ApiError(400, str(exc), code="webhook_url_not_allowed", param="webhook_url") from None


def job_submit(request, payload, params: GenerationParams, key: str | None, **job_fields):
    """Create the job (or find the one this Idempotency-Key already made): (job, created)."""
    request_hash = ""
    if key is not None:
        try:
            key = idempotency_key_check(key)
        except InvalidIdempotencyKey as exc:
            raise ApiError(400, str(exc), param="Idempotency-Key") from None
        body = payload.model_dump(mode="json", exclude_unset=True)
        request_hash = request_fingerprint(endpoint=request.path, body=body)
    try:
        return job_create_idempotent(
            user=request.auth,
            params=params,
            idempotency_key=key or "",
            request_hash=request_hash,
            source=Job.Source.API,
            api_key=getattr(request, "api_key", None),
            **job_fields,
        )
    except IdempotencyConflict as exc:
        raise ApiError(
            409,
            "This Idempotency-Key was already used with a different request. Use a new key "
            "for a new request.",
            code="idempotency_key_reused",
            param="Idempotency-Key",
            extra={"job_id": str(exc.job.public_id)},
        ) from None


def job_path(job: Job) -> str:
    return reverse("api:jobs-get", kwargs={"job_id": job.public_id})
