"""Template tags for usage: durations, and the quota meter shown on several pages."""

import datetime as dt

from django import template

from usage.quotas import quota_for

register = template.Library()


@register.filter
def duration(value: dt.timedelta | None) -> str:
    """A short human duration: "0.4 s", "12 s", "3 min 5 s", "2 h 10 min"; "—" for none."""
    if value is None:
        return "—"
    seconds = value.total_seconds()
    if seconds < 10:
        return f"{seconds:.1f} s"
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min"


@register.inclusion_tag("usage/_quota_meter.html", takes_context=True)
def quota_meter(context) -> dict:
    """The signed-in user's daily images and running jobs against their limits."""
    return {"quota": quota_for(user=context["request"].user)}
