"""Reads for the usage pages: per day, summaries per user, team and member, per API key."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.db.models import Avg, Count, DurationField, ExpressionWrapper, F, Q, Sum, Value
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.models import ApiKey, Membership, Team
from accounts.selectors import team_members
from usage.models import LedgerEntry, Reservation

USAGE_DAYS = 30
PERIODS = (7, 30, 90)  # the windows the usage pages offer

Kind = LedgerEntry.Kind
Status = LedgerEntry.Status


@dataclass(frozen=True)
class DayUsage:
    day: dt.date
    images: int
    cost_micros: int


@dataclass(frozen=True)
class UsageSummary:
    jobs: int
    succeeded: int
    failed: int
    canceled: int
    images: int  # images delivered (units that succeeded)
    units: int  # units that count: calls made and billed, local images
    calls_refused: int  # calls the provider refused (not billed)
    cost_micros: int
    estimated_micros: int  # of which estimated (in flight, lost, carried over)
    avg_wait: dt.timedelta | None
    avg_run: dt.timedelta | None


@dataclass(frozen=True)
class MemberUsage:
    membership: Membership
    summary: UsageSummary


@dataclass(frozen=True)
class KeyUsage:
    key: ApiKey
    units: int
    images: int
    cost_micros: int
    last_used: dt.datetime | None


def period_bounds(days: int, now: dt.datetime | None = None) -> tuple[dt.date, dt.datetime]:
    """The first day of a `days`-day window ending today (UTC) and its midnight."""
    today = (now or timezone.now()).date()
    first = today - dt.timedelta(days=days - 1)
    return first, dt.datetime.combine(first, dt.time.min, tzinfo=dt.UTC)


def _scoped(model, *, user=None, team: Team | None = None, api_key: ApiKey | None = None):
    rows = model.objects.all()
    if user is not None:
        rows = rows.filter(user=user)
    if team is not None:
        rows = rows.filter(team=team)
    if api_key is not None:
        rows = rows.filter(api_key=api_key)
    return rows


def entries_for(*, user=None, team: Team | None = None, api_key: ApiKey | None = None):
    """Ledger rows of a scope: `user` alone, everything the user did; `team` alone, the team's
    work; both, one member's work in that team."""
    return _scoped(LedgerEntry, user=user, team=team, api_key=api_key)


def usage_per_day(
    *, user=None, team: Team | None = None, api_key: ApiKey | None = None, days: int = USAGE_DAYS
) -> list[DayUsage]:
    """Images (units that count) and cost on each of the last `days` UTC days, zero days
    included, today last. Corrections count on the day they were made."""
    first, since = period_bounds(days)
    rows = (
        entries_for(user=user, team=team, api_key=api_key)
        .filter(started_at__gte=since)
        .annotate(day=TruncDate("started_at"))
        .values("day")
        .annotate(
            images=Count("id", filter=Q(kind=Kind.WORK, counted=True)),
            cost=Coalesce(Sum("cost_micros"), Value(0)),
        )
        .order_by()
    )
    found = {row["day"]: row for row in rows}
    return [
        DayUsage(
            day=day,
            images=found[day]["images"] if day in found else 0,
            cost_micros=found[day]["cost"] if day in found else 0,
        )
        for day in (first + dt.timedelta(days=i) for i in range(days))
    ]


def _entry_aggregates() -> dict:
    work = Q(kind=Kind.WORK)
    return {
        "images": Count("id", filter=work & Q(status=Status.SUCCEEDED)),
        "units": Count("id", filter=work & Q(counted=True)),
        "calls_refused": Count("id", filter=work & Q(status=Status.REJECTED)),
        "cost_total": Coalesce(Sum("cost_micros"), Value(0)),
        "estimated_total": Coalesce(Sum("cost_micros", filter=Q(estimated=True)), Value(0)),
    }


