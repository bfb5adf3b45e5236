"""Reads of the ledger for pages, exports and the API: per day, per member, per key, per job,
totals by backend, model and team. Everything counts from usage's own rows."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import (
    Avg,
    Count,
    DurationField,
    ExpressionWrapper,
    F,
    Q,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from accounts.models import ApiKey, Membership, Team
from accounts.selectors import team_members
from usage.models import LedgerEntry, Reservation, amount

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


# --- Jobs in the API ------------------------------------------------------------------------


@dataclass(frozen=True)
class JobUsage:
    units: int  # units that count (calls made and billed, local images)
    calls_refused: int
    in_flight: int
    megapixels: float
    steps: int
    cost_micros: int
    reserved_micros: int  # what is still held for images not started yet
    estimated: bool

    def as_api(self, currency: str) -> tuple[dict, dict]:
        usage = {
            "units": self.units,
            "calls_refused": self.calls_refused,
            "in_flight": self.in_flight,
            "megapixels": round(self.megapixels, 6),
            "steps": self.steps,
        }
        cost = {
            "amount": float(amount(self.cost_micros + self.reserved_micros)),
            "currency": currency,
            "estimated": self.estimated or self.in_flight > 0 or self.reserved_micros > 0,
        }
        return usage, cost


def usage_for_jobs(
    job_refs: Iterable[uuid.UUID], *, active_refs: Iterable[uuid.UUID] | None = None
) -> dict[uuid.UUID, JobUsage]:
    """Per job (by public id): what its units used and cost, in one query for any number (two
    when some are still active: `active_refs`, the jobs that may hold a reservation; None
    when the caller does not know)."""
    refs = list(job_refs)
    if not refs:
        return {}
    held_refs = refs if active_refs is None else list(active_refs)
    work = Q(kind=Kind.WORK)
    rows = {
        row["job_ref"]: row
        for row in LedgerEntry.objects.filter(job_ref__in=refs)
        .values("job_ref")
        .annotate(
            units=Count("id", filter=work & Q(counted=True)),
            refused=Count("id", filter=work & Q(status=Status.REJECTED)),
            in_flight=Count("id", filter=work & Q(status=Status.STARTED)),
            pixels=Coalesce(Sum(F("width") * F("height"), filter=work & Q(counted=True)), Value(0)),
            steps=Coalesce(Sum("steps", filter=work & Q(counted=True)), Value(0)),
            cost=Coalesce(Sum("cost_micros"), Value(0)),
            estimated=Count("id", filter=Q(estimated=True) & ~Q(cost_micros=0)),
        )
        .order_by()
    }
    held = (
        {
            row["job_ref"]: row
            for row in Reservation.objects.filter(
                job_ref__in=held_refs, kind=Reservation.Kind.JOB, closed_at__isnull=True
            ).values("job_ref", "images", "images_started", "unit_micros")
        }
        if held_refs
        else {}
    )
    result = {}
    for ref in refs:
        row = rows.get(ref)
        hold = held.get(ref)
        pending = max(0, hold["images"] - hold["images_started"]) if hold else 0
        result[ref] = JobUsage(
            units=row["units"] if row else 0,
            calls_refused=row["refused"] if row else 0,
            in_flight=row["in_flight"] if row else 0,
            megapixels=(row["pixels"] / 1_000_000) if row else 0.0,
            steps=row["steps"] if row else 0,
            cost_micros=row["cost"] if row else 0,
            reserved_micros=pending * hold["unit_micros"] if hold else 0,
            estimated=bool(row and row["estimated"]),
        )
    return result


# --- Exports and staff totals ---------------------------------------------------------------


def ledger_rows(
    *,
    since: dt.datetime,
    until: dt.datetime | None = None,
    user=None,
    team: Team | None = None,
) -> Iterator[LedgerEntry]:
    """Every ledger row of a scope in [since, until), oldest first, streamed."""
    rows = entries_for(user=user, team=team).filter(started_at__gte=since)
    if until is not None:
        rows = rows.filter(started_at__lt=until)
    return (
        rows.select_related("user", "team", "api_key")
        .order_by("started_at", "id")
        .iterator(chunk_size=2000)
    )


@dataclass(frozen=True)
class TotalRow:
    group: dict
    units: int
    images: int
    calls_refused: int
    megapixels: float
    cost_micros: int
    estimated_micros: int


def ledger_totals(
    *, since: dt.datetime, until: dt.datetime, by: tuple[str, ...] = ("backend", "model")
) -> list[TotalRow]:
    """Staff totals over [since, until), grouped by backend and model, or by team."""
    fields = {"backend": "backend", "model": "model", "team": "team__name"}
    names = [fields[name] for name in by]
    work = Q(kind=Kind.WORK)
    rows = (
        LedgerEntry.objects.filter(started_at__gte=since, started_at__lt=until)
        .values(*names)
        .annotate(
            units=Count("id", filter=work & Q(counted=True)),
            images=Count("id", filter=work & Q(status=Status.SUCCEEDED)),
            refused=Count("id", filter=work & Q(status=Status.REJECTED)),
            pixels=Coalesce(Sum(F("width") * F("height"), filter=work & Q(counted=True)), Value(0)),
            cost=Coalesce(Sum("cost_micros"), Value(0)),
            estimated=Coalesce(Sum("cost_micros", filter=Q(estimated=True)), Value(0)),
        )
        .order_by("-cost", *names)
    )
    return [
        TotalRow(
            group={name: row[field] for name, field in zip(by, names, strict=True)},
            units=row["units"],
            images=row["images"],
            calls_refused=row["refused"],
            megapixels=row["pixels"] / 1_000_000,
            cost_micros=row["cost"],
            estimated_micros=row["estimated"],
        )
        for row in rows
    ]


def storage_bytes(*, user=None, team: Team | None = None) -> int:
    """Bytes of storage recorded for a scope (usage.ledger.storage_record)."""
    return (
        entries_for(user=user, team=team)
        .filter(kind=Kind.STORAGE)
        .aggregate(total=Coalesce(Sum("storage_bytes"), Value(0)))["total"]
    )
