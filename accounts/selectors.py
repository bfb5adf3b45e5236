"""Reads for accounts: teams a user belongs to, members, invites, API keys, usage."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import (
    Avg,
    Case,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    IntegerField,
    Q,
    QuerySet,
    Sum,
    Value,
    When,
)
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import ApiKey, Membership, Team, TeamInvite

USAGE_DAYS = 30


# --- Teams --------------------------------------------------------------------------------


def memberships_for_user(*, user) -> QuerySet[Membership]:
    """The user's teams (as memberships), with each team's member count."""
    return (
        Membership.objects.filter(user=user)
        .select_related("team")
        .annotate(member_count=Count("team__memberships"))
        .order_by("team__name", "team_id")
    )


def membership_get(*, user, team_public_id) -> Membership:
    """The user's membership of a team, or Membership.DoesNotExist (a 404 for non-members)."""
    return Membership.objects.select_related("team", "user").get(
        user=user, team__public_id=team_public_id
    )


def team_members(*, team: Team) -> QuerySet[Membership]:
    role_order = {"owner": 0, "admin": 1, "member": 2}
    return (
        Membership.objects.filter(team=team)
        .select_related("user")
        .annotate(
            role_rank=Case(
                *[When(role=role, then=Value(rank)) for role, rank in role_order.items()],
                output_field=IntegerField(),
            )
        )
        .order_by("role_rank", "user__username")
    )


def team_member_get(*, team: Team, username: str) -> Membership:
    return Membership.objects.select_related("user", "team").get(team=team, user__username=username)


def team_invites_open(*, team: Team) -> QuerySet[TeamInvite]:
    """Invites that still work: not revoked, not expired, not used up."""
    return (
        TeamInvite.objects.filter(team=team, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .filter(Q(single_use=False) | Q(use_count=0))
        .select_related("created_by")
    )


def team_invite_get(*, team: Team, public_id) -> TeamInvite:
    return TeamInvite.objects.get(team=team, public_id=public_id)


def invite_get_by_token(*, token: str) -> TeamInvite | None:
    """The invite for a link if it can still be used, else None."""
    if not token or len(token) > 64:
        return None
    invite = TeamInvite.objects.select_related("team").filter(token=token).first()
    if invite is None or not invite.is_usable(timezone.now()):
        return None
    return invite


# --- API keys -----------------------------------------------------------------------------


def api_keys_for_user(*, user) -> QuerySet[ApiKey]:
    """Live keys first, newest first; revoked ones stay listed so their use can be traced."""
    return ApiKey.objects.filter(user=user).order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at", "-id"
    )


def api_key_get_for_user(*, user, public_id) -> ApiKey:
    """The user's own key, or ApiKey.DoesNotExist (another user's key is a 404)."""
    return ApiKey.objects.get(user=user, public_id=public_id)


# --- Usage --------------------------------------------------------------------------------


@dataclass(frozen=True)
class DayCount:
    day: dt.date
    images: int


@dataclass(frozen=True)
class UsageSummary:
    jobs: int
    succeeded: int
    failed: int
    canceled: int
    images: int
    avg_wait: dt.timedelta | None
    avg_run: dt.timedelta | None


@dataclass(frozen=True)
class MemberUsage:
    membership: Membership
    summary: UsageSummary


def _since(days: int) -> tuple[dt.date, dt.datetime]:
    today = timezone.now().date()
    first = today - dt.timedelta(days=days - 1)
    return first, dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)


def _jobs(*, user=None, team: Team | None = None):
    from generation.models import Job

    jobs = Job.objects.all()
    if user is not None:
        jobs = jobs.filter(user=user)
    if team is not None:
        jobs = jobs.filter(team=team)
    return jobs


def _images(*, user=None, team: Team | None = None):
    from generation.models import Image

    images = Image.objects.all()
    if user is not None:
        images = images.filter(user=user)
    if team is not None:
        images = images.filter(team=team)
    return images


def usage_images_per_day(*, user=None, team: Team | None = None, days: int = USAGE_DAYS):
    """Images made on each of the last `days` days (UTC, today last), zero days included.

    `user` alone: everything the user made; `team` alone: the team's images; both: one
    member's images in that team.
    """
    first, since = _since(days)
    rows = (
        _images(user=user, team=team)
        .filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(count=Count("id"))
        .order_by()
    )
    counts = {row["day"]: row["count"] for row in rows}
    return [
        DayCount(day=day, images=counts.get(day, 0))
        for day in (first + dt.timedelta(days=i) for i in range(days))
    ]


def _aggregates() -> dict:
    from generation.models import Job

    def counted(status=None):
        return Count("id", filter=Q(status=status) if status else None)

    return {
        "jobs": counted(),
        "succeeded": counted(Job.Status.SUCCEEDED),
        "failed": counted(Job.Status.FAILED),
        "canceled": counted(Job.Status.CANCELED),
        "images": Sum("n", filter=Q(status=Job.Status.SUCCEEDED)),
        # Wait: submitted → a worker started it; run: started → finished (succeeded jobs).
        "avg_wait": Avg(
            ExpressionWrapper(F("started_at") - F("created_at"), output_field=DurationField())
        ),
        "avg_run": Avg(
            ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()),
            filter=Q(status=Job.Status.SUCCEEDED),
        ),
    }


def _summary(values: dict) -> UsageSummary:
    return UsageSummary(
        jobs=values["jobs"] or 0,
        succeeded=values["succeeded"] or 0,
        failed=values["failed"] or 0,
        canceled=values["canceled"] or 0,
        images=values["images"] or 0,
        avg_wait=values["avg_wait"],
        avg_run=values["avg_run"],
    )


def usage_summary(*, user=None, team: Team | None = None, days: int = USAGE_DAYS) -> UsageSummary:
    """Jobs, failures, images and average queue wait / run time over the last `days` days."""
    _, since = _since(days)
    values = _jobs(user=user, team=team).filter(created_at__gte=since).aggregate(**_aggregates())
    return _summary(values)


def team_usage_by_member(*, team: Team, days: int = USAGE_DAYS) -> list[MemberUsage]:
    """One row per current member: their jobs in this team over the last `days` days."""
    from generation.models import Job

    _, since = _since(days)
    rows = (
        Job.objects.filter(team=team, created_at__gte=since)
        .values("user_id")
        .annotate(**_aggregates())
        .order_by()
    )
    by_user = {row["user_id"]: _summary(row) for row in rows}
    empty = _summary(dict.fromkeys(_aggregates()))
    return [
        MemberUsage(membership=m, summary=by_user.get(m.user_id, empty))
        for m in team_members(team=team)
    ]
