"""/v1/me: who the caller is, their team, their quota and usage today, and their budgets."""

from dataclasses import replace
from typing import Literal

from django.conf import settings
from ninja import Router, Schema

from accounts.models import Membership
from accounts.services import profile_for
from usage.models import amount
from usage.quotas import budgets_for, scope_usage, scopes_for

router = Router(tags=["accounts"])


class UserOut(Schema):
    username: str
    email: str
    is_staff: bool


class TeamOut(Schema):
    id: str
    name: str
    role: str


class QuotaOut(Schema):
    images_per_day: int
    images_today: int
    images_left: int
    concurrent_jobs: int
    active_jobs: int
    cost_today: float
    currency: str


class BudgetOut(Schema):
    scope: Literal["user", "team", "api_key"]
    amount: float
    spent: float
    left: float
    currency: str
    period: Literal["day", "month"]
    period_start: str
    resets_at: str
    soft_threshold_percent: int


class ApiKeyOut(Schema):
    id: str
    name: str
    prefix: str


class MeOut(Schema):
    user: UserOut
    team: TeamOut | None
    quota: QuotaOut
    api_key: ApiKeyOut | None = None
    budgets: list[BudgetOut] = []


@router.get(
    "/me",
    response=MeOut,
    url_name="me",
    summary="You: user, team, quota, usage and budgets",
    operation_id="accounts_api_me",  # kept from before usage/ existed: clients may know it
)
def me(request):
    user = request.auth
    profile = profile_for(user)
    team = profile.current_team
    role = (
        Membership.objects.filter(team=team, user=user).values_list("role", flat=True).first()
        if team
        else None
    )
    key = getattr(request, "api_key", None)
    scopes = scopes_for(user=user, profile=profile, api_key=key)
    mine = scope_usage(scopes[0])
    return {
        "user": {"username": user.get_username(), "email": user.email, "is_staff": user.is_staff},
        "team": (
            {"id": str(team.public_id), "name": team.name, "role": role or "member"}
            if team
            else None
        ),
        "quota": {
            "images_per_day": mine.scope.images_per_day,
            "images_today": mine.images_today,
            "images_left": mine.images_left,
            "concurrent_jobs": mine.scope.concurrent_jobs,
            "active_jobs": mine.active,
            "cost_today": float(amount(_cost_today(mine))),
            "currency": settings.USAGE_CURRENCY,
        },
        "api_key": (
            {"id": str(key.public_id), "name": key.name, "prefix": key.prefix} if key else None
        ),
        "budgets": [usage.budget_dict() for usage in budgets_for(scopes=scopes)],
    }


def _cost_today(usage) -> int:
    if usage.scope.budget_period == "day":
        return usage.spent_micros
    day = scope_usage(replace(usage.scope, budget_period="day"), now=usage.now)
    return day.spent_micros
