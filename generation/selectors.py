"""Reads: which jobs and images a user may see. Every view and API call goes through these."""

import datetime as dt
import time
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.selectors import team_shared_q, user_team_ids  # noqa: F401 (re-exported)
from generation.consumers.heartbeat import alive_for
from generation.models import Image, Job, Report, Visibility, Worker
from generation.queues import GPU, backends_of, pending, queue_for, queue_names


def image_visibility_q(user, prefix: str = "") -> Q:
    """Owner: all but rejected; teammates: team images; everyone: public; staff: everything.

    Images that are flagged, reported or rejected are shown to nobody but their owner
    (flagged/reported, blurred) and staff. "Team" is the one team rule
    (accounts.selectors.team_shared_q): the image's team, while its owner belongs to it.
    Trashed images are shown to nobody (their owner sees them on the Trash page only).
    `prefix` applies the same rule through a relation (e.g. "image__" from a collection item).
    """

    def q(**lookups) -> Q:
        return Q(**{f"{prefix}{key}": value for key, value in lookups.items()})

    live = q(deleted_at__isnull=True)
    showable = q(moderation_state__in=Image.SHOWABLE)
    public = q(visibility=Visibility.PUBLIC) & showable
    if user is None or not user.is_authenticated:
        return live & public
    if user.is_staff:
        return live
    own = q(user=user) & ~q(moderation_state=Image.Moderation.REJECTED)
    team = q(visibility=Visibility.TEAM) & team_shared_q(viewer=user, prefix=prefix) & showable
    return live & (own | team | public)


def images_visible_to(user) -> QuerySet[Image]:
    user = user or AnonymousUser()
    return Image.objects.filter(image_visibility_q(user)).select_related("job", "user")


def image_visibility_within_q(user, *, scope: str) -> Q:
    """image_visibility_q(user) for the images of one gallery scope only (the scope's own
    condition is the caller's), written without the three-way OR.

    Within "mine" it reduces to "not rejected"; within "team" (the user's teams' team and
    public images) and "public" to "showable, or the user's own and not rejected". Same rows,
    but the only column conditions left are the scope's, so a database walks the scope's
    index in page order: with the full OR PostgreSQL combined bitmaps of the owner, team and
    public indexes and sorted them (bench/gallery.py).
    """
    user = user or AnonymousUser()
    live = Q(deleted_at__isnull=True)  # trashed images are shown to nobody
    if user.is_authenticated and user.is_staff:
        return live
    not_rejected = ~Q(moderation_state=Image.Moderation.REJECTED)
    showable = Q(moderation_state__in=Image.SHOWABLE)
    if scope == "mine":
        return live & not_rejected
    if not user.is_authenticated:
        return live & showable
    return live & (showable | (Q(user=user) & not_rejected))


def image_get_for_user(*, user, public_id) -> Image:
    """The image if the user may see it, else Image.DoesNotExist (a 404, never a 403)."""
    return images_visible_to(user).get(public_id=public_id)


def job_images_for(*, user, job: Job) -> QuerySet[Image]:
    """The job's images that the user may see now, in order (a rejected one is left out)."""
    return images_visible_to(user).filter(job=job).order_by("index")


def jobs_visible_to(user) -> QuerySet[Job]:
    """Jobs are the owner's business (staff see all); trashed ones only on the Trash page."""
    if user is None or not user.is_authenticated:
        return Job.objects.none()
    if user.is_staff:
        return Job.objects.filter(deleted_at__isnull=True)
    return Job.objects.filter(user=user, deleted_at__isnull=True)


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
        # The leading <= bounds the index walk (an OR alone scans from the newest job).
        jobs = jobs.filter(Q(created_at__lte=created) & (Q(created_at__lt=created) | Q(pk__lt=pk)))
    return list(
        jobs.order_by("-created_at", "-id")
        .select_related("preset__preset")
        .prefetch_related(
            Prefetch(
                "images", queryset=Image.objects.filter(deleted_at__isnull=True).order_by("index")
            ),
            "webhook_deliveries",
        )[: limit + 1]
    )


# --- The Create page's feed ----------------------------------------------------------------


def _jobs_with_images(jobs: QuerySet[Job]) -> list[Job]:
    """The jobs, each image knowing its job without another query."""
    live_images = Image.objects.filter(deleted_at__isnull=True).order_by("index")
    rows = list(jobs.prefetch_related(Prefetch("images", queryset=live_images)))
    for job in rows:
        for image in job.images.all():
            image.job = job
    return rows


def jobs_feed_for_user(*, user, limit: int = 12) -> list[Job]:
    """The newest of the user's own jobs, whatever their state, with their images."""
    mine = Job.objects.filter(user=user, deleted_at__isnull=True)  # trashed: the Trash page
    return _jobs_with_images(mine.order_by("-created_at", "-id")[:limit])


def jobs_by_ids_for_user(*, user, public_ids: list) -> list[Job]:
    """The jobs among `public_ids` the user may see (the live feed's one poll), with images."""
    if not public_ids:
        return []
    return _jobs_with_images(jobs_visible_to(user).filter(public_id__in=public_ids))


