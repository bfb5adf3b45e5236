"""Template context: which backend is active (the demo banner), whether to blur held images
for this user (their profile's "show sensitive images"), and the nav's running-jobs count."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts.services import profile_for
from generation.selectors import jobs_active_count


def backend_info(request) -> dict:
    return {
        "active_backend": settings.QWEN_IMAGE_BACKEND,
        "demo_backend": settings.QWEN_IMAGE_BACKEND == "demo",
    }


def sensitive(request) -> dict:
    """`show_sensitive`: looked up only by pages that show held images (lazy)."""

    def show() -> bool:
        # Once per request: the Create feed renders each card as a template of its own.
        if not hasattr(request, "_show_sensitive"):
            user = getattr(request, "user", None)
            request._show_sensitive = bool(
                user and user.is_authenticated and profile_for(user).show_sensitive
            )
        return request._show_sensitive

    return {"show_sensitive": SimpleLazyObject(show)}


def nav_jobs(request) -> dict:
    """`nav_active_jobs`: the user's queued and running jobs (one indexed COUNT, lazily)."""

    def count() -> int:
        user = getattr(request, "user", None)
        return jobs_active_count(user=user) if user and user.is_authenticated else 0

    return {"nav_active_jobs": SimpleLazyObject(count)}