def _job_aggregates() -> dict:
    def ended(outcome):
        return Count("id", filter=Q(outcome=outcome))

    return {
        "jobs": Count("id"),
        "succeeded": ended("succeeded"),
        "failed": ended("failed"),
        "canceled": ended("canceled"),
        # Wait: submitted → work started; run: work started → the job ended (succeeded ones).
        "avg_wait": Avg(
            ExpressionWrapper(F("first_started_at") - F("opened_at"), output_field=DurationField())
        ),
        "avg_run": Avg(
            ExpressionWrapper(F("closed_at") - F("first_started_at"), output_field=DurationField()),
            filter=Q(outcome="succeeded"),
        ),
    }


_EMPTY_ENTRIES = dict.fromkeys(_entry_aggregates(), 0)
_EMPTY_JOBS = {**dict.fromkeys(_job_aggregates(), 0), "avg_wait": None, "avg_run": None}


def _summary(entries: dict, jobs: dict) -> UsageSummary:
    return UsageSummary(
        jobs=jobs["jobs"] or 0,
        succeeded=jobs["succeeded"] or 0,
        failed=jobs["failed"] or 0,
        canceled=jobs["canceled"] or 0,
        avg_wait=jobs["avg_wait"],
        avg_run=jobs["avg_run"],
        images=entries["images"] or 0,
        units=entries["units"] or 0,
        calls_refused=entries["calls_refused"] or 0,
        cost_micros=entries["cost_total"] or 0,
        estimated_micros=entries["estimated_total"] or 0,
    )


def usage_summary(
    *, user=None, team: Team | None = None, api_key: ApiKey | None = None, days: int = USAGE_DAYS
) -> UsageSummary:
    """Jobs and how they ended, images, units, cost and average wait and run times over the
    last `days` days."""
    _, since = period_bounds(days)
    entries = (
        entries_for(user=user, team=team, api_key=api_key)
        .filter(started_at__gte=since)
        .aggregate(**_entry_aggregates())
    )
    jobs = (
        _scoped(Reservation, user=user, team=team, api_key=api_key)
        .filter(kind=Reservation.Kind.JOB, opened_at__gte=since)
        .aggregate(**_job_aggregates())
    )
    return _summary(entries, jobs)


def team_usage_by_member(*, team: Team, days: int = USAGE_DAYS) -> list[MemberUsage]:
    """One row per current member: their work in this team over the last `days` days."""
    _, since = period_bounds(days)
    entries = {
        row["user_id"]: row
        for row in entries_for(team=team)
        .filter(started_at__gte=since)
        .values("user_id")
        .annotate(**_entry_aggregates())
        .order_by()
    }
    jobs = {
        row["user_id"]: row
        for row in Reservation.objects.filter(
            team=team, kind=Reservation.Kind.JOB, opened_at__gte=since
        )
        .values("user_id")
        .annotate(**_job_aggregates())
        .order_by()
    }
    return [
        MemberUsage(
            membership=m,
            summary=_summary(
                entries.get(m.user_id, _EMPTY_ENTRIES), jobs.get(m.user_id, _EMPTY_JOBS)
            ),
        )
        for m in team_members(team=team)
    ]


def usage_by_key(*, user=None, team: Team | None = None, days: int = USAGE_DAYS) -> list[KeyUsage]:
    """Work done through each API key over the last `days` days, most expensive first."""
    _, since = period_bounds(days)
    rows = list(
        entries_for(user=user, team=team)
        .filter(started_at__gte=since, api_key__isnull=False)
        .values("api_key_id")
        .annotate(
            units=Count("id", filter=Q(kind=Kind.WORK, counted=True)),
            images=Count("id", filter=Q(kind=Kind.WORK, status=Status.SUCCEEDED)),
            cost=Coalesce(Sum("cost_micros"), Value(0)),
        )
        .order_by("-cost", "api_key_id")
    )
    keys = ApiKey.objects.select_related("user").in_bulk([row["api_key_id"] for row in rows])
    return [
        KeyUsage(
            key=keys[row["api_key_id"]],
            units=row["units"],
            images=row["images"],
            cost_micros=row["cost"],
            last_used=keys[row["api_key_id"]].last_used_at,
        )
        for row in rows
        if row["api_key_id"] in keys
    ]
