"""Reads of the ledger for pages, exports and the API: per day, per member, per key, per job,
totals by backend, model and team. Everything counts from usage's own rows."""

from usage.selectors.jobs import JobUsage, usage_for_jobs
from usage.selectors.summaries import (
    PERIODS,
    USAGE_DAYS,
    DayUsage,
    KeyUsage,
    MemberUsage,
    UsageSummary,
    entries_for,
    period_bounds,
    team_usage_by_member,
    usage_by_key,
    usage_per_day,
    usage_summary,
)
from usage.selectors.totals import TotalRow, ledger_rows, ledger_totals, storage_bytes

__all__ = [
    "PERIODS",
    "USAGE_DAYS",
    "DayUsage",
    "JobUsage",
    "KeyUsage",
    "MemberUsage",
    "TotalRow",
    "UsageSummary",
    "entries_for",
    "ledger_rows",
    "ledger_totals",
    "period_bounds",
    "storage_bytes",
    "team_usage_by_member",
    "usage_by_key",
    "usage_for_jobs",
    "usage_per_day",
    "usage_summary",
]
