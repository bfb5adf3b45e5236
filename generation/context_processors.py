"""Template context: which backend is active (the demo banner)."""

from django.conf import settings


def backend_info(request) -> dict:
    return {
        "active_backend": settings.QWEN_IMAGE_BACKEND,
        "demo_backend": settings.QWEN_IMAGE_BACKEND == "demo",
    }
