"""Access helpers for generation pages: a job or image the user may see, or a 404 (never a 403
that tells a stranger it exists)."""

from django.http import Http404

from core.http import get_or_404
from generation import selectors
from generation.models import Image, Job


def job_read(request, public_id) -> Job:
    return get_or_404(
        lambda: selectors.job_get_for_user(user=request.user, public_id=public_id),
        "No such job.",
    )


def image_read(request, public_id) -> Image:
    return get_or_404(
        lambda: selectors.image_get_for_user(user=request.user, public_id=public_id),
        "No such image.",
    )


def staff_only(request) -> None:
    """Moderation pages: a 404, not a login page or a 403, for anybody but staff."""
    if not (request.user.is_authenticated and request.user.is_staff):
        raise Http404("No such page.")
