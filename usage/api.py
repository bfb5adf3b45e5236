"""/v1/me: who the caller is, their team, and their quota and usage today."""

from ninja import Router, Schema

from accounts.models import Membership
from accounts.services import profile_for
from usage.quotas import quota_for

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


class ApiKeyOut(Schema):
    id: str
    name: str
    prefix: str


class MeOut(Schema):
    user: UserOut
    team: TeamOut | None
    quota: QuotaOut
    api_key: ApiKeyOut | None = None


@router.get(
    "/me",
    response=MeOut,
    url_name="me",
    summary="You: user, team, quota and usage",
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
    quota = quota_for(user=user, profile=profile)
    key = getattr(request, "api_key", None)
    return {
        "user": {"username": user.get_username(), "email": user.email, "is_staff": user.is_staff},
        "team": (
            {"id": str(team.public_id), "name": team.name, "role": role or "member"}
            if team
            else None
        ),
        "quota": {
            "images_per_day": quota.images_per_day,
            "images_today": quota.images_today,
            "images_left": quota.images_left,
            "concurrent_jobs": quota.concurrent_jobs,
            "active_jobs": quota.active_jobs,
        },
        "api_key": (
            {"id": str(key.public_id), "name": key.name, "prefix": key.prefix} if key else None
        ),
    }
