"""Sign-up modes, login, logout, password change and reset: all on the studio's own pages."""

import re

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.template.loader import render_to_string
from django.test import Client, override_settings
from django.urls import reverse

from accounts.models import Membership, Profile
from accounts.services import invite_create
from tests.factories import PASSWORD

pytestmark = pytest.mark.django_db
User = get_user_model()
NEW_PASSWORD = "a much longer pass phrase 42"


def _signup(client, token: str = "", **overrides):
    data = {
        "username": "newcomer",
        "email": "newcomer@example.com",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
        **overrides,
    }
    if token:
        data["invite"] = token
    return client.post(reverse("signup"), data)


def test_the_fixed_cast(owner, teammate, outsider, staff, team, other_team):
    assert Membership.objects.get(user=owner, team=team).role == "owner"
    assert Membership.objects.get(user=teammate, team=team).role == "member"
    assert Membership.objects.get(user=outsider).team == other_team
    assert staff.is_staff and not staff.memberships.exists()
    assert owner.profile.current_team == team == teammate.profile.current_team


@override_settings(ACCOUNTS_SIGNUP="open")
def test_open_signup_creates_an_account_and_logs_in(anonymous_client):
    page = anonymous_client.get(reverse("signup"))
    assert page.status_code == 200 and b"Create an account" in page.content
    response = _signup(anonymous_client)
    assert response.status_code == 302 and response["Location"] == reverse("generate")
    user = User.objects.get(username="newcomer")
    assert user.email == "newcomer@example.com" and user.check_password(NEW_PASSWORD)
    assert Profile.objects.filter(user=user, current_team=None).exists()
    assert anonymous_client.get(reverse("profile")).status_code == 200  # logged in


@override_settings(ACCOUNTS_SIGNUP="open")
def test_signup_rejects_weak_passwords_and_taken_addresses(anonymous_client, owner):
    weak = _signup(anonymous_client, password1="12345678", password2="12345678")
    assert weak.status_code == 200 and b"too common" in weak.content
    taken = _signup(anonymous_client, email="OWNER@example.com")
    assert b"already exists" in taken.content
    assert not User.objects.filter(username="newcomer").exists()


@override_settings(ACCOUNTS_SIGNUP="closed")
def test_closed_signup_refuses_even_with_an_invite(anonymous_client, owner, team):
    invite = invite_create(by=Membership.objects.get(user=owner, team=team))
    assert anonymous_client.get(reverse("signup")).status_code == 403
    response = _signup(anonymous_client, token=invite.token)
    assert response.status_code == 403 and b"Sign-up is closed" in response.content
    assert not User.objects.filter(username="newcomer").exists()
    login_page = anonymous_client.get(reverse("login"))
    assert b"Create an account" not in login_page.content


@override_settings(ACCOUNTS_SIGNUP="invite")
def test_invite_only_signup_needs_a_valid_invite_and_joins_its_team(anonymous_client, owner, team):
    plain = _signup(anonymous_client)
    assert plain.status_code == 403 and b"by invitation" in plain.content
    bogus = _signup(anonymous_client, token="not-a-real-token")
    assert bogus.status_code == 403 and b"does not work" in bogus.content
    assert not User.objects.filter(username="newcomer").exists()

    invite = invite_create(by=Membership.objects.get(user=owner, team=team))
    page = anonymous_client.get(reverse("signup") + f"?invite={invite.token}")
    assert b"You will join <strong>Studio</strong>" in page.content
    response = _signup(anonymous_client, token=invite.token)
    assert response.status_code == 302
    user = User.objects.get(username="newcomer")
    assert Membership.objects.get(user=user).team == team
    assert user.profile.current_team == team


def test_signup_form_rejects_a_post_without_csrf_token():
    client = Client(enforce_csrf_checks=True)
    assert _signup(client).status_code == 403
    assert not User.objects.filter(username="newcomer").exists()


def test_login_and_logout_through_the_forms(owner):
    client = Client()
    bad = client.post(reverse("login"), {"username": "owner", "password": "wrong"})
    assert bad.status_code == 200 and b"Please enter a correct username" in bad.content
    good = client.post(reverse("login"), {"username": "owner", "password": PASSWORD})
    assert good.status_code == 302 and good["Location"] == reverse("generate")
    assert client.get(reverse("profile")).status_code == 200
    out = client.post(reverse("logout"))
    assert out.status_code == 302
    assert client.get(reverse("profile")).status_code == 302


def test_password_change(owner, owner_client):
    page = owner_client.get(reverse("password_change"))
    assert page.status_code == 200
    response = owner_client.post(
        reverse("password_change"),
        {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
    )
    assert response.status_code == 302
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    done = owner_client.get(response["Location"])
    assert b"Password changed" in done.content


def test_password_reset_by_email(owner, anonymous_client):
    response = anonymous_client.post(reverse("password_reset"), {"email": "owner@example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert message.subject == "Reset your Qwen Image Studio password"
    link = re.search(r"https?://[^/]+(/accounts/reset/\S+)", message.body).group(1)
    form = anonymous_client.get(link, follow=True)
    assert b"Choose a new password" in form.content
    done = anonymous_client.post(
        form.redirect_chain[-1][0],
        {"new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD},
        follow=True,
    )
    assert b"Password set" in done.content
    owner.refresh_from_db()
    assert owner.check_password(NEW_PASSWORD)
    # The link works once.
    again = anonymous_client.get(link, follow=True)
    assert b"This reset link does not work" in again.content


@pytest.mark.parametrize(
    "name",
    [
        "login",
        "signup",
        "password_reset",
        "password_reset_done",
        "password_reset_complete",
        "password_change",
        "password_change_done",
    ],
)
def test_every_auth_page_uses_the_studio_look(name, owner_client, anonymous_client):
    if name.startswith("password_change"):
        response = owner_client.get(reverse(name))
    else:
        response = anonymous_client.get(reverse(name))
    body = response.content.decode()
    assert response.status_code == 200
    assert "Qwen Image Studio" in body and "skip-link" in body
    assert "Django administration" not in body and "Django site admin" not in body


def test_logged_out_and_reset_email_templates_are_the_studios_own():
    page = render_to_string("registration/logged_out.html")
    assert "skip-link" in page and "Log in again" in page
    email = render_to_string(
        "registration/password_reset_email.html",
        {
            "protocol": "https",
            "domain": "studio.example",
            "uid": "MQ",
            "token": "t-1",
            "user": User(username="ann"),
        },
    )
    assert "Qwen Image Studio" in email and "https://studio.example/accounts/reset/MQ/t-1/" in email


def test_reset_confirm_with_a_bad_link_uses_the_studio_look(anonymous_client):
    response = anonymous_client.get(
        reverse("password_reset_confirm", kwargs={"uidb64": "MQ", "token": "bad-token"})
    )
    assert b"This reset link does not work" in response.content
    assert b"Django administration" not in response.content
