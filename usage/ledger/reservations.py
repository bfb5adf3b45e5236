"""Reservations: the limits check and the hold of a job or a synchronous wait, in one
transaction."""

from __future__ import annotations

import contextlib
import datetime as dt
import uuid
from collections.abc import Iterator

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey, Profile, Team
from accounts.services import lock_user_profile
from usage import alerts
from usage.models import Reservation
from usage.prices import unit_price
from usage.quotas import quota_check, scopes_for


def _require_transaction() -> None:
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("Reserve inside the transaction that records the work.")


def job_reserve(
    *,
    user,
    profile: Profile,
    team: Team | None,
    job_ref: uuid.UUID,
    backend: str,
    model: str,
    width: int,
    height: int,
    steps: int,
    images: int,
    api_key: ApiKey | None = None,
    replace: bool = False,
) -> Reservation:
    """Check every limit of the work and hold what it needs, or raise QuotaExceeded.

    `team`: the team the job's work belongs to; `replace`: the job may have held a reservation
    before (a retry). Call inside the transaction that creates (or
    re-queues) the job, after
    accounts.services.lock_user_profile: the user's submissions are checked one at a time
    (that row lock on PostgreSQL, IMMEDIATE transactions on SQLite) and the scopes' Limit rows
    are locked here, so racing submissions can never both pass a limit that fits one.
    """
    _require_transaction()
    now = timezone.now()
    unit = unit_price(backend=backend, model=model, width=width, height=height, steps=steps)
    cost = unit.unit_micros * images
    scopes = scopes_for(user=user, profile=profile, team=team, api_key=api_key, lock=True)
    usages = quota_check(scopes=scopes, images=images, cost_micros=cost, now=now)
    if replace:  # one open hold per job: a retry replaces whatever an earlier run left open
        Reservation.objects.filter(
            kind=Reservation.Kind.JOB, job_ref=job_ref, closed_at__isnull=True
        ).update(closed_at=now, outcome="replaced")
    reservation = Reservation.objects.create(
        kind=Reservation.Kind.JOB,
        user=user,
        team=team,
        api_key=api_key,
        job_ref=job_ref,
        images=images,
        unit_micros=unit.unit_micros,
        opened_at=now,
    )
    alerts.budget_alerts_after(usages, added_micros=cost)
    return reservation


def reservation_close(*, job_ref: uuid.UUID, outcome: str) -> None:
    """The job ended (succeeded, failed, canceled): its hold is released."""
    Reservation.objects.filter(
        kind=Reservation.Kind.JOB, job_ref=job_ref, closed_at__isnull=True
    ).update(closed_at=timezone.now(), outcome=outcome[:16])


@contextlib.contextmanager
def wait_hold(
    *, user, job_ref: uuid.UUID, seconds: float, api_key: ApiKey | None = None
) -> Iterator[Reservation]:
    """A concurrency slot for a web thread that waits on a job it did not create (an
    Idempotency-Key replay): QuotaExceeded when none is free. Released on return; a process
    killed mid-wait loses its slot at `expires_at`."""
    now = timezone.now()
    with transaction.atomic():
        profile = lock_user_profile(user=user)
        scopes = scopes_for(user=user, profile=profile, api_key=api_key, lock=True)
        quota_check(scopes=scopes, slot=True, now=now)
        hold = Reservation.objects.create(
            kind=Reservation.Kind.WAIT,
            user=user,
            team=profile.current_team,
            api_key=api_key,
            job_ref=job_ref,
            opened_at=now,
            expires_at=now + dt.timedelta(seconds=seconds + settings.USAGE_WAIT_GRACE_SECONDS),
        )
    try:
        yield hold
    finally:
        Reservation.objects.filter(pk=hold.pk, closed_at__isnull=True).update(
            closed_at=timezone.now(), outcome="returned"
        )
