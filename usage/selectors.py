"""Reads for usage: images per day, job summaries per user, team and member."""

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from accounts.models import Membership, Team
from accounts.selectors import team_members
from usage.sources import usage_source

USAGE_DAYS = 30


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
    jobs = usage_source().jobs()
    if user is not None:
        jobs = jobs.filter(user=user)
    if team is not None:
        jobs = jobs.filter(team=team)
    return jobs


def _images(*, user=None, team: Team | None = None):
    images = usage_source().images()
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
    source = usage_source()

    def counted(status=None):
        return Count("id", filter=Q(status=status) if status else None)

    return {
        "jobs": counted(),
        "succeeded": counted(source.succeeded),
        "failed": counted(source.failed),
        "canceled": counted(source.canceled),
        "images": Sum("n", filter=Q(status=source.succeeded)),
        # Wait: submitted → a worker started it; run: started → finished (succeeded jobs).
        "avg_wait": Avg(
            ExpressionWrapper(F("started_at") - F("created_at"), output_field=DurationField())
        ),
        "avg_run": Avg(
            ExpressionWrapper(F("finished_at") - F("started_at"), output_field=DurationField()),
            filter=Q(status=source.succeeded),
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
    _, since = _since(days)
    rows = (
        _jobs(team=team)
        .filter(created_at__gte=since)
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
