"""Writes of the ledger: reserve work, record each unit as it starts, settle it when it ends.

Generation calls these (never the other way round): `job_reserve` inside the transaction that
creates or retries a job, `work_start` when a worker begins an attempt, `WorkMeter.settle`
when the attempt ends, `reservation_close` when the job ends, `wait_hold` around a synchronous
API wait, `work_reconcile` from the reaper. Jobs are referred to by their public id.
"""

from usage.ledger.corrections import CorrectionRefused, correction_record, storage_record
from usage.ledger.reservations import job_reserve, reservation_close, wait_hold
from usage.ledger.work import WorkMeter, work_reconcile, work_start

__all__ = [
    "CorrectionRefused",
    "WorkMeter",
    "correction_record",
    "job_reserve",
    "reservation_close",
    "storage_record",
    "wait_hold",
    "work_reconcile",
    "work_start",
]
