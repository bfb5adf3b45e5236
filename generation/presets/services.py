"""Writes: create, change (a new version), approve, delete presets and count their use."""

import pydantic
from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from generation.params import GenerationParams
from generation.presets.models import Preset, PresetVersion
from generation.presets.selectors import (
    MANAGER_ROLES,
    preset_can_approve,
    preset_can_manage,
    team_role,
)

# The settings a preset may hold, under GenerationParams' names (plus the template).
VALUE_NAMES = (
    "size",
    "num_inference_steps",
    "guidance_scale",
    "negative_prompt",
    "acceleration",
    "prompt_template",
    "enhance",
)
MAX_TEMPLATE_LENGTH = 1000
# The template rule as a regular expression (ECMA and Python alike), for the API document:
# empty (the default, "{prompt}"), or holding {prompt} and no NUL.
TEMPLATE_PATTERN = "^([^\\x00]*\\{prompt\\}[^\\x00]*)?$"


class PresetRuleError(Exception):
    """Refused: `message` says why, `field` which value (if one). `conflict`: the request is
    well formed but the state of the account refuses it (a 409 in the API, not a 400)."""

    def __init__(self, message: str, *, field: str | None = None, conflict: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.conflict = conflict


def preset_values_check(values: dict) -> dict:
    """The preset's values, cleaned, or PresetRuleError naming the first bad one. They are
    checked the way a job would use them: through GenerationParams."""
    unknown = set(values) - set(VALUE_NAMES)
    if unknown:
        raise PresetRuleError(f"Unknown preset field {sorted(unknown)[0]!r}.", field=None)
    clean = {k: v for k, v in values.items() if v not in (None, "")}
    template = clean.get("prompt_template", "{prompt}")
    if not isinstance(template, str) or "{prompt}" not in template:
        raise PresetRuleError(
            "The prompt template must contain {prompt} where your prompt goes.",
            field="prompt_template",
        )
    if len(template) > MAX_TEMPLATE_LENGTH:
        raise PresetRuleError(
            f"The prompt template is too long: at most {MAX_TEMPLATE_LENGTH} characters.",
            field="prompt_template",
        )
    clean["prompt_template"] = template.strip()
    try:
        GenerationParams.build({"prompt": "test"}, preset=clean)
    except pydantic.ValidationError as exc:
        first = exc.errors()[0]
        field = str(first["loc"][0]) if first["loc"] else "size"
        if field == "prompt":  # only the template can make the test prompt invalid
            field = "prompt_template"
        raise PresetRuleError(first["msg"].removeprefix("Value error, "), field=field) from None
    except ValueError as exc:
        raise PresetRuleError(str(exc), field="size") from None
    return clean


def _name(name: str) -> str:
    if "\x00" in (name or ""):
        raise PresetRuleError("The name must not contain NUL characters.", field="name")
    name = (name or "").strip()
    if not name:
        raise PresetRuleError("Give the preset a name.", field="name")
    if len(name) > 80:
        raise PresetRuleError("The name is too long: at most 80 characters.", field="name")
    return name


def _new_version(preset: Preset, values: dict, user) -> PresetVersion:
    number = (preset.current.number + 1) if preset.current_id else 1
    version = PresetVersion.objects.create(
        preset=preset,
        number=number,
        created_by=user,
        size=values.get("size", ""),
        num_inference_steps=values.get("num_inference_steps"),
        guidance_scale=values.get("guidance_scale"),
        negative_prompt=values.get("negative_prompt", ""),
        acceleration=values.get("acceleration", ""),
        prompt_template=values.get("prompt_template", "{prompt}"),
        enhance=values.get("enhance"),
    )
    preset.current = version
    return version


def preset_create(*, user, name: str, values: dict, team=None, description: str = "") -> Preset:
    """A personal preset, or (with `team`) one shared with that team: approved at once when
    its author is a team owner or admin, else waiting for one of them."""
    clean = preset_values_check(values)
    status = Preset.Status.APPROVED
    if team is not None:
        role = team_role(user=user, team=team)
        if role is None:
            raise PresetRuleError("You are not a member of that team.", field="team", conflict=True)
        if role not in MANAGER_ROLES:
            status = Preset.Status.PENDING
    if Preset.objects.filter(user=user).count() >= settings.PRESETS_PER_USER:
        raise PresetRuleError(
            f"You have {settings.PRESETS_PER_USER} presets already: delete one first.",
            conflict=True,
        )
    with transaction.atomic():
        preset = Preset.objects.create(
            user=user,
            team=team,
            name=_name(name),
            description=(description or "").replace("\x00", "").strip()[:300],
            status=status,
            approved_by=user if team is not None and status == Preset.Status.APPROVED else None,
        )
        _new_version(preset, clean, user)
        preset.save(update_fields=["current"])
    return preset


def preset_update(
    *, user, preset: Preset, values: dict, name: str | None = None, description: str | None = None
) -> Preset:
    """A new version with `values` (jobs that used the old one keep pointing at it). A team
    preset changed by an author who is not a team admin waits for approval again."""
    if not preset_can_manage(user=user, preset=preset):
        raise PresetRuleError("Only its author or the team's admins can change this preset.")
    clean = preset_values_check(values)
    with transaction.atomic():
        preset = (
            Preset.objects.select_for_update(of=("self",))
            .select_related("current")
            .get(pk=preset.pk)
        )
        if name is not None:
            preset.name = _name(name)
        if description is not None:
            preset.description = description.replace("\x00", "").strip()[:300]
        _new_version(preset, clean, user)
        if preset.team_id and team_role(user=user, team=preset.team) not in MANAGER_ROLES:
            preset.status, preset.approved_by = Preset.Status.PENDING, None
        preset.save()
    return preset


def preset_approve(*, user, preset: Preset) -> Preset:
    """A team owner or admin shares a waiting team preset with the team."""
    if preset.team_id and preset.status == Preset.Status.APPROVED:
        return preset  # already shared: approving twice changes nothing
    if not preset_can_approve(user=user, preset=preset):
        raise PresetRuleError("Only the team's owners and admins approve its presets.")
    Preset.objects.filter(pk=preset.pk).update(
        status=Preset.Status.APPROVED, approved_by=user, updated_at=timezone.now()
    )
    preset.refresh_from_db()
    return preset


def preset_delete(*, user, preset: Preset) -> None:
    """Gone for everyone; jobs that used it keep their settings (and lose the link)."""
    if not preset_can_manage(user=user, preset=preset):
        raise PresetRuleError("Only its author or the team's admins can delete this preset.")
    preset.delete()


def preset_from_params(
    *, user, name: str, params: GenerationParams, team=None, template: str = "{prompt}"
) -> Preset:
    """ "Save as preset" from an image: its size, steps, guidance, negative prompt,
    acceleration and enhancement (the prompt itself stays out: that is what changes)."""
    values = {
        "size": "auto"
        if params.size_auto
        else (params.size_preset or f"{params.width}x{params.height}"),
        "num_inference_steps": params.num_inference_steps,
        "guidance_scale": params.guidance_scale,
        "negative_prompt": params.negative_prompt.strip(),
        "acceleration": params.acceleration,
        "prompt_template": template,
        "enhance": params.enhance,
    }
    return preset_create(user=user, name=name, values=values, team=team)


def preset_record_use(*, version: PresetVersion) -> None:
    """One more job made with the preset (counted when the job is created)."""
    Preset.objects.filter(pk=version.preset_id).update(
        use_count=F("use_count") + 1, last_used_at=timezone.now()
    )
