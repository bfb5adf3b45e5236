"""Reads: which jobs and images a user may see. Every view and API call goes through these."""

import datetime as dt
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from generation.models import Image, Job, Report, Visibility


def user_team_ids(user) -> list[int]:
    """Ids of the teams the user belongs to (cached on the user object for the request)."""
    if not user.is_authenticated:
        return []
    cached = getattr(user, "_team_ids_cache", None)
    if cached is None:
        cached = list(user.memberships.values_list("team_id", flat=True))
        user._team_ids_cache = cached
    return cached


def image_visibility_q(user) -> Q:
    """Owner: all but rejected; teammates: team images; everyone: public; staff: everything.

    Images that are flagged, reported or rejected are shown to nobody but their owner
    (flagged/reported, blurred) and staff.
    """
    showable = Q(moderation_state__in=Image.SHOWABLE)
    public = Q(visibility=Visibility.PUBLIC) & showable
    if user is None or not user.is_authenticated:
        return public
    if user.is_staff:
        return Q()
    own = Q(user=user) & ~Q(moderation_state=Image.Moderation.REJECTED)
    team = Q(visibility=Visibility.TEAM, team_id__in=user_team_ids(user)) & showable
    return own | team | public


def images_visible_to(user) -> QuerySet[Image]:
    user = user or AnonymousUser()
    return Image.objects.filter(image_visibility_q(user)).select_related("job", "user")


def image_get_for_user(*, user, public_id) -> Image:
    """The image if the user may see it, else Image.DoesNotExist (a 404, never a 403)."""
    return images_visible_to(user).get(public_id=public_id)


def jobs_visible_to(user) -> QuerySet[Job]:
    """Jobs are the owner's business (staff see all)."""
    if user is None or not user.is_authenticated:
        return Job.objects.none()
    if user.is_staff:
        return Job.objects.all()
    return Job.objects.filter(user=user)


def jobs_active_count(*, user) -> int:
    """The user's own queued and running jobs (the nav's "Jobs (2 running)")."""
    return Job.objects.filter(user=user, status__in=Job.ACTIVE).count()


def job_get_for_user(*, user, public_id) -> Job:
    return jobs_visible_to(user).get(public_id=public_id)


def jobs_page_for_user(
    *,
    user,
    limit: int,
    status: str | None = None,
    statuses: list[str] | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    after: tuple[dt.datetime, int] | None = None,
    own_only: bool = False,
) -> list[Job]:
    """Newest first, keyset-paginated after (created_at, id) of the previous page's last job.

    Returns up to limit + 1 jobs (the extra one says there is a next page), with their images
    and webhook deliveries prefetched; no COUNT. `own_only`: the user's own jobs even for
    staff (the My jobs page).
    """
    jobs = Job.objects.filter(user=user) if own_only else jobs_visible_to(user)
    if status:
        jobs = jobs.filter(status=status)
    if statuses:
        jobs = jobs.filter(status__in=statuses)
    if created_after:
        jobs = jobs.filter(created_at__gt=created_after)
    if created_before:
        jobs = jobs.filter(created_at__lt=created_before)
    if after:
        created, pk = after
        jobs = jobs.filter(Q(created_at__lt=created) | Q(created_at=created, pk__lt=pk))
    return list(
        jobs.order_by("-created_at", "-id").prefetch_related(
            Prefetch("images", queryset=Image.objects.order_by("index")), "webhook_deliveries"
        )[: limit + 1]
    )


# --- The Create page's feed ----------------------------------------------------------------


def _jobs_with_images(jobs: QuerySet[Job]) -> list[Job]:
    """The jobs, each image knowing its job without another query."""
    rows = list(jobs.prefetch_related(Prefetch("images", queryset=Image.objects.order_by("index"))))
    for job in rows:
        for image in job.images.all():
            image.job = job
    return rows


def jobs_feed_for_user(*, user, limit: int = 12) -> list[Job]:
    """The newest of the user's own jobs, whatever their state, with their images."""
    return _jobs_with_images(Job.objects.filter(user=user).order_by("-created_at", "-id")[:limit])


def jobs_by_ids_for_user(*, user, public_ids: list) -> list[Job]:
    """The jobs among `public_ids` the user may see (the live feed's one poll), with images."""
    if not public_ids:
        return []
    return _jobs_with_images(jobs_visible_to(user).filter(public_id__in=public_ids))


@dataclass(frozen=True)
class QueueEstimate:
    position: int  # 1 = next in line
    wait_seconds: float | None  # None until the backend has finished a job to learn from


RUN_TIME_SAMPLE = 20
_memo: dict = {}


def _memoized(key: tuple, compute, *, ttl: float):
    """A value computed at most once per `ttl` seconds in this process: every open Create
    page polls, and the queue's counts need not be fresher than the poll interval."""
    if ttl <= 0:
        return compute()
    now = time.monotonic()
    hit = _memo.get(key)
    if hit is not None and now - hit[0] < ttl:
        return hit[1]
    value = compute()
    if len(_memo) > 10_000:  # old jobs' entries: drop them all now and then
        _memo.clear()
    _memo[key] = (now, value)
    return value


