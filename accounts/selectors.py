"""Reads for accounts: teams a user belongs to, members, invites, API keys."""

from django.db.models import (
    Case,
    Count,
    F,
    IntegerField,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from accounts.models import ApiKey, Membership, Team, TeamInvite

# --- Teams --------------------------------------------------------------------------------


def memberships_for_user(*, user) -> QuerySet[Membership]:
    """The user's teams (as memberships), with each team's member count."""
    return (
        Membership.objects.filter(user=user)
        .select_related("team")
        .annotate(member_count=Count("team__memberships"))
        .order_by("team__name", "team_id")
    )


def membership_get(*, user, team_public_id) -> Membership:
    """The user's membership of a team, or Membership.DoesNotExist (a 404 for non-members)."""
    return Membership.objects.select_related("team", "user").get(
        user=user, team__public_id=team_public_id
    )


def team_members(*, team: Team) -> QuerySet[Membership]:
    role_order = {"owner": 0, "admin": 1, "member": 2}
    return (
        Membership.objects.filter(team=team)
        .select_related("user")
        .annotate(
            role_rank=Case(
                *[When(role=role, then=Value(rank)) for role, rank in role_order.items()],
                output_field=IntegerField(),
            )
        )
        .order_by("role_rank", "user__username")
    )


def team_member_get(*, team: Team, username: str) -> Membership:
    return Membership.objects.select_related("user", "team").get(team=team, user__username=username)


def team_invites_open(*, team: Team) -> QuerySet[TeamInvite]:
    """Invites that still work: not revoked, not expired, not used up."""
    return (
        TeamInvite.objects.filter(team=team, revoked_at__isnull=True, expires_at__gt=timezone.now())
        .filter(Q(single_use=False) | Q(use_count=0))
        .select_related("created_by")
    )


def team_invite_get(*, team: Team, public_id) -> TeamInvite:
    return TeamInvite.objects.get(team=team, public_id=public_id)


def invite_get_by_token(*, token: str) -> TeamInvite | None:
    """The invite for a link if it can still be used, else None."""
    if not token or len(token) > 64:
        return None
    invite = TeamInvite.objects.select_related("team").filter(token=token).first()
    if invite is None or not invite.is_usable(timezone.now()):
        return None
    return invite


# --- API keys -----------------------------------------------------------------------------


def api_keys_for_user(*, user) -> QuerySet[ApiKey]:
    """Live keys first, newest first; revoked ones stay listed so their use can be traced."""
    return ApiKey.objects.filter(user=user).order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at", "-id"
    )


def api_key_get_for_user(*, user, public_id) -> ApiKey:
    """The user's own key, or ApiKey.DoesNotExist (another user's key is a 404)."""
    return ApiKey.objects.get(user=user, public_id=public_id)
