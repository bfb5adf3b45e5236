"""Quotas: the limits that apply to a piece of work and the one rule that counts against them.

Three scopes can limit one submission: the user (always: the site's defaults, the team's
per-member default, the user's own override), the team it is made in and the API key it came
through (when they have a Limit row). Every scope counts from the ledger alone:

- images today: work entries started since midnight UTC that count (started, succeeded,
  failed after the work, canceled after it started, lost), plus the images that open
  reservations hold but have not started yet;
- concurrency: open reservations (active jobs and synchronous waits);
- spend: the cost of the period's entries (corrections included) plus what open
  reservations still hold.
"""

from __future__ import annotations

import datetime as dt
import functools
from dataclasses import dataclass, field

from django.conf import settings
from django.db import connection
from django.db.models import Count, IntegerField, OuterRef, Q, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from accounts.models import ApiKey, Profile
from accounts.services import profile_for
from core.time import day_start, next_day_start
from usage.models import LedgerEntry, Limit, Reservation, amount, micros
from usage.periods import next_period_start, period_start, seconds_until_next
from usage.prices import money


class QuotaExceeded(Exception):
    """A limit refuses the work. The API answers `status` with `code` and Retry-After."""

    status = 429
    code = "quota_exceeded"

    def __init__(
        self, message: str, *, retry_after: int, limit: str = "", scope: str = "user"
    ) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after
        self.limit = limit
        self.scope = scope


class BudgetExceeded(QuotaExceeded):
    """The money budget of a scope would be passed: 402, until the period starts again."""

    status = 402
    code = "budget_exceeded"


@dataclass(frozen=True)
class Scope:
    """One scope's limits (None: no limit of that kind) and how its ledger rows are found."""

    kind: str  # "user", "team" or "api_key"
    label: str  # for messages: "You", "Team Studio", "API key ci"
    lookup: dict  # filter for LedgerEntry and Reservation rows: {"user_id": 3}
    images_per_day: int | None = None
    concurrent_jobs: int | None = None
    budget_micros: int | None = None
    budget_period: str = "month"
    soft_threshold_percent: int = 80
    limit: Limit | None = None


@dataclass(frozen=True)
class ScopeUsage:
    scope: Scope
    images_today: int
    active: int
    spent_micros: int  # in the current budget period
    now: dt.datetime = field(default_factory=timezone.now)

    @property
    def images_left(self) -> int | None:
        if self.scope.images_per_day is None:
            return None
        return max(0, self.scope.images_per_day - self.images_today)

    @property
    def budget_left_micros(self) -> int | None:
        if self.scope.budget_micros is None:
            return None
        return max(0, self.scope.budget_micros - self.spent_micros)

    @property
    def budget_percent(self) -> float | None:
        if not self.scope.budget_micros:
            return None
        return round(100 * self.spent_micros / self.scope.budget_micros, 1)

    @property
    def period_start(self) -> dt.datetime:
        return period_start(self.scope.budget_period, self.now)

    @property
    def resets_at(self) -> dt.datetime:
        return next_period_start(self.scope.budget_period, self.now)

    def budget_dict(self) -> dict | None:
        scope = self.scope
        if scope.budget_micros is None:
            return None
        return {
            "scope": scope.kind,
            "amount": float(amount(scope.budget_micros)),
            "spent": float(amount(self.spent_micros)),
            "left": float(amount(self.budget_left_micros)),
            "currency": settings.USAGE_CURRENCY,
            "period": scope.budget_period,
            "period_start": self.period_start.isoformat(),
            "resets_at": self.resets_at.isoformat(),
            "soft_threshold_percent": scope.soft_threshold_percent,
        }


def _user_limit(profile: Profile, name: str, default: int) -> int:
    """The user's override, else their current team's per-member default, else the site's."""
    for holder in (profile, profile.current_team):
        value = getattr(holder, name, None) if holder is not None else None
        if value is not None:
            return value
    return default


