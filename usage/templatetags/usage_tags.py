"""Template tags for usage: durations, money, the quota meter and the budget bar."""

import datetime as dt

from django import template
from django.conf import settings

from accounts.services import profile_for
from usage.models import amount
from usage.prices import money as money_text
from usage.prices import price_for, price_summary
from usage.quotas import ScopeUsage, budgets_for, quota_for, scope_usage, scopes_for

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


@register.filter
def money(value_micros: int | None) -> str:
    """Millionths of the currency as money for people: 420000 → "$0.42"."""
    return money_text(amount(value_micros or 0))


@register.filter
def budget_label(usage: ScopeUsage) -> str:
    scope = usage.scope
    return {"user": "Your budget", "team": f"{scope.label} budget", "api_key": scope.label}[
        scope.kind
    ]


@register.filter
def soft_micros(usage: ScopeUsage) -> int:
    return (usage.scope.budget_micros or 0) * usage.scope.soft_threshold_percent // 100


@register.inclusion_tag("usage/_quota_meter.html", takes_context=True)
def quota_meter(context) -> dict:
    """The signed-in user's daily images and running jobs against their limits."""
    return {"quota": quota_for(user=context["request"].user)}


@register.inclusion_tag("usage/_budget_bar.html", takes_context=True)
def budget_bar(context) -> dict:
    """The Create page's one usage box: the team's (else the user's) budget spent this period
    (what today cost when no budget applies), the daily image quota, and the estimate of the
    form's request (budget.js keeps it current through POST /v1/estimates; without
    JavaScript the price rule shows)."""
    user = context["request"].user
    profile = profile_for(user)
    scopes = scopes_for(user=user, profile=profile)
    budgets = budgets_for(scopes=scopes)
    price = price_for(backend=settings.QWEN_IMAGE_BACKEND, model=settings.QWEN_IMAGE_MODEL)
    return {
        "budgets": budgets,
        "today": None if budgets else scope_usage(scopes[0]),
        "quota": quota_for(user=user),
        "price_text": price_summary(price),
    }
