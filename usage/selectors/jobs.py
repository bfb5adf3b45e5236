"""Per job, for the API's `usage` and `cost` fields."""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, F, Q, Sum, Value
from django.db.models.functions import Coalesce

from usage.models import LedgerEntry, Reservation, amount

Kind = LedgerEntry.Kind
Status = LedgerEntry.Status


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
    job_refs: Iterable[uuid.UUID],
    *,
    active_refs: Iterable[uuid.UUID] | None = None,
    fresh: bool = False,
) -> dict[uuid.UUID, JobUsage]:
    """Per job (by public id): what its units used and cost, in one query for any number (two
    when some are still active: `active_refs`, the jobs that may hold a reservation; None
    when the caller does not know). `fresh`: the jobs were just created, no work yet."""
    refs = list(job_refs)
    if not refs:
        return {}
    held_refs = refs if active_refs is None else list(active_refs)
    work = Q(kind=Kind.WORK)
    rows = (
        {}
        if fresh
        else {
            row["job_ref"]: row
            for row in LedgerEntry.objects.filter(job_ref__in=refs)
            .values("job_ref")
            .annotate(
                units=Count("id", filter=work & Q(counted=True)),
                refused=Count("id", filter=work & Q(status=Status.REJECTED)),
                in_flight=Count("id", filter=work & Q(status=Status.STARTED)),
                pixels=Coalesce(
                    Sum(F("width") * F("height"), filter=work & Q(counted=True)), Value(0)
                ),
                steps=Coalesce(Sum("steps", filter=work & Q(counted=True)), Value(0)),
                cost=Coalesce(Sum("cost_micros"), Value(0)),
                estimated=Count("id", filter=Q(estimated=True) & ~Q(cost_micros=0)),
            )
            .order_by()
        }
    )
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