def recent_run_seconds(*, backend: str) -> float | None:
    """Mean run time of the backend's last RUN_TIME_SAMPLE succeeded jobs (None: no history).
    Uses the (status, lease) index's status prefix; a few hundred microseconds."""
    rows = (
        Job.objects.filter(status=Job.Status.SUCCEEDED, backend=backend, started_at__isnull=False)
        .order_by("-finished_at")
        .values_list("started_at", "finished_at")[:RUN_TIME_SAMPLE]
    )
    runs = [(end - start).total_seconds() for start, end in rows if end]
    return sum(runs) / len(runs) if runs else None


def job_queue_estimates(*, jobs: list[Job], workers: int) -> dict[int, QueueEstimate]:
    """For each queued job: its place among all queued jobs (by enqueue time; fair-use
    priorities can move it a little) and a rough wait from recent run times:
    (jobs ahead + jobs running) / workers × mean run time. A few COUNTs, only for queued jobs."""
    queued = [job for job in jobs if job.status == Job.Status.QUEUED]
    if not queued:
        return {}
    ttl = settings.GENERATION_QUEUE_ESTIMATE_TTL
    running = _memoized(("running",), Job.objects.filter(status=Job.Status.RUNNING).count, ttl=ttl)
    estimates = {}
    for job in queued:
        ahead = _memoized(
            ("ahead", job.pk),
            Job.objects.filter(
                status=Job.Status.QUEUED, enqueued_at__lt=job.enqueued_at or job.created_at
            ).count,
            ttl=ttl,
        )
        mean = _memoized(
            ("mean", job.backend),
            lambda backend=job.backend: recent_run_seconds(backend=backend),
            ttl=ttl * 15,
        )
        wait = None if mean is None else (ahead + running) / max(1, workers) * mean
        estimates[job.pk] = QueueEstimate(position=ahead + 1, wait_seconds=wait)
    return estimates


def recent_images_for_user(*, user, limit: int = 24) -> QuerySet[Image]:
    return (
        Image.objects.filter(user=user)
        .exclude(moderation_state=Image.Moderation.REJECTED)
        .select_related("job")
        .order_by("-created_at", "-id")[:limit]
    )


# --- Moderation ----------------------------------------------------------------------------


def moderation_queue_q() -> Q:
    """Waiting for a moderator: held (flagged, reported) or with open reports."""
    held = Q(moderation_state__in=[Image.Moderation.FLAGGED, Image.Moderation.REPORTED])
    return held | Q(review_requested_at__isnull=False)


def open_report_count() -> Subquery:
    """Annotation: the image's open reports."""
    counts = (
        Report.objects.filter(image=OuterRef("pk"), resolved=False)
        .order_by()
        .values("image")
        .annotate(n=Count("id"))
        .values("n")[:1]
    )
    return Coalesce(Subquery(counts, output_field=IntegerField()), 0)


@dataclass
class ModerationQueue:
    images: list[Image]  # each with .open_reports: its open reports, oldest first
    total: int


def moderation_queue(*, limit: int = 50) -> ModerationQueue:
    """The staff queue, oldest first (by when the image started waiting); a few queries
    whatever its length."""
    waiting = Image.objects.filter(moderation_queue_q())
    images = list(
        waiting.select_related("job", "user", "team")
        .annotate(waiting_since=Coalesce("review_requested_at", "created_at"))
        .prefetch_related(
            Prefetch(
                "reports",
                queryset=Report.objects.filter(resolved=False)
                .select_related("reporter")
                .order_by("created_at", "id"),
                to_attr="open_reports",
            )
        )
        .order_by("waiting_since", "id")[:limit]
    )
    total = len(images) if len(images) < limit else waiting.count()
    return ModerationQueue(images=images, total=total)


def image_open_report_count(*, image: Image) -> int:
    return Report.objects.filter(image=image, resolved=False).count()


def report_by(*, user, reporter_key: str, image: Image) -> Report | None:
    """This reporter's report on the image (a user, or an anonymous reporter's key)."""
    if user is not None and user.is_authenticated:
        return Report.objects.filter(image=image, reporter=user).first()
    if reporter_key:
        return Report.objects.filter(
            image=image, reporter__isnull=True, reporter_key=reporter_key
        ).first()
    return None


def job_fair_priority(*, job_pk: int) -> int:
    """Fair use: minus the number of the owner's other jobs already queued or running.

    Workers take the highest priority first, and FIFO within one priority, so each user's
    first job goes ahead of anybody's second: a big batch cannot starve other users. Per-user
    caps (QUOTA_CONCURRENT_JOBS) bound how much one user can queue at all.
    """
    owner = Job.objects.filter(pk=job_pk).values("user_id")[:1]
    ahead = (
        Job.objects.filter(user_id=Subquery(owner), status__in=Job.ACTIVE)
        .exclude(pk=job_pk)
        .count()
    )
    return -ahead
