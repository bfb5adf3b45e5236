"""Security settings and CSRF on every account form."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings

TEMPLATES = Path(settings.BASE_DIR) / "templates"


@pytest.mark.parametrize(
    "template",
    sorted(
        str(path.relative_to(TEMPLATES))
        for folder in ("accounts", "registration")
        for path in (TEMPLATES / folder).glob("*.html")
    ),
)
def test_every_post_form_carries_a_csrf_token(template):
    text = (TEMPLATES / template).read_text()
    forms = re.findall(r"<form[^>]*>.*?</form>", text, flags=re.S)
    for form in forms:
        if 'method="post"' in form:
            assert "{% csrf_token %}" in form, f"{template}: {form[:80]}"


def test_argon2_is_the_first_hasher_in_real_settings():
    code = "import config.settings as s; print(s.PASSWORD_HASHERS[0])"
    out = _settings_probe(code, {})
    assert out == "django.contrib.auth.hashers.Argon2PasswordHasher"


@pytest.mark.slow  # the settings load in a subprocess
def test_production_settings_close_signup_and_secure_cookies():
    code = (
        "import config.settings as s; "
        "print(s.ACCOUNTS_SIGNUP, s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, "
        "s.SESSION_COOKIE_HTTPONLY)"
    )
    deployed = {"DJANGO_SECRET_KEY": "x" * 60, "DJANGO_ALLOWED_HOSTS": "images.example.com"}
    assert _settings_probe(code, deployed) == "closed True True True"
    # A local install (loopback hosts only) is plain HTTP: secure-only cookies would lock
    # everybody out of http://127.0.0.1; sign-up stays open for its first user.
    assert _settings_probe(code, {"DJANGO_SECRET_KEY": "x" * 60}) == "open False False True"


def _settings_probe(code: str, env: dict) -> str:
    result = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "QWEN_STUDIO_VAR_DIR": str(settings.MEDIA_ROOT), **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return result.stdout.strip().splitlines()[-1]
