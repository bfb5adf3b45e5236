"""Time helpers: the day boundaries that quotas and usage pages agree on (UTC)."""

import datetime as dt
import re

from django.utils import timezone


def day_start(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight (UTC) at the start of `now`'s day."""
    now = now or timezone.now()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def next_day_start(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight (UTC) at the end of `now`'s day: when daily counts start again."""
    return day_start(now) + dt.timedelta(days=1)


# --- Dates in query strings, parsed exactly as the OpenAPI document states them -------------
# RFC 3339 `full-date` and `date-time` (what JSON Schema's "date" and "date-time" formats
# mean, as the rfc3339-validator that jsonschema uses reads them): no Unix timestamps, no
# dates without an offset, an upper-case T and Z, ASCII digits only.

_DATE = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$")
_DATETIME = re.compile(
    r"^([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})(\.[0-9]+)?"
    r"(Z|[+-][0-9]{2}:[0-9]{2})$"
)
_UTC_MIN = dt.datetime.min.replace(tzinfo=dt.UTC)
_UTC_MAX = dt.datetime.max.replace(tzinfo=dt.UTC)


def iso_date(value):
    """A `full-date` string (2025-01-31) as a date; dates pass through; ValueError otherwise."""
    if isinstance(value, dt.date) and not isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str) or not _DATE.match(value):
        raise ValueError("Use a date like 2025-01-31.")
    return dt.date.fromisoformat(value)


def rfc3339_datetime(value):
    """An RFC 3339 `date-time` string as an aware datetime in UTC (clamped to the range
    Python can hold); aware datetimes pass through; ValueError otherwise."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        moment = value
    else:
        match = _DATETIME.match(value) if isinstance(value, str) else None
        if match is None:
            raise ValueError("Use a date-time like 2025-01-31T12:00:00Z (RFC 3339, with offset).")
        day, clock, fraction, offset = match.groups()
        fraction = (fraction or "")[:7]  # the dot and at most 6 digits
        offset = "+00:00" if offset == "Z" else offset
        hours, minutes = int(offset[1:3]), int(offset[4:6])
        if hours > 23 or minutes > 59:
            raise ValueError("The UTC offset is out of range.")
        moment = dt.datetime.fromisoformat(f"{day}T{clock}{fraction}{offset}")
    try:
        return moment.astimezone(dt.UTC)
    except OverflowError:  # 0001-01-01T00:00:00+01:00 and the like: before any row anyway
        return _UTC_MIN if moment.utcoffset() > dt.timedelta(0) else _UTC_MAX