def _budget(limit: Limit | None, default=None) -> tuple[int | None, str, int]:
    if limit is not None and limit.budget is not None:
        return micros(limit.budget), limit.budget_period, limit.soft_threshold_percent
    if default is not None:
        return (
            micros(default),
            settings.USAGE_DEFAULT_BUDGET_PERIOD,
            settings.USAGE_SOFT_THRESHOLD_PERCENT,
        )
    return None, "month", settings.USAGE_SOFT_THRESHOLD_PERCENT


_CURRENT_TEAM = object()


def scopes_for(
    *,
    user,
    profile: Profile | None = None,
    team=_CURRENT_TEAM,
    api_key: ApiKey | None = None,
    lock: bool = False,
) -> list[Scope]:
    """The scopes that limit work by `user` in `team` (default: their current team) through
    `api_key`.

    With `lock`, the scope's Limit rows are locked (PostgreSQL) until the transaction ends, so
    two members of one team, or two requests on one key, check the team's or key's limits one
    at a time; the caller holds the user's profile lock (accounts.services.lock_user_profile).
    """
    profile = profile or profile_for(user)
    if team is _CURRENT_TEAM:
        team = profile.current_team
    wanted = Q(user=user)
    if team is not None:
        wanted |= Q(team=team)
    if api_key is not None:
        wanted |= Q(api_key=api_key)
    rows = Limit.objects.filter(wanted)
    if lock:
        rows = rows.select_for_update()
    limits = {row.scope: row for row in rows}

    user_limit = limits.get("user")
    budget, period, threshold = _budget(user_limit, settings.USAGE_DEFAULT_BUDGET)
    scopes = [
        Scope(
            kind="user",
            label="You",
            lookup={"user_id": user.pk},
            images_per_day=_user_limit(profile, "images_per_day", settings.QUOTA_IMAGES_PER_DAY),
            concurrent_jobs=_user_limit(profile, "concurrent_jobs", settings.QUOTA_CONCURRENT_JOBS),
            budget_micros=budget,
            budget_period=period,
            soft_threshold_percent=threshold,
            limit=user_limit,
        )
    ]
    for kind, holder in (("team", team), ("api_key", api_key)):
        row = limits.get(kind)
        if holder is not None and row is not None:
            scopes.append(limit_scope(row, holder=holder))
    return scopes


def limit_scope(row: Limit, *, holder=None) -> Scope:
    """The scope a team's or key's Limit row describes (for a user's row: its budget only)."""
    kind = row.scope
    holder = holder or getattr(row, kind)
    label = {
        "user": "You",
        "team": f"Team {getattr(holder, 'name', '')}",
        "api_key": f"API key {getattr(holder, 'name', '')}",
    }[kind]
    budget, period, threshold = _budget(row)
    return Scope(
        kind=kind,
        label=label,
        lookup={f"{kind}_id": holder.pk},
        images_per_day=None if kind == "user" else row.images_per_day,
        concurrent_jobs=None if kind == "user" else row.concurrent_jobs,
        budget_micros=budget,
        budget_period=period,
        soft_threshold_percent=threshold,
        limit=row,
    )


def team_scope(*, team) -> Scope | None:
    """The team's own scope (None when it has no Limit row)."""
    row = Limit.objects.filter(team=team).first()
    return limit_scope(row, holder=team) if row else None


def open_reservations(now: dt.datetime | None = None):
    """Reservations that hold a slot now: not closed, and (for waits) not expired."""
    now = now or timezone.now()
    return Reservation.objects.filter(closed_at__isnull=True).filter(
        Q(expires_at__isnull=True) | Q(expires_at__gt=now)
    )


