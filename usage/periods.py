"""Budget periods: a UTC day or a UTC month, where each starts and when the next one does."""

import datetime as dt

from django.utils import timezone

from core.time import day_start, next_day_start


def period_start(period: str, now: dt.datetime | None = None) -> dt.datetime:
    now = now or timezone.now()
    if period == "month":
        return day_start(now).replace(day=1)
    return day_start(now)


def next_period_start(period: str, now: dt.datetime | None = None) -> dt.datetime:
    now = now or timezone.now()
    if period == "month":
        first = period_start("month", now)
        return (first + dt.timedelta(days=32)).replace(day=1)
    return next_day_start(now)


def seconds_until_next(period: str, now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    return max(1, int((next_period_start(period, now) - now).total_seconds()))
