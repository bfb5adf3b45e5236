"""/v1 endpoints for prompts: the enhancement preview and presets (thin: the rules live in
generation.enhancement and generation.presets)."""

import uuid

from ninja import Router
from ninja.responses import Status

from accounts.services import profile_for
from core.errors import ApiError, optional_body_object
from generation.enhancement import PreviewThrottled, PromptInvalid, prompt_preview
from generation.models import Preset
from generation.params import apply_template
from generation.presets import selectors, services
from generation.schemas import (
    EnhanceIn,
    EnhanceOut,
    PresetIn,
    PresetListOut,
    PresetOut,
    PresetUpdateIn,
)

router = Router(tags=["prompts"])

_VALUE_FIELDS = services.VALUE_NAMES


def preset_payload(preset: Preset, *, user, can_manage=None, can_approve=None) -> dict:
    version = preset.current
    values = {name: getattr(version, name) for name in _VALUE_FIELDS}
    values = {k: (None if v in ("",) else v) for k, v in values.items()}
    return {
        "id": str(preset.public_id),
        "name": preset.name,
        "description": preset.description,
        "scope": "team" if preset.team_id else "personal",
        "team": preset.team.name if preset.team_id else None,
        "status": preset.status,
        "author": preset.user.get_username(),
        "version": version.number,
        "values": values,
        "use_count": preset.use_count,
        "last_used_at": preset.last_used_at,
        "created_at": preset.created_at,
        "updated_at": preset.updated_at,
        "can_manage": (
            selectors.preset_can_manage(user=user, preset=preset)
            if can_manage is None
            else can_manage
        ),
        "can_approve": (
            selectors.preset_can_approve(user=user, preset=preset)
            if can_approve is None
            else can_approve
        ),
    }


def _rule_error(exc: services.PresetRuleError, *, status: int = 400) -> ApiError:
    if exc.conflict:
        status = 409
    return ApiError(status, exc.message, code="invalid_preset", param=exc.field)


def _preset_for(request, preset_id: uuid.UUID) -> Preset:
    try:
        return selectors.preset_get_for_user(user=request.auth, public_id=preset_id)
    except Preset.DoesNotExist:
        raise ApiError(404, "No such preset.", code="preset_not_found", param="preset_id") from None


@router.post(
    "/prompts/enhance",
    response=EnhanceOut,
    url_name="prompts-enhance",
    summary="Preview an enhanced prompt",
)
def prompts_enhance(request, payload: EnhanceIn):
    """Rewrites the prompt with the portal's enhancer, within its time bound, for you to look
    at, edit and send back as `revised_prompt`. When the enhancer is slow, down or off the
    answer is the prompt itself with `status: "fallback"` and a note; never an error."""
    prompt = payload.prompt.strip()
    if not prompt:
        raise ApiError(400, "Prompt must not be empty.", code="invalid_parameter", param="prompt")
    if payload.preset:
        version = _usable(request, payload.preset)
        prompt = apply_template(version.prompt_template or "{prompt}", prompt)
    try:
        result = prompt_preview(
            user=request.auth, prompt=prompt, team=profile_for(request.auth).current_team
        )
    except PromptInvalid as exc:
        raise ApiError(400, exc.message, code="invalid_parameter", param="prompt") from None
    except PreviewThrottled as exc:
        raise ApiError(
            429,
            exc.message,
            code="rate_limited",
            headers={"Retry-After": str(exc.retry_after)},
        ) from None
    return result.as_api()


def _usable(request, ref: str):
    try:
        return selectors.preset_usable(user=request.auth, ref=ref)
    except selectors.PresetNotFound as exc:
        raise ApiError(404, exc.message, code="preset_not_found", param="preset") from None


@router.get("/presets", response=PresetListOut, url_name="presets-list", summary="Your presets")
def presets_list(request):
    """Your personal presets and your teams' (waiting ones included, marked `pending`)."""
    rows = selectors.preset_rows(user=request.auth)
    return {
        "data": [
            preset_payload(
                row["preset"],
                user=request.auth,
                can_manage=row["can_manage"],
                can_approve=row["can_approve"],
            )
            for row in rows
        ]
    }


@router.post(
    "/presets", response={201: PresetOut}, url_name="presets-create", summary="Create a preset"
)
def presets_create(request, payload: PresetIn):
    values = payload.model_dump(include=set(_VALUE_FIELDS), exclude_none=True)
    team = profile_for(request.auth).current_team if payload.team else None
    if payload.team and team is None:
        # A state of the account, not of the request: a conflict (409), as OpenAPI clients expect.
        raise ApiError(
            409, "You have no current team to share with.", code="no_current_team", param="team"
        )
    try:
        preset = services.preset_create(
            user=request.auth,
            name=payload.name,
            values=values,
            team=team,
            description=payload.description or "",
        )
    except services.PresetRuleError as exc:
        raise _rule_error(exc) from None
    preset = selectors.preset_get_for_user(user=request.auth, public_id=preset.public_id)
    return Status(201, preset_payload(preset, user=request.auth))


@router.get(
    "/presets/{preset_id}", response=PresetOut, url_name="presets-get", summary="Get a preset"
)
def presets_get(request, preset_id: uuid.UUID):
    return preset_payload(_preset_for(request, preset_id), user=request.auth)


@router.put(
    "/presets/{preset_id}",
    response=PresetOut,
    url_name="presets-update",
    summary="Change a preset (a new version)",
)
def presets_update(request, preset_id: uuid.UUID, payload: PresetUpdateIn | None = None):
    """The values given replace the current version's whole set (unset ones are cleared);
    jobs made with earlier versions keep pointing at them. No body (or null): no change."""
    optional_body_object(request)  # every field is optional: a bare number is not "no change"
    preset = _preset_for(request, preset_id)
    if payload is None:
        return preset_payload(preset, user=request.auth)
    values = payload.model_dump(include=set(_VALUE_FIELDS), exclude_none=True)
    try:
        services.preset_update(
            user=request.auth,
            preset=preset,
            values=values,
            name=payload.name,
            description=payload.description,
        )
    except services.PresetRuleError as exc:
        raise _rule_error(exc, status=400 if exc.field else 403) from None
    return preset_payload(_preset_for(request, preset_id), user=request.auth)


@router.post(
    "/presets/{preset_id}/approve",
    response=PresetOut,
    url_name="presets-approve",
    summary="Share a team preset with the team",
)
def presets_approve(request, preset_id: uuid.UUID):
    preset = _preset_for(request, preset_id)
    try:
        services.preset_approve(user=request.auth, preset=preset)
    except services.PresetRuleError as exc:
        raise _rule_error(exc, status=403) from None
    return preset_payload(_preset_for(request, preset_id), user=request.auth)


@router.delete(
    "/presets/{preset_id}",
    response={204: None},
    url_name="presets-delete",
    summary="Delete a preset",
)
def presets_delete(request, preset_id: uuid.UUID):
    preset = _preset_for(request, preset_id)
    try:
        services.preset_delete(user=request.auth, preset=preset)
    except services.PresetRuleError as exc:
        raise _rule_error(exc, status=403) from None
    return Status(204, None)
