"""Reads: which presets a user sees, may use and may manage."""

import uuid

from django.db.models import Q, QuerySet

from accounts.models import Membership
from generation.presets.models import Preset, PresetVersion

MANAGER_ROLES = (Membership.Role.OWNER, Membership.Role.ADMIN)


def _visible(user) -> Q:
    teams = Membership.objects.filter(user=user).values("team_id")
    return Q(user=user, team__isnull=True) | Q(team__in=teams)


def presets_visible_to(*, user) -> QuerySet[Preset]:
    """Personal presets of the user, and every preset of the teams the user belongs to now
    (pending ones included: their authors and the team's admins act on them)."""
    if not user.is_authenticated:
        return Preset.objects.none()
    return (
        Preset.objects.filter(_visible(user))
        .select_related("current", "team", "user")
        .order_by("team_id", "name", "id")
    )


def presets_usable_by(*, user, team=None) -> QuerySet[Preset]:
    """What the user may generate with: personal presets and approved ones of their teams
    (of `team` only, when given: the Create page offers the current team's)."""
    presets = presets_visible_to(user=user).filter(status=Preset.Status.APPROVED)
    if team is not None:
        presets = presets.filter(Q(team__isnull=True) | Q(team=team))
    return presets


def preset_get_for_user(*, user, public_id) -> Preset:
    """A preset the user sees, or Preset.DoesNotExist (another user's is not there)."""
    return presets_visible_to(user=user).get(public_id=public_id)


class PresetNotFound(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def preset_usable(*, user, ref: str) -> PresetVersion:
    """The current version of a preset the user may use, named by its id or by its name
    (personal first, then the user's teams); PresetNotFound says why not."""
    presets = presets_visible_to(user=user)
    ref = (ref or "").strip()
    try:
        matches = list(presets.filter(public_id=uuid.UUID(ref)))
    except ValueError:
        # No preset name holds a NUL (and PostgreSQL cannot even compare one): nothing matches.
        matches = [] if "\x00" in ref else list(presets.filter(name=ref))
        personal = [p for p in matches if p.team_id is None]
        matches = personal or matches
    if not matches:
        raise PresetNotFound(f"No preset {ref!r} that you may use.")
    if len(matches) > 1:
        raise PresetNotFound(f"More than one preset is called {ref!r}: give its id instead.")
    preset = matches[0]
    if preset.status != Preset.Status.APPROVED:
        raise PresetNotFound(f"The preset {preset.name!r} waits for a team admin's approval.")
    return preset.current


def team_role(*, user, team) -> str | None:
    if team is None or not user.is_authenticated:
        return None
    return Membership.objects.filter(user=user, team=team).values_list("role", flat=True).first()


def team_roles(*, user) -> dict[int, str]:
    """{team id: the user's role} for every team the user belongs to (one query)."""
    if not user.is_authenticated:
        return {}
    return dict(Membership.objects.filter(user=user).values_list("team_id", "role"))


def preset_can_manage(*, user, preset: Preset, roles: dict[int, str] | None = None) -> bool:
    """Change or delete: a personal preset's owner; for a team preset its author (while still
    a member) or the team's owners and admins. `roles`: team_roles(), for lists."""
    if preset.team_id is None:
        return preset.user_id == user.pk
    roles = team_roles(user=user) if roles is None else roles
    role = roles.get(preset.team_id)
    return role in MANAGER_ROLES or (role is not None and preset.user_id == user.pk)


def preset_can_approve(*, user, preset: Preset, roles: dict[int, str] | None = None) -> bool:
    """Approve: a waiting team preset, by the team's owners and admins."""
    if preset.team_id is None or preset.status != Preset.Status.PENDING:
        return False
    roles = team_roles(user=user) if roles is None else roles
    return roles.get(preset.team_id) in MANAGER_ROLES


def preset_rows(*, user) -> list[dict]:
    """The presets the user sees, each with what the user may do to it (two queries)."""
    roles = team_roles(user=user)
    return [
        {
            "preset": preset,
            "can_manage": preset_can_manage(user=user, preset=preset, roles=roles),
            "can_approve": preset_can_approve(user=user, preset=preset, roles=roles),
        }
        for preset in presets_visible_to(user=user)
    ]


def preset_versions(*, preset: Preset) -> QuerySet[PresetVersion]:
    return preset.versions.select_related("created_by").order_by("-number")
