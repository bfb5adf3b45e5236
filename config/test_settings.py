"""Test settings: fast hashing, no delays, media in a temp folder, Huey not immediate."""

import tempfile

from config.settings import *  # noqa: F403
from config.settings import HUEY

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
QWEN_IMAGE_BACKEND = "demo"
QWEN_IMAGE_DEMO_STEP_DELAY = 0.0
GENERATION_RETRY_BASE_DELAY = 0.0
MEDIA_ROOT = tempfile.mkdtemp(prefix="qwen-test-media-")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "allow_overwrite": True},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tests run tasks explicitly (or through immediate mode where a test turns it on).
HUEY = {**HUEY, "immediate": True, "huey_class": "huey.MemoryHuey", "name": "test"}
HUEY.pop("filename", None)
HUEY.pop("url", None)
