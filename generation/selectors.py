"""Reads: which jobs and images a user may see. Every view and API call goes through these."""

import datetime as dt
from dataclasses import dataclass

from django.contrib.auth.models import AnonymousUser
from django.db import connection
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
    if user.is_authenticated and user.is_staff:
        return Q()
    not_rejected = ~Q(moderation_state=Image.Moderation.REJECTED)
    showable = Q(moderation_state__in=Image.SHOWABLE)
    if scope == "mine":
        return not_rejected
    if not user.is_authenticated:
        return showable
    return showable | (Q(user=user) & not_rejected)


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
        jobs.order_by("-created_at", "-id").prefetch_related(
            Prefetch("images", queryset=Image.objects.order_by("index")), "webhook_deliveries"
        )[: limit + 1]
    )


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
