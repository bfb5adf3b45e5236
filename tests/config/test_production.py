"""Production settings (DEBUG off, PostgreSQL, Redis, S3) load cleanly and pass check --deploy."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parents[2]
# Each test loads the settings in a subprocess of its own; the test database plays no part.
pytestmark = pytest.mark.slow


@pytest.fixture
def production_env(tmp_path):
    """The environment a production web or worker process gets (docs/production.md)."""
    keep = {name: os.environ[name] for name in ("PATH", "HOME", "LANG") if name in os.environ}
    return {
        **keep,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "QWEN_STUDIO_VAR_DIR": str(tmp_path),
        "DJANGO_DEBUG": "0",
        "DJANGO_SECRET_KEY": "k3Q9-tZ0!vN2xW8@pL5#rT7&yU1*eI4^oP6%aS0~dF3+gH9=jK2",
        "DJANGO_ALLOWED_HOSTS": "images.example.com",
        "DJANGO_CSRF_TRUSTED_ORIGINS": "https://images.example.com",
        "DATABASE_URL": "postgres://studio:secret@db.internal:5432/studio",
        "REDIS_URL": "redis://redis.internal:6379/0",
        "AWS_STORAGE_BUCKET_NAME": "studio-media",
        "AWS_S3_ENDPOINT_URL": "https://s3.internal:9000",
        "AWS_S3_REGION_NAME": "us-east-1",
        "AWS_ACCESS_KEY_ID": "fake-access-key",
        "AWS_SECRET_ACCESS_KEY": "fake-secret-key",
        "AWS_EC2_METADATA_DISABLED": "true",
    }


def _run(args: list[str], env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, *args],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_check_deploy_reports_no_warning_under_production_settings(production_env):
    result = _run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], production_env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_refuses_to_start_without_a_secret_key(production_env):
    del production_env["DJANGO_SECRET_KEY"]
    result = _run(["manage.py", "check"], production_env)
    assert result.returncode != 0
    assert "DJANGO_SECRET_KEY must be set" in result.stderr


PROBE = """
import json
import sys
import django
django.setup()
from django.conf import settings
from django.core.files.storage import storages
from huey.contrib.djhuey import HUEY
from huey.serializer import SignedSerializer

db = settings.DATABASES["default"]
default_storage, staticfiles_storage = storages["default"], storages["staticfiles"]
forged = SignedSerializer(secret="someone else").serialize({"task": "run_job"})
try:
    HUEY.serializer.deserialize(forged)
    forged_accepted = True
except ValueError:
    forged_accepted = False
print(json.dumps({
    "debug": settings.DEBUG,
    "db_engine": db["ENGINE"],
    "db_host": db["HOST"],
    "db_health_checks": db["CONN_HEALTH_CHECKS"],
    "db_max_age": db["CONN_MAX_AGE"],
    "huey": type(HUEY).__name__,
    "huey_serializer": type(HUEY.serializer).__name__,
    "huey_roundtrip": HUEY.serializer.deserialize(HUEY.serializer.serialize([1, "a"])),
    "forged_accepted": forged_accepted,
    "storage": type(default_storage).__name__,
    "bucket": default_storage.bucket_name,
    "default_acl": default_storage.default_acl,
    "signed_url": default_storage.url("images/x/0.png"),
    "static": type(staticfiles_storage).__name__,
    "cookies_secure": [settings.SESSION_COOKIE_SECURE, settings.CSRF_COOKIE_SECURE],
    "test_apps": [app for app in settings.INSTALLED_APPS if app.split(".")[0] == "tests"],
    "tests_imported": sorted(m for m in sys.modules if m.split(".")[0] == "tests"),
}))
"""


def test_production_settings_wire_postgres_redis_s3_and_whitenoise(production_env):
    result = _run(["-c", PROBE], production_env)  # builds clients only: nothing is contacted
    assert result.returncode == 0, result.stderr
    facts = json.loads(result.stdout.strip().splitlines()[-1])
    assert facts["debug"] is False
    assert (facts["db_engine"], facts["db_host"]) == (
        "django.db.backends.postgresql",
        "db.internal",
    )
    assert facts["db_health_checks"] is True and facts["db_max_age"] == 60
    assert (facts["huey"], facts["huey_serializer"]) == ("PriorityRedisHuey", "SignedSerializer")
    assert facts["huey_roundtrip"] == [1, "a"]
    assert facts["forged_accepted"] is False  # a task signed with another key is refused
    assert (facts["storage"], facts["bucket"], facts["default_acl"]) == (
        "S3Storage",
        "studio-media",
        None,  # no public-read: objects stay private to the bucket owner
    )
    url = facts["signed_url"]
    assert url.startswith("https://s3.internal:9000/studio-media/images/x/0.png?")
    assert "X-Amz-Algorithm=AWS4-HMAC-SHA256" in url and "X-Amz-Signature=" in url
    assert facts["static"] == "CompressedManifestStaticFilesStorage"
    assert facts["cookies_secure"] == [True, True]
    # No test machinery (tests.fakes, manage.py fake_endpoint) in production, not even imported.
    assert (facts["test_apps"], facts["tests_imported"]) == ([], [])
