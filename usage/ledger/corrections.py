"""Corrections (new rows with an amount and a reason; the ledger is never edited) and storage
changes."""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.utils import timezone

from usage import alerts
from usage.models import LedgerEntry, micros

Status = LedgerEntry.Status


class CorrectionRefused(ValueError):
    pass


def correction_record(
    *,
    by,
    amount: Decimal,
    reason: str,
    entry: LedgerEntry | None = None,
    user=None,
    team=None,
) -> LedgerEntry:
    """A correction: a new row with a (positive or negative) amount and a reason; the ledger
    itself is never edited. Given an entry, the correction belongs to the same scope and job."""
    reason = (reason or "").strip()
    if not reason:
        raise CorrectionRefused("A correction needs a reason.")
    if entry is None and user is None and team is None:
        raise CorrectionRefused("Say which entry, user or team the correction is for.")
    now = timezone.now()
    scope = (
        {
            "user_id": entry.user_id,
            "team_id": entry.team_id,
            "api_key_id": entry.api_key_id,
            "job_ref": entry.job_ref,
            "backend": entry.backend,
            "model": entry.model,
        }
        if entry is not None
        else {"user": user, "team": team}
    )
    correction = LedgerEntry.objects.create(
        kind=LedgerEntry.Kind.CORRECTION,
        status=Status.RECORDED,
        counted=False,
        cost_micros=micros(amount),
        estimated=False,
        reason=reason[:2000],
        corrects=entry,
        created_by=by,
        started_at=now,
        settled_at=now,
        **scope,
    )
    if correction.cost_micros > 0:  # a charge can cross a budget threshold
        alerts.budget_alerts_check(
            user_id=correction.user_id,
            team_id=correction.team_id,
            api_key_id=correction.api_key_id,
        )
    return correction


def storage_record(
    *,
    user_id: int | None,
    team_id: int | None,
    bytes_delta: int,
    job_ref: uuid.UUID | None = None,
    reason: str = "",
) -> LedgerEntry:
    """Bytes of storage added (+) or freed (-) for a user and team: the service retention
    (issue 20) records stored images and deletions with; usage.selectors.storage_bytes sums
    it. Costs nothing until a storage price exists."""
    now = timezone.now()
    return LedgerEntry.objects.create(
        kind=LedgerEntry.Kind.STORAGE,
        status=Status.RECORDED,
        counted=False,
        user_id=user_id,
        team_id=team_id,
        job_ref=job_ref,
        storage_bytes=int(bytes_delta),
        estimated=False,
        reason=reason[:2000],
        started_at=now,
        settled_at=now,
    )
