"""Reads: which jobs and images a user may see. Every view and API call goes through these."""

import datetime as dt
from dataclasses import dataclass

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


def job_get_for_user(*, user, public_id) -> Job:
    return jobs_visible_to(user).get(public_id=public_id)


def jobs_page_for_user(
    *,
    user,
    limit: int,
    status: str | None = None,
    created_after: dt.datetime | None = None,
    created_before: dt.datetime | None = None,
    after: tuple[dt.datetime, int] | None = None,
) -> list[Job]:
    """Newest first, keyset-paginated after (created_at, id) of the previous page's last job.

    Returns up to limit + 1 jobs (the extra one says there is a next page), with their images
    and webhook deliveries prefetched; no COUNT.
    """
    jobs = jobs_visible_to(user)
    if status:
        jobs = jobs.filter(status=status)
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
