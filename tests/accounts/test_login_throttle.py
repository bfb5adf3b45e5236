"""django-axes: repeated wrong passwords lock a username (from one address) for a cool-off."""

import datetime as dt

import pytest
import time_machine
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db


def _login(client, username: str, password: str, ip: str = "10.0.0.1"):
    return client.post(
        reverse("login"), {"username": username, "password": password}, REMOTE_ADDR=ip
    )


def test_axes_is_first_in_line():
    assert settings.AUTHENTICATION_BACKENDS[0] == "axes.backends.AxesStandaloneBackend"
    assert settings.MIDDLEWARE[-1] == "axes.middleware.AxesMiddleware"
    assert settings.PASSWORD_HASHERS[0].endswith("MD5PasswordHasher")  # tests only


def test_lockout_after_failures_then_cool_off(owner, teammate):
    client = Client()
    with time_machine.travel(timezone.now(), tick=False) as clock:
        for _ in range(settings.AXES_FAILURE_LIMIT - 1):
            response = _login(client, "owner", "wrong")
            assert response.status_code == 200  # the form again, with its error
        locked = _login(client, "owner", "wrong")
        assert locked.status_code == 429
        assert int(locked["Retry-After"]) == settings.AXES_COOLOFF_TIME.total_seconds()
        assert b"Too many failed logins" in locked.content
        # Locked out: even the right password is refused, and no session is made.
        refused = _login(client, "owner", PASSWORD)
        assert refused.status_code == 429
        assert client.get(reverse("profile")).status_code == 302
        # Another person on the same address is not affected.
        assert _login(Client(), "teammate", PASSWORD).status_code == 302

        clock.shift(settings.AXES_COOLOFF_TIME + dt.timedelta(seconds=1))
        welcome = _login(client, "owner", PASSWORD)
        assert welcome.status_code == 302 and welcome["Location"] == reverse("generate")


def test_a_success_resets_the_failure_count(owner):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        _login(client, "owner", "wrong")
    assert _login(client, "owner", PASSWORD).status_code == 302
    client.post(reverse("logout"))
    for _ in range(settings.AXES_FAILURE_LIMIT - 1):
        assert _login(client, "owner", "wrong").status_code == 200


def test_the_admin_login_is_throttled_too(staff):
    client = Client()
    for _ in range(settings.AXES_FAILURE_LIMIT):
        client.post(
            reverse("admin:login"),
            {"username": "staff", "password": "nope"},
            REMOTE_ADDR="10.9.9.9",
        )
    response = client.post(
        reverse("admin:login"), {"username": "staff", "password": PASSWORD}, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 429


def test_force_login_still_works_for_tests(owner_client):
    assert owner_client.get(reverse("profile")).status_code == 200
