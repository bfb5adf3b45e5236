"""Prompt enhancement for jobs and previews: the enhancer's revision, checked by the same
blocklist as any prompt, with the team's own system prompts; the job keeps both prompts."""

import datetime as dt

from django.conf import settings
from django.core.cache import cache
from django.utils import timezone

from generation.events import log_job_event
from generation.models import Job
from generation.moderation import PromptBlocked, prompt_check
from generation.params import auto_size
from generation.presets.selectors import MANAGER_ROLES, team_role
from generation.prompts.enhancer import Enhancement, prompt_enhance
from generation.prompts.models import TeamPromptSettings


def team_system_prompts(team) -> dict[str, str] | None:
    """A team's own system prompts ({"en", "zh"}, blank for ours), or None."""
    if team is None:
        return None
    row = TeamPromptSettings.objects.filter(team=team).first()
    return row.custom() if row else None


def _checked(result: Enhancement) -> Enhancement:
    """A revision that the blocklist refuses is not used (the original passed it)."""
    if not result.changed:
        return result
    try:
        prompt_check(prompt=result.revised)
    except PromptBlocked:
        return Enhancement(
            prompt=result.prompt,
            revised=result.prompt,
            status="fallback",
            note="The revision broke this portal's prompt rules. The original prompt was used.",
            language=result.language,
            seconds=result.seconds,
            system_prompt=result.system_prompt,
        )
    return result


class PromptInvalid(ValueError):
    """A prompt no job would accept (too long, NUL): not worth a model's time."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class PreviewThrottled(Exception):
    def __init__(self, retry_after: int) -> None:
        super().__init__("Too many prompt previews: wait a minute.")
        self.message = str(self)
        self.retry_after = retry_after


def prompt_preview(*, user, prompt: str, team=None) -> Enhancement:
    """Enhance a prompt for the user to look at before submitting (the Create page's ✨ and
    POST /v1/prompts/enhance). A prompt no job would take raises PromptInvalid, a blocked one
    PromptBlocked, as a submission would; PROMPT_PREVIEWS_PER_MINUTE per user, else
    PreviewThrottled."""
    if len(prompt) > settings.GENERATION_MAX_PROMPT_LENGTH:
        raise PromptInvalid(
            f"Prompt is too long: at most {settings.GENERATION_MAX_PROMPT_LENGTH} characters."
        )
    if "\x00" in prompt:
        raise PromptInvalid("Prompt must not contain NUL characters.")
    prompt_check(prompt=prompt)
    now = timezone.now()
    window = now.replace(second=0, microsecond=0)
    key = f"prompt-preview:{user.pk}:{window:%Y%m%d%H%M}"
    cache.add(key, 0, timeout=90)
    try:
        count = cache.incr(key)
    except ValueError:  # evicted between add and incr
        cache.set(key, 1, timeout=90)
        count = 1
    if count > settings.PROMPT_PREVIEWS_PER_MINUTE:
        retry_after = int((window + dt.timedelta(minutes=1) - now).total_seconds()) + 1
        raise PreviewThrottled(retry_after)
    timeout = min(settings.PROMPT_PREVIEW_TIMEOUT, settings.PROMPT_ENHANCER_TIMEOUT)
    return _checked(
        prompt_enhance(prompt=prompt, custom=team_system_prompts(team), timeout=timeout)
    )


def job_enhance(*, job: Job) -> None:
    """Revise a claimed job's prompt before its backend call, when it asked for that and has
    no revision yet (a retry keeps the first outcome). Never fails the job: a slow, failing or
    refused enhancer leaves the original prompt and says so on the job."""
    if not job.enhance or job.revised_prompt or job.enhancement:
        return
    result = _checked(prompt_enhance(prompt=job.prompt, custom=team_system_prompts(job.team)))
    fields = {
        "enhancement": Job.Enhancement.ENHANCED if result.changed else Job.Enhancement.FALLBACK,
        "enhancement_note": result.note[:500],
        "revised_prompt": result.revised if result.changed else "",
    }
    if result.status == "enhanced" and not result.changed:
        fields["enhancement"] = Job.Enhancement.ENHANCED
        fields["enhancement_note"] = "The enhancer kept the prompt as it was."
    if job.size_auto and result.changed:
        fields["width"], fields["height"], fields["size_preset"] = auto_size(result.revised)
    Job.objects.filter(pk=job.pk, status=Job.Status.RUNNING, attempts=job.attempts).update(
        **fields, updated_at=timezone.now()
    )
    for name, value in fields.items():
        setattr(job, name, value)
    log_job_event("enhanced", job, status=fields["enhancement"], seconds=result.seconds)


class TeamPromptsNotAllowed(Exception):
    pass


def team_system_prompts_update(*, user, team, en: str, zh: str) -> TeamPromptSettings:
    """A team owner or admin sets the team's own system prompts (blank: the portal's)."""
    if team_role(user=user, team=team) not in MANAGER_ROLES:
        raise TeamPromptsNotAllowed("Only the team's owners and admins change its prompts.")
    row, _ = TeamPromptSettings.objects.get_or_create(team=team)
    row.system_prompt_en, row.system_prompt_zh = en.strip(), zh.strip()
    row.updated_by = user
    row.save()
    return row
