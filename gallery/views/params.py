"""Reading what the gallery's forms and links send: id lists, link expiry, the page's URL."""

import datetime as dt
import uuid

from accounts.services import profile_for
from generation.models import Visibility

MAX_IDS = 500
SHARE_EXPIRY_CHOICES = [
    ("", "Never"),
    ("3600", "In 1 hour"),
    ("86400", "In 1 day"),
    ("604800", "In 7 days"),
    ("2592000", "In 30 days"),
]


def uuid_list(values: list[str]) -> list[uuid.UUID]:
    """Ids from repeated fields or comma-separated ones; anything that is not a UUID is skipped."""
    ids = []
    for value in values[:MAX_IDS]:
        for part in value.split(","):
            try:
                ids.append(uuid.UUID(part.strip()))
            except ValueError:
                continue
    return ids


def share_expiry(request) -> dt.timedelta | None:
    """The lifetime picked in a share form; an unknown choice means a link that never expires."""
    seconds = request.POST.get("expires", "")
    allowed = {value for value, _ in SHARE_EXPIRY_CHOICES if value}
    return dt.timedelta(seconds=int(seconds)) if seconds in allowed else None


def current_url(request) -> str:
    """Where forms on this page return to (without the infinite-scroll fragment flag)."""
    query = request.GET.copy()
    query.pop("partial", None)
    return f"{request.path}?{query.urlencode()}" if query else request.path


def visibility_choices(user) -> list[tuple[str, str]]:
    """The visibility options, "Team" naming the team it means: the user's current team (the
    one team rule, docs/accounts.md), or saying plainly that without one it is only them."""
    team = profile_for(user).current_team if user.is_authenticated else None
    team_label = f"Team: members of {team.name}" if team else "Team (you are in no team: only you)"
    labels = {Visibility.TEAM: team_label}
    return [(value, labels.get(value, label)) for value, label in Visibility.choices]
