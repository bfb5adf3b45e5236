"""Writes and rules for accounts: sign-up, profiles, teams and invites."""

import datetime as dt
import logging
import secrets

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.db.models import F
from django.utils import timezone

from accounts import selectors
from accounts.models import Membership, Profile, Team, TeamInvite, TeamRemoval

logger = logging.getLogger(__name__)
Role = Membership.Role
MANAGER_ROLES = (Role.OWNER, Role.ADMIN)


def profile_for(user) -> Profile:
    """The user's profile (made on first use), with its current team loaded."""
    profile, _ = Profile.objects.select_related("current_team").get_or_create(user=user)
    return profile


def lock_user_profile(*, user) -> Profile:
    """Lock the profile row (PostgreSQL) so quota checks of one user run one at a time.

    On SQLite, IMMEDIATE transactions already serialise writers.
    """
    locked = Profile.objects.select_for_update(of=("self",)).select_related("current_team")
    try:
        return locked.get(user=user)
    except Profile.DoesNotExist:  # first use: make it, then lock it
        profile_for(user)
        return locked.get(user=user)


# --- Sign-up and profile ------------------------------------------------------------------


class SignupClosed(Exception):
    pass


def user_signup(*, username: str, email: str, password: str, invite: TeamInvite | None = None):
    """Create an account under the ACCOUNTS_SIGNUP rule; with an invite, join its team."""
    mode = settings.ACCOUNTS_SIGNUP
    if mode == "closed" or (mode == "invite" and invite is None):
        raise SignupClosed("Sign-up is closed." if mode == "closed" else "Sign-up needs an invite.")
    with transaction.atomic():
        user = get_user_model().objects.create_user(
            username=username, email=email, password=password
        )
        Profile.objects.create(user=user)
        if invite is not None:
            invite_accept(invite=invite, user=user)
    logger.info("user signed up", extra={"user_id": user.pk, "invited": invite is not None})
    return user


def profile_update(*, user, show_sensitive: bool) -> Profile:
    profile = profile_for(user)
    profile.show_sensitive = show_sensitive
    profile.save(update_fields=["show_sensitive"])
    return profile


# --- Teams --------------------------------------------------------------------------------


class TeamRuleError(Exception):
    """A team action the rules forbid (not a manager, last owner, expired invite …)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _require_manager(membership: Membership) -> None:
    if membership.role not in MANAGER_ROLES:
        raise TeamRuleError("Only the team's owners and admins can do that.")


def team_create(*, user, name: str) -> Team:
    """A new team with its creator as owner; it becomes the creator's current team."""
    with transaction.atomic():
        team = Team.objects.create(name=name.strip()[:100])
        Membership.objects.create(team=team, user=user, role=Role.OWNER)
        profile = profile_for(user)
        profile.current_team = team
        profile.save(update_fields=["current_team"])
    return team


def team_switch(*, user, team: Team) -> Profile:
    """Make `team` the user's current team (new jobs and team images go there)."""
    if not Membership.objects.filter(team=team, user=user).exists():
        raise TeamRuleError("You are not a member of that team.")
    profile = profile_for(user)
    profile.current_team = team
    profile.save(update_fields=["current_team"])
    return profile


def invite_create(
    *, by: Membership, role: str = Role.MEMBER, single_use: bool = True, days: int | None = None
) -> TeamInvite:
    _require_manager(by)
    if role not in (Role.MEMBER, Role.ADMIN):
        raise TeamRuleError("Invites can make members or admins; promote owners on the team page.")
    if role == Role.ADMIN and by.role != Role.OWNER:
        raise TeamRuleError("Only owners can invite admins.")
    days = days or settings.ACCOUNTS_INVITE_DAYS
    return TeamInvite.objects.create(
        team_id=by.team_id,
        token=secrets.token_urlsafe(24),
        role=role,
        single_use=single_use,
        created_by_id=by.user_id,
        expires_at=timezone.now() + dt.timedelta(days=max(1, min(days, 90))),
    )


