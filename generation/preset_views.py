"""Pages for prompts: the Create page's enhance preview (JSON), presets (list, create, change,
approve, delete, save from an image) and a team's system prompts."""

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from accounts.access import membership_read
from accounts.services import profile_for
from core.http import get_or_404
from generation import enhancement
from generation.access import image_read
from generation.forms import PresetForm, TeamPromptsForm
from generation.models import Preset
from generation.moderation import PromptBlocked
from generation.params import GenerationParams, apply_template
from generation.presets import selectors, services
from generation.prompts.enhancer import enhancer_enabled, enhancer_kind
from generation.prompts.rules import DEFAULT_SYSTEM_PROMPTS


@login_required
@require_POST
def prompt_enhance_preview(request):
    """The ✨ button: the revision of the prompt (after the chosen preset's template)."""
    prompt = (request.POST.get("prompt") or "").strip()
    if not prompt:
        return JsonResponse({"error": "Write a prompt first."}, status=400)
    team = profile_for(request.user).current_team
    preset_id = request.POST.get("preset") or ""
    if preset_id:
        try:
            version = selectors.preset_usable(user=request.user, ref=preset_id)
        except selectors.PresetNotFound as exc:
            return JsonResponse({"error": exc.message}, status=400)
        prompt = apply_template(version.prompt_template or "{prompt}", prompt)
    try:
        result = enhancement.prompt_preview(user=request.user, prompt=prompt, team=team)
    except (PromptBlocked, enhancement.PromptInvalid) as exc:
        return JsonResponse({"error": exc.message}, status=400)
    except enhancement.PreviewThrottled as exc:
        response = JsonResponse({"error": exc.message}, status=429)
        response["Retry-After"] = str(exc.retry_after)
        return response
    return JsonResponse(result.as_api())


def _preset_read(request, public_id) -> Preset:
    return get_or_404(
        lambda: selectors.preset_get_for_user(user=request.user, public_id=public_id),
        "No such preset.",
    )


@login_required
def preset_list(request):
    """Your presets and your teams', with the form for a new one."""
    rows = selectors.preset_rows(user=request.user)
    form = PresetForm()
    if request.method == "POST":
        form = PresetForm(request.POST)
        if form.is_valid():
            team = None
            if form.cleaned_data["share_with_team"]:
                team = profile_for(request.user).current_team
            try:
                if form.cleaned_data["share_with_team"] and team is None:
                    raise services.PresetRuleError("You have no current team to share with.")
                preset = services.preset_create(
                    user=request.user,
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                    values=form.values(),
                    team=team,
                )
            except services.PresetRuleError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                _saved_message(request, preset)
                return redirect("preset-detail", public_id=preset.public_id)
    return render(
        request,
        "generation/presets.html",
        {"rows": rows, "form": form, "team": profile_for(request.user).current_team},
    )


def _saved_message(request, preset: Preset) -> None:
    if preset.status == Preset.Status.PENDING:
        messages.info(
            request, f"Preset “{preset.name}” saved; a team admin approves it for the team."
        )
    else:
        messages.success(request, f"Preset “{preset.name}” saved.")


@login_required
@require_http_methods(["GET", "POST"])
def preset_detail(request, public_id):
    """One preset: its settings (a form for whoever may change them) and its versions."""
    preset = _preset_read(request, public_id)
    can_manage = selectors.preset_can_manage(user=request.user, preset=preset)
    form = PresetForm(initial=PresetForm.initial_for(preset))
    if request.method == "POST":
        if not can_manage:
            raise PermissionDenied("Only its author or the team's admins can change it.")
        form = PresetForm(request.POST)
        if form.is_valid():
            try:
                preset = services.preset_update(
                    user=request.user,
                    preset=preset,
                    values=form.values(),
                    name=form.cleaned_data["name"],
                    description=form.cleaned_data["description"],
                )
            except services.PresetRuleError as exc:
                form.add_error(exc.field if exc.field in form.fields else None, exc.message)
            else:
                _saved_message(request, preset)
                return redirect("preset-detail", public_id=preset.public_id)
    form.fields.pop("share_with_team")
    return render(
        request,
        "generation/preset_detail.html",
        {
            "preset": preset,
            "form": form,
            "can_manage": can_manage,
            "can_approve": selectors.preset_can_approve(user=request.user, preset=preset),
            "versions": selectors.preset_versions(preset=preset),
        },
    )


@login_required
@require_POST
def preset_approve(request, public_id):
    preset = _preset_read(request, public_id)
    try:
        services.preset_approve(user=request.user, preset=preset)
    except services.PresetRuleError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, f"“{preset.name}” is shared with {preset.team.name}.")
    return redirect("preset-detail", public_id=preset.public_id)


@login_required
@require_POST
def preset_delete(request, public_id):
    preset = _preset_read(request, public_id)
    try:
        services.preset_delete(user=request.user, preset=preset)
    except services.PresetRuleError as exc:
        messages.error(request, exc.message)
        return redirect("preset-detail", public_id=preset.public_id)
    messages.success(request, f"Preset “{preset.name}” deleted.")
    return redirect("preset-list")


@login_required
@require_POST
def image_save_preset(request, public_id):
    """ "Save as preset" on an image: its settings (not its prompt or seed) as a new personal
    preset, which its page then lets you rename, change or share."""
    image = image_read(request, public_id)
    params = GenerationParams.from_job(image.job)
    name = (request.POST.get("name") or "").strip() or f"Like {str(image.public_id)[:8]}"
    try:
        preset = services.preset_from_params(user=request.user, name=name, params=params)
    except services.PresetRuleError as exc:
        messages.error(request, exc.message)
        return redirect("image-detail", public_id=image.public_id)
    _saved_message(request, preset)
    return redirect("preset-detail", public_id=preset.public_id)


@login_required
@require_http_methods(["GET", "POST"])
def team_prompts(request, public_id):
    """A team's system prompts for the enhancer: members read them, owners and admins edit."""
    membership = membership_read(request, public_id)
    team = membership.team
    can_edit = membership.role in selectors.MANAGER_ROLES
    current = enhancement.team_system_prompts(team) or {"en": "", "zh": ""}
    form = TeamPromptsForm(
        initial={"system_prompt_en": current["en"], "system_prompt_zh": current["zh"]}
    )
    if request.method == "POST":
        if not can_edit:
            raise PermissionDenied("Only the team's owners and admins change its prompts.")
        form = TeamPromptsForm(request.POST)
        if form.is_valid():
            enhancement.team_system_prompts_update(
                user=request.user,
                team=team,
                en=form.cleaned_data["system_prompt_en"],
                zh=form.cleaned_data["system_prompt_zh"],
            )
            messages.success(request, "The team's prompts are saved.")
            return redirect("team-prompts", public_id=team.public_id)
    return render(
        request,
        "generation/team_prompts.html",
        {
            "team": team,
            "form": form,
            "can_edit": can_edit,
            "defaults": DEFAULT_SYSTEM_PROMPTS,
            "enhancer_enabled": enhancer_enabled(),
            "enhancer_kind": enhancer_kind(),
        },
    )


def preset_choices(presets) -> dict:
    """The values of each preset the Create page offers, for prompts.js to fill the form."""
    return {str(p.public_id): p.current.values() for p in presets if p.current_id is not None}
