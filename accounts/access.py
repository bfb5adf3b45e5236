"""Access helpers for account pages: a team or member the user may see, or a 404 (never a 403
that tells a stranger the team exists)."""

from accounts import selectors
from accounts.models import Membership
from core.http import get_or_404


def membership_read(request, public_id) -> Membership:
    """The signed-in user's membership of a team."""
    return get_or_404(
        lambda: selectors.membership_get(user=request.user, team_public_id=public_id),
        "No such team.",
    )


def member_read(me: Membership, username: str) -> Membership:
    """Another member of `me`'s team."""
    return get_or_404(
        lambda: selectors.team_member_get(team=me.team, username=username), "No such member."
    )
