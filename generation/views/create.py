"""The Create page (`/`): the prompt and settings, and under them the feed of the user's
newest jobs, kept live by one poll for all of the page's running jobs (`/jobs/live/`).

Without JavaScript the form posts and redirects back here with the new job at the top and the
prompt still in the box; with it, the same POST answers JSON and the card slots in."""

import uuid

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.http import JsonResponse
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from accounts.services import profile_for
from core.http import wants_json
from generation import lifecycle, selectors
from generation.forms import GenerationForm
from generation.models import Job
from generation.moderation import PromptBlocked
from generation.presenters import job_advice, job_live_payload, job_phase, job_render_key
from generation.preset_views import preset_choices
from generation.presets.selectors import presets_usable_by
from generation.prompts.enhancer import enhancer_enabled
from generation.signals import favorite_ids
from generation.sizes import PRESETS
from usage.quotas import QuotaExceeded

FEED_LENGTH = 12
LIVE_MAX_JOBS = 24  # ids one poll may ask about
POLL_MS = 1500  # how often a page asks while one of its jobs runs or is about to
POLL_MS_QUEUED = 5000  # … while its jobs wait further down the queue (docs/studio.md)
SESSION_KEPT = "generate_initial"


@never_cache
@login_required
def generate(request):
    profile = profile_for(request.user)
    presets = list(presets_usable_by(user=request.user, team=profile.current_team))
    form = GenerationForm(
        request.POST if request.method == "POST" else None,
        initial=request.session.pop(SESSION_KEPT, None) if request.method != "POST" else None,
        team=profile.current_team,
        presets=presets,
    )
    if request.method == "POST":
        job = _submit(form, request)
        if job is not None:
            if wants_json(request):
                estimates = selectors.job_queue_estimates(jobs=[job], workers=settings.HUEY_WORKERS)
                return JsonResponse(
                    {
                        "job": job_live_payload(job, request, estimates.get(job.pk)),
                        "html": feed_cards(request, [job])[job.pk],
                    },
                    status=201,
                )
            request.session[SESSION_KEPT] = form.kept_values()
            return redirect("generate")
        if wants_json(request):
            return JsonResponse({"errors": form_errors(form)}, status=400)
    jobs = selectors.jobs_feed_for_user(user=request.user, limit=FEED_LENGTH)
    return render(
        request,
        "generation/generate.html",
        {
            "form": form,
            "presets": PRESETS,
            "enhancer_enabled": enhancer_enabled(),
            "preset_values": preset_choices(presets),
            "feed": feed_entries(request, jobs),
            "poll_ms": POLL_MS,
        },
    )


def _submit(form: GenerationForm, request) -> Job | None:
    if not form.is_valid():
        return None
    try:
        return lifecycle.job_create(
            user=request.user,
            params=form.params,
            visibility=form.cleaned_data["visibility"],
            preset=form.preset_version,
            revision=form.cleaned_data.get("revision") or Job.Enhancement.ACCEPTED,
        )
    except PromptBlocked as exc:
        form.add_error("prompt", exc.message)
    except QuotaExceeded as exc:
        form.add_error(None, exc.message)
    return None


def form_errors(form) -> list[dict]:
    """The form's errors for the page's script: each with the id of the field to focus."""
    errors = [{"field": None, "id": "", "message": str(m)} for m in form.non_field_errors()]
    for name, messages in form.errors.items():
        if name == "__all__":
            continue
        field = form[name]
        label = field.label or name
        for message in messages:
            errors.append(
                {"field": name, "id": field.id_for_label, "label": label, "message": message}
            )
    return errors


# --- The feed ------------------------------------------------------------------------------


def feed_entries(request, jobs: list[Job]) -> list[dict]:
    """What each job card shows: the job, its phase in words, advice when it failed, the
    starred images, and a placeholder for each image not stored yet."""
    estimates = selectors.job_queue_estimates(jobs=jobs, workers=settings.HUEY_WORKERS)
    images = [image for job in jobs for image in job.images.all()]
    starred = favorite_ids(user=request.user, images=images)
    entries = []
    for job in jobs:
        stored = list(job.images.all())
        running = job.status == Job.Status.RUNNING
        ready = set(job.ready_images or []) if running else set()
        entries.append(
            {
                "job": job,
                "images": stored,
                # Until the job ends: a stored image's thumbnail, else a placeholder.
                "slots": [index in ready for index in range(job.n)] if job.is_active else [],
                "phase": job_phase(job, estimates.get(job.pk)),
                "advice": job_advice(job) if job.status == Job.Status.FAILED else "",
                "starred": starred,
                "render_key": job_render_key(job),
            }
        )
    return entries


def feed_cards(request, jobs: list[Job]) -> dict[int, str]:
    """Each job's card, drawn by the server (the page and the poll share one template)."""
    return {
        entry["job"].pk: render_to_string(
            "generation/create/_job_card.html", {"entry": entry}, request=request
        )
        for entry in feed_entries(request, jobs)
    }


@never_cache
@login_required
@require_GET
def feed_live(request):
    """One poll for every running job of the page: `?job=<id>:<render key>` repeated. Each
    job comes back with its live JSON; the card's HTML too when its render key changed."""
    known: dict[str, str] = {}
    for value in request.GET.getlist("job")[:LIVE_MAX_JOBS]:
        public_id, _, key = value.partition(":")
        known[public_id] = key
    jobs = selectors.jobs_by_ids_for_user(user=request.user, public_ids=_uuids(known))
    estimates = selectors.job_queue_estimates(jobs=jobs, workers=settings.HUEY_WORKERS)
    changed = [job for job in jobs if job_render_key(job) != known.get(str(job.public_id))]
    cards = feed_cards(request, changed)
    answer = []
    for job in jobs:
        payload = job_live_payload(job, request, estimates.get(job.pk))
        if job.pk in cards:
            payload["html"] = cards[job.pk]
        answer.append(payload)
    active = sum(1 for job in jobs if job.is_active)
    return JsonResponse({"jobs": answer, "active": active, "poll_ms": _poll_ms(jobs, estimates)})


def _poll_ms(jobs: list[Job], estimates: dict) -> int:
    """Often while something is about to change on the page (a job runs, or is next for a
    worker); less often while its jobs wait further back. At most HUEY_WORKERS jobs run at
    once, so at most that many pages poll at the fast rate, however many are open."""
    soon = settings.HUEY_WORKERS
    for job in jobs:
        if job.status == Job.Status.RUNNING:
            return POLL_MS
        estimate = estimates.get(job.pk)
        if job.status == Job.Status.QUEUED and (estimate is None or estimate.position <= soon):
            return POLL_MS
    return POLL_MS_QUEUED


def _uuids(values) -> list[str]:
    ids = []
    for value in values:
        try:
            ids.append(str(uuid.UUID(value)))
        except ValueError:
            continue
    return ids