def quota_annotations(*, user_ref: str) -> dict:
    """The rule above as per-row subqueries for lists of users (the admin's "Images today"
    and "Active jobs"; no query per row): units counted today, slots held now."""
    now = timezone.now()
    units = (
        LedgerEntry.objects.filter(
            user_id=OuterRef(user_ref),
            kind=LedgerEntry.Kind.WORK,
            counted=True,
            started_at__gte=day_start(now),
        )
        .order_by()
        .values("user_id")
        .annotate(total=Count("id"))
        .values("total")
    )
    active = (
        open_reservations(now)
        .filter(user_id=OuterRef(user_ref))
        .order_by()
        .values("user_id")
        .annotate(total=Count("id"))
        .values("total")
    )
    return {
        "images_today": Coalesce(Subquery(units, output_field=IntegerField()), Value(0)),
        "active_jobs": Coalesce(Subquery(active, output_field=IntegerField()), Value(0)),
    }


# Table and column names come from the models; every value is a parameter.
_USAGE_SQL = """
SELECT
  (SELECT COUNT(*) FROM {entries}
    WHERE {col} = %s AND kind = %s AND counted = %s AND started_at >= %s),
  (SELECT COALESCE(SUM(cost_micros), 0) FROM {entries} WHERE {col} = %s AND started_at >= %s),
  COUNT(*),
  COALESCE(SUM({pending}), 0),
  COALESCE(SUM(({pending}) * unit_micros), 0)
FROM {holds}{indexed_by}
WHERE {col} = %s AND closed_at IS NULL AND (expires_at IS NULL OR expires_at > %s)
"""
# SQLite's planner, without statistics, would read a scope's holds through the usage pages'
# index (every hold it ever had) instead of the partial index of open ones: name it.
_HOLD_INDEX = {"user": "reservation_open_user", "team": "reservation_open_team"}


@functools.cache
def _usage_sql(kind: str, vendor: str) -> str:
    index = _HOLD_INDEX.get(kind) if vendor == "sqlite" else None
    return _USAGE_SQL.format(
        entries=LedgerEntry._meta.db_table,
        holds=Reservation._meta.db_table,
        indexed_by=f" INDEXED BY {index}" if index else "",
        col=f"{kind}_id",
        pending="CASE WHEN images > images_started THEN images - images_started ELSE 0 END",
    )


def scope_usage(scope: Scope, *, now: dt.datetime | None = None) -> ScopeUsage:
    """What the scope has used, in one statement: units counted today and the period's cost
    from the ledger, and what its open reservations hold (slots, images, money).

    Every submission runs this once per scope, under the locks: it is written as one SQL
    statement (portable between SQLite and PostgreSQL) rather than two ORM aggregates, which
    cost more to build than to run (bench/ledger.py).
    """
    now = now or timezone.now()
    today = day_start(now)
    period = period_start(scope.budget_period, now)
    ((name, owner),) = scope.lookup.items()
    kind = name.removesuffix("_id")
    adapt = connection.ops.adapt_datetimefield_value
    with connection.cursor() as cursor:
        cursor.execute(
            _usage_sql(kind, connection.vendor),
            [
                owner,
                LedgerEntry.Kind.WORK.value,
                True,
                adapt(today),
                owner,
                adapt(period),
                owner,
                adapt(now),
            ],
        )
        units_today, cost, active, pending_images, pending_cost = cursor.fetchone()
    return ScopeUsage(
        scope=scope,
        images_today=int(units_today) + int(pending_images),
        active=int(active),
        spent_micros=int(cost) + int(pending_cost),
        now=now,
    )


def _owner(scope: Scope) -> str:
    return {"user": "You have", "team": f"{scope.label} has", "api_key": f"{scope.label} has"}[
        scope.kind
    ]


