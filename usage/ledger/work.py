"""Units of work: one `started` entry per unit before an attempt runs, settled when it ends;
and the reaper's healing of what a crash left open."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from dataclasses import dataclass

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.db.models.functions import Coalesce
from django.utils import timezone

from usage import alerts
from usage.models import LedgerEntry, Reservation
from usage.prices import unit_price

Status = LedgerEntry.Status


@dataclass
class _Call:
    sent: bool = True
    ended: bool = False
    status: int | None = None
    ok: bool = False
    stopped: bool = False
    code: str = ""


class WorkMeter:
    """The units of one attempt of one job, from start to settlement.

    A backend that makes one upstream call per image (`per_call`) reports each call through
    `call_sending` / `call_ended`, from any thread; the worker's own thread settles them all
    at the end with `settle`. A backend that does the work itself (local, demo) reports
    nothing: its units share the attempt's outcome.
    """

    def __init__(
        self,
        *,
        job_ref: uuid.UUID,
        attempt: int,
        images: int,
        unit_micros: int,
        per_call: bool,
        scope_ids: dict,
    ) -> None:
        self.job_ref = job_ref
        self.attempt = attempt
        self.images = images
        self.unit_micros = unit_micros
        self.per_call = per_call
        self.scope_ids = scope_ids
        self.settled = False
        self._calls: dict[int, _Call] = {}
        self._lock = threading.Lock()

    # Called by the backend, from its worker threads.
    def call_sending(self, index: int) -> bool:
        """A call is about to leave; False once the attempt is settled (do not send it: the
        ledger has already said it was not sent)."""
        with self._lock:
            if self.settled:
                return False
            self._calls[index] = _Call()
            return True

    def call_ended(
        self,
        index: int,
        *,
        sent: bool,
        status: int | None = None,
        ok: bool = False,
        stopped: bool = False,
        code: str = "",
    ) -> None:
        with self._lock:
            call = self._calls.get(index)
            if call is None:
                if self.settled:
                    return  # refused by call_sending after the attempt was settled
                call = self._calls[index] = _Call()
            if call.ended:
                return
            call.sent, call.ended, call.status, call.ok = sent, True, status, ok
            call.stopped, call.code = stopped, code

    @property
    def calls_sent(self) -> int:
        with self._lock:
            return sum(1 for call in self._calls.values() if call.sent)

    def _unit(self, index: int, outcome: str, code: str, began: bool):
        """(status, error code, billed, estimated) of one unit."""
        ended_as = {
            "succeeded": Status.SUCCEEDED,
            "canceled": Status.CANCELED,
        }.get(outcome, Status.FAILED)
        job_code = "" if outcome in ("succeeded", "canceled") else code
        if not self.per_call:
            if not began and outcome != "succeeded":
                return Status.NOT_SENT, code, False, False
            return ended_as, job_code, True, False
        with self._lock:
            call = self._calls.get(index)
        if call is None:
            return Status.NOT_SENT, "", False, False
        if not call.ended:  # still on the wire when the attempt stopped: abandoned
            return ended_as if outcome == "canceled" else Status.FAILED, "abandoned", True, True
        if not call.sent:
            return Status.NOT_SENT, call.code, False, False
        if call.status is not None and call.status >= 300:
            return Status.REJECTED, call.code, False, False
        if call.ok:
            return ended_as, job_code, True, False
        if call.stopped:
            status = Status.CANCELED if outcome == "canceled" else Status.FAILED
            return status, "abandoned", True, True
        # Sent, then a timeout, a broken connection or an unusable answer: the provider may
        # well have done (and billed) the work. Without an answer, the cost is an estimate.
        return Status.FAILED, call.code, True, call.status is None

    def settle(self, *, outcome: str, code: str = "", began: bool = True) -> None:
        """Record how each unit of the attempt ended. `outcome`: succeeded, canceled, failed
        (with the job's error `code`) or lost_lease; `began`: the backend reported progress
        (for backends that report no calls: whether any work happened at all)."""
        with self._lock:
            if self.settled:
                return
            self.settled = True  # from now on no call may leave (call_sending says False)
        groups: dict[tuple, list[int]] = {}
        for index in range(self.images):
            groups.setdefault(self._unit(index, outcome, code, began), []).append(index)
        now = timezone.now()
        billed_any = False
        for (status, unit_code, billed, estimated), indexes in groups.items():
            billed_any |= billed
            LedgerEntry.objects.filter(
                kind=LedgerEntry.Kind.WORK,
                job_ref=self.job_ref,
                attempt=self.attempt,
                index__in=indexes,
                status=Status.STARTED,
            ).update(
                status=status,
                error_code=(unit_code or "")[:64],
                counted=status in LedgerEntry.COUNTED,
                cost_micros=self.unit_micros if billed else 0,
                estimated=estimated,
                settled_at=now,
            )
        if billed_any:
            alerts.budget_alerts_check(**self.scope_ids)


def work_start(
    *,
    job_ref: uuid.UUID,
    attempt: int,
    user_id: int,
    team_id: int | None,
    backend: str,
    model: str,
    width: int,
    height: int,
    steps: int,
    images: int,
    per_call: bool,
) -> WorkMeter:
    """Write one `started` entry per unit of this attempt before any of it runs, so work in
    flight counts (and a worker killed mid-call leaves its units counted, as `lost`)."""
    now = timezone.now()
    unit = unit_price(backend=backend, model=model, width=width, height=height, steps=steps)
    with transaction.atomic():
        # Units of earlier attempts still open: their worker died before settling them.
        LedgerEntry.objects.filter(
            kind=LedgerEntry.Kind.WORK,
            job_ref=job_ref,
            attempt__lt=attempt,
            status=Status.STARTED,
        ).update(status=Status.LOST, error_code="worker_lost", settled_at=now)
        held = (
            Reservation.objects.filter(
                kind=Reservation.Kind.JOB, job_ref=job_ref, closed_at__isnull=True
            )
            .values("pk", "user_id", "team_id", "api_key_id")
            .first()
        )
        scope_ids = {
            "user_id": held["user_id"] if held else user_id,
            "team_id": held["team_id"] if held else team_id,
            "api_key_id": held["api_key_id"] if held else None,
        }
        LedgerEntry.objects.bulk_create(
            [
                LedgerEntry(
                    kind=LedgerEntry.Kind.WORK,
                    job_ref=job_ref,
                    attempt=attempt,
                    index=index,
                    backend=backend,
                    model=model,
                    width=width,
                    height=height,
                    steps=steps,
                    status=Status.STARTED,
                    counted=True,
                    cost_micros=unit.unit_micros,
                    estimated=True,
                    started_at=now,
                    **scope_ids,
                )
                for index in range(images)
            ]
        )
        if held:
            Reservation.objects.filter(pk=held["pk"]).update(
                images_started=F("images_started") + images,
                first_started_at=Coalesce(F("first_started_at"), now),
            )
    return WorkMeter(
        job_ref=job_ref,
        attempt=attempt,
        images=images,
        unit_micros=unit.unit_micros,
        per_call=per_call,
        scope_ids=scope_ids,
    )


def work_reconcile(*, active_job_refs: set[uuid.UUID], as_of: dt.datetime) -> dict[str, int]:
    """Heal what a crash left open (called by the reaper with the jobs still queued or running
    as of `as_of`): holds of jobs that ended, expired waits, and in-flight units of jobs that
    ended more than a lease ago (settled as `lost`, still counted)."""
    now = timezone.now()
    margin = dt.timedelta(seconds=settings.USAGE_RECONCILE_MARGIN_SECONDS)
    open_jobs = Reservation.objects.filter(
        kind=Reservation.Kind.JOB, closed_at__isnull=True, opened_at__lt=as_of - margin
    ).values_list("pk", "job_ref")
    ended = [pk for pk, ref in open_jobs if ref not in active_job_refs]
    closed = Reservation.objects.filter(pk__in=ended, closed_at__isnull=True).update(
        closed_at=now, outcome="reconciled"
    )
    expired = Reservation.objects.filter(
        kind=Reservation.Kind.WAIT, closed_at__isnull=True, expires_at__lt=now
    ).update(closed_at=now, outcome="expired")
    lease = dt.timedelta(seconds=settings.GENERATION_LEASE_SECONDS)
    in_flight = LedgerEntry.objects.filter(
        kind=LedgerEntry.Kind.WORK, status=Status.STARTED, started_at__lt=as_of - lease
    ).values_list("pk", "job_ref")
    lost_ids = [pk for pk, ref in in_flight if ref not in active_job_refs]
    lost = LedgerEntry.objects.filter(pk__in=lost_ids, status=Status.STARTED).update(
        status=Status.LOST, error_code="worker_lost", settled_at=now
    )
    return {"closed": closed, "expired": expired, "lost": lost}
