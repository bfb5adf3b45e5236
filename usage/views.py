"""Usage pages: a user's own usage, and a team's per member (for team owners and admins)."""

from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from accounts.access import member_read, membership_read
from accounts.services import MANAGER_ROLES
from usage import selectors
from usage.charts import bar_chart


def _usage_context(*, user=None, team=None) -> dict:
    days = selectors.usage_images_per_day(user=user, team=team)
    return {
        "chart": bar_chart(days),
        "days": days,
        "summary": selectors.usage_summary(user=user, team=team),
        "period_days": selectors.USAGE_DAYS,
    }


@login_required
def usage(request):
    return render(request, "usage/usage.html", _usage_context(user=request.user))


@login_required
def team_usage(request, public_id):
    me = membership_read(request, public_id)
    if me.role not in MANAGER_ROLES:
        return render(request, "accounts/forbidden.html", {"team": me.team}, status=403)
    member = member_read(me, request.GET["member"]) if request.GET.get("member") else None
    context = _usage_context(user=member.user if member else None, team=me.team)
    context.update(
        {"team": me.team, "member": member, "rows": selectors.team_usage_by_member(team=me.team)}
    )
    return render(request, "usage/team_usage.html", context)
