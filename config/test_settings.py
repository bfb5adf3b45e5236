"""Test settings: fast hashing, no delays, media in a temp folder, tasks run immediately."""

import os
import tempfile

from config.settings import *  # noqa: F403
from config.settings import DATABASES, HUEY, INSTALLED_APPS

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# The fakes app (manage.py fake_endpoint) even when the run has DJANGO_DEBUG=0.
if "tests.fakes" not in INSTALLED_APPS:
    INSTALLED_APPS = [*INSTALLED_APPS, "tests.fakes"]
QWEN_IMAGE_BACKEND = "demo"
QWEN_IMAGE_DEMO_STEP_DELAY = 0.0
GENERATION_RETRY_BASE_DELAY = 0.0
USAGE_PRICE_CACHE_SECONDS = 0.0  # every test sees the prices it set
MEDIA_ROOT = tempfile.mkdtemp(prefix="qwen-test-media-")
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": MEDIA_ROOT, "allow_overwrite": True},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Tasks run at once in the test process (immediate mode on an in-memory Huey); tests of the
# queue itself turn immediate mode off or call the runner directly.
HUEY = {**HUEY, "immediate": True, "huey_class": "huey.MemoryHuey", "name": "test"}
HUEY.pop("filename", None)
HUEY.pop("url", None)

# SQLite tests use a file, not Django's shared-cache in-memory database: there, concurrent
# writers fail with "table is locked" at once instead of waiting, so the threaded quota test
# could not show what WAL + IMMEDIATE transactions do in production.
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["TEST"] = {
        "NAME": tempfile.mkdtemp(prefix="qwen-test-db-") + "/test.sqlite3"
    }

# Links made outside a request: fixed, whatever var/site-url a local `make run` left behind.
SITE_URL = "http://127.0.0.1:8000"
# Every test counts the queue afresh.
GENERATION_QUEUE_ESTIMATE_TTL = 0
# The development signing certificate is made once per test run, in a temp folder.
PROVENANCE_DIR = tempfile.mkdtemp(prefix="qwen-test-provenance-")

# Prompt enhancement is off unless a test turns it on (against its own fake chat server).
PROMPT_ENHANCER = ""

# Metrics: a fresh multiprocess folder per run (before anything imports prometheus_client).
PROMETHEUS_MULTIPROC_DIR = tempfile.mkdtemp(prefix="qwen-test-prometheus-")
os.environ["PROMETHEUS_MULTIPROC_DIR"] = PROMETHEUS_MULTIPROC_DIR
METRICS_TOKEN = "test-metrics-token"
