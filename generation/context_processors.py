"""Template context: which backend is active (the demo banner), and whether to blur held
images for this user (their profile's "show sensitive images")."""

from django.conf import settings
from django.utils.functional import SimpleLazyObject

from accounts.services import profile_for


def backend_info(request) -> dict:
    return {
        "active_backend": settings.QWEN_IMAGE_BACKEND,
        "demo_backend": settings.QWEN_IMAGE_BACKEND == "demo",
    }


def sensitive(request) -> dict:
    """`show_sensitive`: looked up only by pages that show held images (lazy)."""

    def show() -> bool:
        user = getattr(request, "user", None)
        return bool(user and user.is_authenticated and profile_for(user).show_sensitive)

    return {"show_sensitive": SimpleLazyObject(show)}