@dataclass(frozen=True)
class QueueEstimate:
    position: int  # 1 = next in line
    wait_seconds: float | None  # None until the backend has finished a job to learn from
    notice: str = ""  # no live consumer serves the job's queue (job_waiting_notice)


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
    """For each queued job: its place among the jobs queued on its queue (by enqueue time;
    fair-use priorities can move it a little), a rough wait from recent run times
    ((jobs ahead + jobs running) / consumers' threads × mean run time; the GPU queue has one),
    and the notice when no consumer serves that queue. A few COUNTs, only for queued jobs,
    each at most once per GENERATION_QUEUE_ESTIMATE_TTL in this process."""
    queued = [job for job in jobs if job.status == Job.Status.QUEUED]
    if not queued:
        return {}
    ttl = settings.GENERATION_QUEUE_ESTIMATE_TTL
    estimates = {}
    for job in queued:
        queue = queue_for(job.backend)
        backends = backends_of(queue)
        running = _memoized(
            ("running", queue),
            Job.objects.filter(status=Job.Status.RUNNING, backend__in=backends).count,
            ttl=ttl,
        )
        ahead = _memoized(
            ("ahead", job.pk),
            Job.objects.filter(
                status=Job.Status.QUEUED,
                backend__in=backends,
                enqueued_at__lt=job.enqueued_at or job.created_at,
            ).count,
            ttl=ttl,
        )
        mean = _memoized(
            ("mean", job.backend),
            lambda backend=job.backend: recent_run_seconds(backend=backend),
            ttl=ttl * 15,
        )
        notice = _memoized(("notice", queue), lambda job=job: job_waiting_notice(job=job), ttl=ttl)
        threads = 1 if queue == GPU else max(1, workers)
        wait = None if mean is None else (ahead + running) / threads * mean
        estimates[job.pk] = QueueEstimate(position=ahead + 1, wait_seconds=wait, notice=notice)
    return estimates


def recent_images_for_user(*, user, limit: int = 24) -> QuerySet[Image]:
    return (
        Image.objects.filter(user=user, deleted_at__isnull=True)
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
    waiting = Image.objects.filter(moderation_queue_q(), deleted_at__isnull=True)
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


# Priorities stop falling after this many of one owner's jobs ahead: every submission counts
# them, and an owner whose quota is lifted may have thousands queued (bench/submit.py).
FAIR_PRIORITY_FLOOR = 100
# Constant SQL: the ORM spent ~0.8 ms composing this count on every submission, the database
# ~0.03 ms running it (bench/submit.py). The job_user_status index serves it.
_JOB_TABLE = Job._meta.db_table
_JOBS_AHEAD = (
    f"SELECT count(*) FROM (SELECT 1 FROM {_JOB_TABLE} WHERE user_id = "  # noqa: S608
    f"(SELECT user_id FROM {_JOB_TABLE} WHERE id = %s) AND status IN (%s, %s) AND id <> %s "
    "LIMIT %s) AS ahead"
)


def job_fair_priority(*, job_pk: int) -> int:
    """Fair use: minus the number of the owner's other jobs already queued or running (at
    most FAIR_PRIORITY_FLOOR).

    Workers take the highest priority first, and FIFO within one priority, so each user's
    first job goes ahead of anybody's second: a big batch cannot starve other users. Per-user
    caps (QUOTA_CONCURRENT_JOBS) bound how much one user can queue at all.
    """
    with connection.cursor() as cursor:
        cursor.execute(_JOBS_AHEAD, [job_pk, *Job.ACTIVE, job_pk, FAIR_PRIORITY_FLOOR])
        (ahead,) = cursor.fetchone()
    return -ahead


# --- Queues and their consumers -------------------------------------------------------------


def job_queue(*, job_pk: int) -> str:
    """The queue a job waits on, by its backend's capability (queues.DEFAULT when gone)."""
    backend = Job.objects.filter(pk=job_pk).values_list("backend", flat=True).first()
    return queue_for(backend or "")


def consumers_alive(*, queue: str | None = None) -> QuerySet[Worker]:
    """Consumers whose last heartbeat is recent and that did not say they stopped."""
    since = timezone.now() - dt.timedelta(seconds=alive_for())
    alive = Worker.objects.filter(last_seen_at__gte=since).exclude(state=Worker.State.STOPPED)
    return alive.filter(queue=queue) if queue else alive


def queue_overview() -> list[dict]:
    """Per queue: the backends it carries, its live consumers, the jobs waiting on it and the
    messages in its storage. For /healthz and the admin (three queries, whatever the size)."""
    waiting = dict(
        Job.objects.filter(status=Job.Status.QUEUED)
        .values_list("backend")
        .annotate(count=Count("id"))
        .values_list("backend", "count")
    )
    live = dict(consumers_alive().values_list("queue").annotate(count=Count("id")))
    overview = []
    for queue in queue_names():
        backends = backends_of(queue)
        overview.append(
            {
                "queue": queue,
                "backends": backends,
                "consumers": live.get(queue, 0),
                "queued_jobs": sum(waiting.get(backend, 0) for backend in backends),
                "pending_tasks": pending(queue),
            }
        )
    return overview


def job_waiting_notice(*, job: Job) -> str:
    """What a queued job's page says when no live consumer serves its backend."""
    if job.status != Job.Status.QUEUED:
        return ""
    queue = queue_for(job.backend)
    if consumers_alive(queue=queue).exists():
        return ""
    if queue == GPU:
        return (
            f"No GPU worker for the {job.backend} backend is running: this job waits until "
            "one starts (an operator starts it with manage.py run_gpu_worker)."
        )
    return "No worker is running: this job waits until one starts (manage.py run_huey)."