def _refusal(usage: ScopeUsage, *, images: int, cost_micros: int, slot: bool):
    """The exception that refuses this work in this scope, or None when it fits."""
    scope = usage.scope
    if slot and scope.concurrent_jobs is not None and usage.active >= scope.concurrent_jobs:
        if scope.kind == "user":
            message = (
                f"You already have {usage.active} jobs running or queued "
                f"(limit {scope.concurrent_jobs}). Wait for one to finish."
            )
        else:
            message = (
                f"{_owner(scope)} {usage.active} jobs running, queued or waited on "
                f"(limit {scope.concurrent_jobs}). Wait for one to finish."
            )
        return QuotaExceeded(message, retry_after=10, limit="concurrent_jobs", scope=scope.kind)
    if (
        images
        and scope.images_per_day is not None
        and usage.images_today + images > scope.images_per_day
    ):
        who = "" if scope.kind == "user" else f" of {scope.label}"
        return QuotaExceeded(
            f"Daily image quota{who} reached: {usage.images_today} of {scope.images_per_day} "
            f"images used today. The quota resets at midnight UTC.",
            retry_after=max(1, int((next_day_start(usage.now) - usage.now).total_seconds())),
            limit="images_per_day",
            scope=scope.kind,
        )
    if (
        cost_micros
        and scope.budget_micros is not None
        and usage.spent_micros + cost_micros > scope.budget_micros
    ):
        whose = {"user": "Your", "team": f"{scope.label}'s", "api_key": f"{scope.label}'s"}[
            scope.kind
        ]
        period = "day" if scope.budget_period == "day" else "month"
        return BudgetExceeded(
            f"{whose} budget of {money(amount(scope.budget_micros))} per {period} is used up: "
            f"{money(amount(usage.spent_micros))} spent, and this request needs "
            f"{money(amount(cost_micros))}. It starts again at "
            f"{usage.resets_at:%Y-%m-%d %H:%M} UTC.",
            retry_after=seconds_until_next(scope.budget_period, usage.now),
            limit="budget",
            scope=scope.kind,
        )
    return None


def quota_check(
    *,
    scopes: list[Scope],
    images: int = 0,
    cost_micros: int = 0,
    slot: bool = True,
    now: dt.datetime | None = None,
) -> list[ScopeUsage]:
    """Each scope's usage; QuotaExceeded (or BudgetExceeded) if this work would pass a limit.

    `slot`: the work needs a concurrency slot (a job, a synchronous wait). Call inside the
    transaction that records the work (usage.ledger does), so the check and the hold are one.
    """
    now = now or timezone.now()
    usages = [scope_usage(scope, now=now) for scope in scopes]
    for usage in usages:
        refusal = _refusal(usage, images=images, cost_micros=cost_micros, slot=slot)
        if refusal is not None:
            raise refusal
    return usages


def quota_preview(
    *, scopes: list[Scope], images: int, cost_micros: int
) -> tuple[list[ScopeUsage], QuotaExceeded | None]:
    """quota_check without raising, for estimates: (usages, the refusal or None)."""
    now = timezone.now()
    usages = [scope_usage(scope, now=now) for scope in scopes]
    for usage in usages:
        refusal = _refusal(usage, images=images, cost_micros=cost_micros, slot=True)
        if refusal is not None:
            return usages, refusal
    return usages, None


# --- The user's own quota, as the meter, /v1/me and the admin show it -----------------------


@dataclass(frozen=True)
class Quota:
    images_per_day: int
    concurrent_jobs: int
    images_today: int
    active_jobs: int

    @property
    def images_left(self) -> int:
        return max(0, self.images_per_day - self.images_today)

    @property
    def resets_at(self) -> dt.datetime:
        """When the daily image count starts again (midnight UTC)."""
        return next_day_start()


def quota_for(*, user, profile: Profile | None = None) -> Quota:
    """The user's own limits and usage (the user scope)."""
    profile = profile or profile_for(user)
    usage = scope_usage(scopes_for(user=user, profile=profile)[0])
    return Quota(
        images_per_day=usage.scope.images_per_day,
        concurrent_jobs=usage.scope.concurrent_jobs,
        images_today=usage.images_today,
        active_jobs=usage.active,
    )


def budgets_for(*, scopes: list[Scope]) -> list[ScopeUsage]:
    """The scopes that have a money budget, with what they spent: the team's first."""
    order = {"team": 0, "user": 1, "api_key": 2}
    with_budget = sorted(
        (scope for scope in scopes if scope.budget_micros is not None),
        key=lambda scope: order[scope.kind],
    )
    return [scope_usage(scope) for scope in with_budget]
