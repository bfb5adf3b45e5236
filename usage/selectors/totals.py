"""Ledger rows for the CSV exports, staff totals, storage."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from accounts.models import Team
from usage.models import LedgerEntry
from usage.selectors.summaries import entries_for

Kind = LedgerEntry.Kind
Status = LedgerEntry.Status


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
