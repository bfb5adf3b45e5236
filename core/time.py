"""Time helpers: the day boundaries that quotas and usage pages agree on (UTC)."""

import datetime as dt

from django.utils import timezone


def day_start(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight (UTC) at the start of `now`'s day."""
    now = now or timezone.now()
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def next_day_start(now: dt.datetime | None = None) -> dt.datetime:
    """Midnight (UTC) at the end of `now`'s day: when daily counts start again."""
    return day_start(now) + dt.timedelta(days=1)
