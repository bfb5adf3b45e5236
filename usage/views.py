"""Usage pages: your own usage, a team's (per member and per key, for its owners and admins),
and their CSV exports."""

import datetime as dt

from django.contrib.auth.decorators import login_required
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from accounts.access import member_read, membership_read
from accounts.models import Membership
from accounts.services import MANAGER_ROLES, profile_for
from usage import selectors
from usage.charts import bar_chart
from usage.exports import csv_response
from usage.quotas import budgets_for, scopes_for, team_scope


def _days(request) -> int:
    try:
        days = int(request.GET.get("days", selectors.USAGE_DAYS))
    except ValueError:
        return selectors.USAGE_DAYS
    return days if days in selectors.PERIODS else selectors.USAGE_DAYS


def _usage_context(*, user=None, team=None, days: int) -> dict:
    per_day = selectors.usage_per_day(user=user, team=team, days=days)
    return {
        "days": per_day,
        "cost_chart": bar_chart(per_day, measure="cost"),
        "images_chart": bar_chart(per_day, measure="images"),
        "summary": selectors.usage_summary(user=user, team=team, days=days),
        "period_days": days,
        "periods": selectors.PERIODS,
    }


def _manager_membership(request, public_id) -> tuple[Membership, object]:
    """(membership, None) for a team owner or admin; (membership, 403 page) for a member;
    a 404 for anyone outside the team."""
    me = membership_read(request, public_id)
    if me.role not in MANAGER_ROLES:
        return me, render(request, "accounts/forbidden.html", {"team": me.team}, status=403)
    return me, None


@login_required
@require_GET
def usage(request):
    days = _days(request)
    profile = profile_for(request.user)
    context = _usage_context(user=request.user, days=days)
    context.update(
        {
            "keys": selectors.usage_by_key(user=request.user, days=days),
            "budgets": budgets_for(scopes=scopes_for(user=request.user, profile=profile)),
            "team": profile.current_team,
            "export_url": reverse("usage-export"),
        }
    )
    return render(request, "usage/usage.html", context)


@login_required
@require_GET
def team_usage(request, public_id):
    me, refused = _manager_membership(request, public_id)
    if refused:
        return refused
    member = member_read(me, request.GET["member"]) if request.GET.get("member") else None
    days = _days(request)
    context = _usage_context(user=member.user if member else None, team=me.team, days=days)
    scope = team_scope(team=me.team)
    context.update(
        {
            "team": me.team,
            "member": member,
            "rows": selectors.team_usage_by_member(team=me.team, days=days),
            "keys": selectors.usage_by_key(
                user=member.user if member else None, team=me.team, days=days
            ),
            "budgets": budgets_for(scopes=[scope] if scope else []),
            "export_url": reverse("team-usage-export", args=[me.team.public_id]),
        }
    )
    return render(request, "usage/team_usage.html", context)


def _since(days: int) -> dt.datetime:
    return selectors.period_bounds(days)[1]


def _stamp() -> str:
    return timezone.now().strftime("%Y%m%d")


@login_required
@require_GET
def usage_export(request):
    """Your ledger rows of the chosen period as CSV."""
    days = _days(request)
    rows = selectors.ledger_rows(since=_since(days), user=request.user)
    return csv_response(rows, filename=f"usage-{request.user.get_username()}-{_stamp()}.csv")


@login_required
@require_GET
def team_usage_export(request, public_id):
    """The team's ledger rows (or one member's, with ?member=) as CSV, for owners and admins."""
    me, refused = _manager_membership(request, public_id)
    if refused:
        return refused
    member = member_read(me, request.GET["member"]) if request.GET.get("member") else None
    days = _days(request)
    rows = selectors.ledger_rows(
        since=_since(days), team=me.team, user=member.user if member else None
    )
    return csv_response(rows, filename=f"team-usage-{me.team.public_id}-{_stamp()}.csv")