def invite_revoke(*, by: Membership, invite: TeamInvite) -> TeamInvite:
    _require_manager(by)
    if invite.team_id != by.team_id:
        raise TeamRuleError("That invite belongs to another team.")
    if invite.role not in selectors.invite_roles_visible_to(by):
        raise TeamRuleError("Only owners can manage admin invites.")
    if invite.revoked_at is None:
        invite.revoked_at = timezone.now()
        invite.save(update_fields=["revoked_at"])
    return invite


def invite_accept(*, invite: TeamInvite, user) -> Membership:
    """Join the invite's team; counting the use and the check are one conditional UPDATE.

    The check is the whole rule (selectors.invites_live): not revoked, expired or used up,
    and its creator still in the team with the right to grant its role. Someone removed
    from the team after the link was made cannot use it to come back.
    """
    now = timezone.now()
    with transaction.atomic():
        existing = Membership.objects.filter(team_id=invite.team_id, user=user).first()
        if existing is not None:
            return existing
        if selectors.team_removed_since(
            team_id=invite.team_id, user=user, moment=invite.created_at
        ):
            raise TeamRuleError(
                "You were removed from this team after this link was made; ask an owner or "
                "admin for a new one."
            )
        live = selectors.invites_live(now).filter(pk=invite.pk)
        if TeamInvite.objects.filter(pk__in=live).update(use_count=F("use_count") + 1) != 1:
            raise TeamRuleError("This invite link has expired, was revoked or was already used.")
        membership = Membership.objects.create(team_id=invite.team_id, user=user, role=invite.role)
        profile = profile_for(user)
        if profile.current_team_id is None:
            profile.current_team_id = invite.team_id
            profile.save(update_fields=["current_team"])
    return membership


def _lock_owners(team_id: int) -> int:
    """Lock the team's owner rows (PostgreSQL; SQLite serialises writers) and count them."""
    return len(
        list(
            Membership.objects.select_for_update()
            .filter(team_id=team_id, role=Role.OWNER)
            .values_list("pk", flat=True)
        )
    )


def membership_set_role(*, by: Membership, membership: Membership, role: str) -> Membership:
    if by.role != Role.OWNER:
        raise TeamRuleError("Only owners can change roles.")
    if membership.team_id != by.team_id:
        raise TeamRuleError("That person is not in this team.")
    if role not in Role.values:
        raise TeamRuleError("Unknown role.")
    with transaction.atomic():
        owners = _lock_owners(membership.team_id)
        membership.refresh_from_db()
        if membership.role == Role.OWNER and role != Role.OWNER and owners <= 1:
            raise TeamRuleError("A team needs an owner: make someone else owner first.")
        membership.role = role
        membership.save(update_fields=["role"])
    return membership


def membership_remove(*, by: Membership, membership: Membership) -> None:
    """Leave (by is membership) or remove someone; owners and admins remove, never the last owner.

    Admins remove members only; owners remove anyone. Whoever leaves a team stops seeing its
    team images, and the team stops seeing theirs (selectors.team_shared_q); their current
    team moves to another of their teams, or none. Invite links they made stop working
    (their creator is no longer in the team); a removal is recorded, so links made before it
    do not let the removed person back in.
    """
    if membership.team_id != by.team_id:
        raise TeamRuleError("That person is not in this team.")
    leaving = membership.pk == by.pk
    if not leaving:
        _require_manager(by)
        if by.role == Role.ADMIN and membership.role != Role.MEMBER:
            raise TeamRuleError("Admins can remove members only; ask an owner.")
    with transaction.atomic():
        owners = _lock_owners(membership.team_id)
        membership.refresh_from_db()
        if membership.role == Role.OWNER and owners <= 1:
            raise TeamRuleError(
                "The last owner cannot leave: make someone else owner first."
                if leaving
                else "A team needs an owner."
            )
        membership.delete()
        if not leaving:
            TeamRemoval.objects.create(
                team_id=membership.team_id, user_id=membership.user_id, removed_by_id=by.user_id
            )
        next_team = (
            Membership.objects.filter(user_id=membership.user_id)
            .order_by("created_at")
            .values_list("team_id", flat=True)
            .first()
        )
        Profile.objects.filter(
            user_id=membership.user_id, current_team_id=membership.team_id
        ).update(current_team_id=next_team)
