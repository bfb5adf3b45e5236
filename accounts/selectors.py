"""Reads for accounts: teams a user belongs to, members, invites, API keys."""

from django.db.models import (
    Case,
    Count,
    Exists,
    F,
    IntegerField,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from accounts.models import ApiKey, Membership, Team, TeamInvite, TeamRemoval

Role = Membership.Role

# --- What "team" means on an object ---------------------------------------------------------
#
# An image, job or collection has an owner (`user`) and a team (`team`), stamped with the
# owner's current team whenever it is created or its visibility is set. "Team" visibility
# shares it with the members of that team *while its owner is one of them*: an owner who
# leaves (or is removed) takes their team objects out of the team at once, and brings them
# back if they rejoin; a deleted team leaves them with no team (only their owner sees them).
# docs/accounts.md, "What team means".


def user_team_ids(user) -> list[int]:
    """Ids of the teams the user belongs to (cached on the user object for the request)."""
    if user is None or not user.is_authenticated:
        return []
    cached = getattr(user, "_team_ids_cache", None)
    if cached is None:
        cached = list(user.memberships.values_list("team_id", flat=True))
        user._team_ids_cache = cached
    return cached


def owner_in_team_q(prefix: str = "") -> Exists:
    """The object's owner is a member of the object's team now (`prefix` reaches the object
    through a relation, e.g. "image__")."""
    return Exists(
        Membership.objects.filter(
            team_id=OuterRef(f"{prefix}team_id"), user_id=OuterRef(f"{prefix}user_id")
        )
    )


def team_shared_q(*, viewer, prefix: str = "") -> Q:
    """Objects whose team is one of the viewer's teams and whose owner still belongs to it;
    the visibility condition (team, or team and public) is the caller's."""
    return Q(**{f"{prefix}team_id__in": user_team_ids(viewer)}) & owner_in_team_q(prefix)


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


def invite_creator_may_grant_q() -> Q:
    """An invite works only while its creator is still in the team with the right to make
    what it grants: an owner for an admin link, an owner or admin for a member link. A
    creator who is removed, leaves or is demoted takes their links with them."""
    creator = Membership.objects.filter(
        team_id=OuterRef("team_id"), user_id=OuterRef("created_by_id")
    )
    return Exists(creator.filter(role=Role.OWNER)) | (
        Q(role=Role.MEMBER) & Exists(creator.filter(role__in=[Role.OWNER, Role.ADMIN]))
    )


def invites_live(now=None) -> QuerySet[TeamInvite]:
    """Invites that still work: not revoked, expired or used up, and their creator may
    still grant their role."""
    now = now or timezone.now()
    return TeamInvite.objects.filter(
        (Q(single_use=False) | Q(use_count=0)) & invite_creator_may_grant_q(),
        revoked_at__isnull=True,
        expires_at__gt=now,
    )


def invite_roles_visible_to(membership: Membership) -> list[str]:
    """Which invites a manager may see, copy and revoke: owners all, admins member links
    only (an admin link in an admin's hands would let them mint admins)."""
    if membership.role == Role.OWNER:
        return [Role.ADMIN, Role.MEMBER]
    if membership.role == Role.ADMIN:
        return [Role.MEMBER]
    return []


def team_invites_open(*, membership: Membership) -> QuerySet[TeamInvite]:
    """The team's live invites that this member may see (none for plain members)."""
    return (
        invites_live()
        .filter(team_id=membership.team_id, role__in=invite_roles_visible_to(membership))
        .select_related("created_by")
    )


def team_invite_get(*, membership: Membership, public_id) -> TeamInvite:
    """An invite of the member's team that their role lets them see, or DoesNotExist."""
    return TeamInvite.objects.get(
        team_id=membership.team_id,
        public_id=public_id,
        role__in=invite_roles_visible_to(membership),
    )


def invite_get_by_token(*, token: str) -> TeamInvite | None:
    """The invite for a link if it can still be used, else None."""
    if not token or len(token) > 64:
        return None
    return invites_live().select_related("team").filter(token=token).first()


def team_removed_since(*, team_id: int, user, moment) -> bool:
    """The user was removed from the team at or after `moment` (an invite's creation)."""
    return TeamRemoval.objects.filter(team_id=team_id, user=user, removed_at__gte=moment).exists()


# --- API keys -----------------------------------------------------------------------------


def api_keys_for_user(*, user) -> QuerySet[ApiKey]:
    """Live keys first, newest first; revoked ones stay listed so their use can be traced."""
    return ApiKey.objects.filter(user=user).order_by(
        F("revoked_at").desc(nulls_first=True), "-created_at", "-id"
    )


def api_key_get_for_user(*, user, public_id) -> ApiKey:
    """The user's own key, or ApiKey.DoesNotExist (another user's key is a 404)."""
    return ApiKey.objects.get(user=user, public_id=public_id)
