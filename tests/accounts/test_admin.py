"""The admin: users with profile, teams, memberships, invites, keys (never the secret)."""

import pytest
from django.urls import reverse

from accounts.keys import api_key_create
from accounts.models import Membership, Profile
from accounts.services import invite_create
from tests.factories import make_job_row

pytestmark = pytest.mark.django_db


def test_admin_pages_load_and_hide_secrets(staff_client, owner, team):
    key, secret = api_key_create(user=owner, name="robot")
    invite = invite_create(by=Membership.objects.get(user=owner, team=team))
    make_job_row(owner, n=2)
    pages = [
        reverse("admin:auth_user_changelist"),
        reverse("admin:auth_user_change", args=[owner.pk]),
        reverse("admin:accounts_team_changelist"),
        reverse("admin:accounts_team_change", args=[team.pk]),
        reverse("admin:accounts_membership_changelist"),
        reverse("admin:accounts_profile_changelist"),
        reverse("admin:accounts_apikey_changelist"),
        reverse("admin:accounts_apikey_change", args=[key.pk]),
        reverse("admin:accounts_teaminvite_changelist"),
        reverse("admin:accounts_teaminvite_change", args=[invite.pk]),
    ]
    for url in pages:
        response = staff_client.get(url)
        body = response.content.decode()
        assert response.status_code == 200, url
        assert key.hashed_key not in body and secret not in body, url
        assert invite.token not in body, url
    users = staff_client.get(reverse("admin:auth_user_changelist")).content.decode()
    assert "Images today" in users


def test_quota_overrides_are_edited_in_the_admin(staff_client, owner, team):
    response = staff_client.post(
        reverse("admin:accounts_team_change", args=[team.pk]),
        {
            "name": "Studio",
            "images_per_day": "12",
            "concurrent_jobs": "",
            "memberships-TOTAL_FORMS": "0",
            "memberships-INITIAL_FORMS": "0",
            "invites-TOTAL_FORMS": "0",
            "invites-INITIAL_FORMS": "0",
            "usage_limit-TOTAL_FORMS": "0",  # the team's own limits (usage/admin)
            "usage_limit-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    team.refresh_from_db()
    assert team.images_per_day == 12 and team.concurrent_jobs is None


def test_admin_shows_usage_per_profile(staff_client, owner):
    make_job_row(owner, n=3)
    body = staff_client.get(reverse("admin:accounts_profile_changelist")).content.decode()
    assert Profile.objects.filter(user=owner).exists()
    assert '<td class="field-images_today">3</td>' in body


def test_admin_cannot_add_keys_by_hand(staff_client):
    assert staff_client.get(reverse("admin:accounts_apikey_add")).status_code == 403
