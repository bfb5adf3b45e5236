"""Teams: create, invite links, roles and their rules, leave/remove, current team."""

import datetime as dt

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership, Profile, Team, TeamInvite
from accounts.services import (
    TeamRuleError,
    invite_accept,
    invite_create,
    membership_remove,
    membership_set_role,
)
from tests.factories import make_job, make_user

pytestmark = pytest.mark.django_db


def _m(user, team) -> Membership:
    return Membership.objects.get(user=user, team=team)


def _invite_url(invite: TeamInvite) -> str:
    return reverse("invite-accept", args=[invite.token])


# --- create, view, switch -----------------------------------------------------------------


def test_create_team_makes_creator_owner_and_current(owner, owner_client):
    response = owner_client.post(reverse("team-list"), {"name": "  Night shift "})
    team = Team.objects.get(name="Night shift")
    assert response["Location"] == reverse("team-detail", args=[team.public_id])
    assert _m(owner, team).role == "owner"
    assert Profile.objects.get(user=owner).current_team == team


def test_jobs_go_to_the_current_team(owner, team, outsider, other_team):
    assert make_job(owner, run=False).team == team
    Membership.objects.create(team=other_team, user=owner)
    owner.profile.current_team = other_team
    owner.profile.save()
    assert make_job(owner, run=False).team == other_team


def test_switch_current_team(owner, owner_client, other_team, team):
    Membership.objects.create(team=other_team, user=owner)
    response = owner_client.post(reverse("team-switch", args=[other_team.public_id]))
    assert response.status_code == 302
    assert Profile.objects.get(user=owner).current_team == other_team
    listing = owner_client.get(reverse("team-list")).content.decode()
    assert "Studio" in listing and "Elsewhere" in listing and "Current team" in listing


def test_outsider_gets_404_for_every_team_page(outsider_client, team, owner):
    gets = ["team-detail", "team-usage"]
    posts = ["team-switch", "team-invite-new"]
    for name in gets:
        assert outsider_client.get(reverse(name, args=[team.public_id])).status_code == 404
    for name in posts:
        assert outsider_client.post(reverse(name, args=[team.public_id])).status_code == 404
    for name in ["team-member-role", "team-member-remove"]:
        url = reverse(name, args=[team.public_id, "owner"])
        assert outsider_client.post(url, {"role": "member"}).status_code == 404
    assert _m(owner, team).role == "owner"


def test_team_page_lists_members_and_shows_manager_tools_only_to_managers(
    owner_client, teammate_client, team
):
    owner_page = owner_client.get(reverse("team-detail", args=[team.public_id])).content.decode()
    assert "owner" in owner_page and "teammate" in owner_page
    assert "Create invite link" in owner_page and "Usage per member" in owner_page
    member_page = teammate_client.get(reverse("team-detail", args=[team.public_id]))
    body = member_page.content.decode()
    assert "teammate" in body and "Create invite link" not in body and "Leave team" in body


# --- invites ------------------------------------------------------------------------------


def test_invite_link_flow(owner, owner_client, team):
    response = owner_client.post(
        reverse("team-invite-new", args=[team.public_id]),
        {"role": "member", "single_use": "on", "days": 3},
    )
    assert response.status_code == 302
    invite = TeamInvite.objects.get(team=team)
    assert len(invite.token) >= 32  # 192 bits, URL-safe
    assert invite.expires_at - timezone.now() > dt.timedelta(days=2, hours=23)
    page = owner_client.get(reverse("team-detail", args=[team.public_id])).content.decode()
    assert _invite_url(invite) in page

    newcomer = make_user("newcomer")
    from django.test import Client

    client = Client()
    anonymous = client.get(_invite_url(invite))
    assert b"Log in to accept" in anonymous.content
    client.force_login(newcomer)
    assert b"Join Studio" in client.get(_invite_url(invite)).content
    accepted = client.post(_invite_url(invite))
    assert accepted["Location"] == reverse("team-detail", args=[team.public_id])
    assert _m(newcomer, team).role == "member"
    assert Profile.objects.get(user=newcomer).current_team == team

    # Used once: it is gone for the next person.
    late = make_user("late")
    client.force_login(late)
    assert client.get(_invite_url(invite)).status_code == 404
    assert client.post(_invite_url(invite)).status_code == 404
    assert not Membership.objects.filter(user=late).exists()


def test_multi_use_invite_works_until_revoked(owner, owner_client, team):
    invite = invite_create(by=_m(owner, team), single_use=False)
    for name in ("ann", "bob"):
        invite_accept(invite=invite, user=make_user(name))
    invite.refresh_from_db()
    assert invite.use_count == 2
    owner_client.post(reverse("team-invite-revoke", args=[team.public_id, invite.public_id]))
    with pytest.raises(TeamRuleError):
        invite_accept(invite=invite, user=make_user("cy"))


def test_expired_invite_does_not_work(owner, team):
    invite = invite_create(by=_m(owner, team), days=1)
    late = make_user("slow")
    with (
        time_machine.travel(timezone.now() + dt.timedelta(days=1, minutes=1)),
        pytest.raises(TeamRuleError),
    ):
        invite_accept(invite=invite, user=late)
    assert not Membership.objects.filter(user__username="slow").exists()


def test_invite_tokens_are_unguessable_and_distinct(owner, team):
    tokens = {invite_create(by=_m(owner, team)).token for _ in range(20)}
    assert len(tokens) == 20


def test_members_cannot_invite_and_admins_cannot_invite_admins(
    owner, teammate, teammate_client, team
):
    response = teammate_client.post(
        reverse("team-invite-new", args=[team.public_id]), {"role": "member", "days": 7}
    )
    assert response.status_code == 302 and not TeamInvite.objects.exists()
    with pytest.raises(TeamRuleError):
        invite_create(by=_m(teammate, team))
    membership_set_role(by=_m(owner, team), membership=_m(teammate, team), role="admin")
    with pytest.raises(TeamRuleError):
        invite_create(by=_m(teammate, team), role="admin")
    assert invite_create(by=_m(teammate, team), role="member").role == "member"


def test_outsider_cannot_revoke_another_teams_invite(owner, outsider_client, team, outsider):
    invite = invite_create(by=_m(owner, team))
    other = outsider.memberships.get().team
    url = reverse("team-invite-revoke", args=[other.public_id, invite.public_id])
    assert outsider_client.post(url).status_code == 404
    invite.refresh_from_db()
    assert invite.revoked_at is None


# --- roles, leave, remove -----------------------------------------------------------------


def test_owner_changes_roles_member_cannot(owner, teammate, owner_client, teammate_client, team):
    url = reverse("team-member-role", args=[team.public_id, "teammate"])
    owner_client.post(url, {"role": "admin"})
    assert _m(teammate, team).role == "admin"
    teammate_client.post(
        reverse("team-member-role", args=[team.public_id, "owner"]), {"role": "member"}
    )
    assert _m(owner, team).role == "owner"


def test_the_last_owner_cannot_leave_or_step_down(owner, owner_client, teammate, team):
    leave = owner_client.post(
        reverse("team-member-remove", args=[team.public_id, "owner"]), follow=True
    )
    assert b"The last owner cannot leave" in leave.content
    assert _m(owner, team).role == "owner"
    with pytest.raises(TeamRuleError):
        membership_set_role(by=_m(owner, team), membership=_m(owner, team), role="member")
    # With a second owner, the first may go.
    membership_set_role(by=_m(owner, team), membership=_m(teammate, team), role="owner")
    membership_remove(by=_m(owner, team), membership=_m(owner, team))
    assert not Membership.objects.filter(user=owner, team=team).exists()
    assert Profile.objects.get(user=owner).current_team is None


def test_admin_removes_members_but_not_owners_or_admins(owner, teammate, team):
    admin = make_user("admin", team=team, role="admin")
    other_admin = make_user("admin2", team=team, role="admin")
    with pytest.raises(TeamRuleError):
        membership_remove(by=_m(admin, team), membership=_m(owner, team))
    with pytest.raises(TeamRuleError):
        membership_remove(by=_m(admin, team), membership=_m(other_admin, team))
    membership_remove(by=_m(admin, team), membership=_m(teammate, team))
    assert not Membership.objects.filter(user=teammate, team=team).exists()


def test_member_cannot_remove_others_but_can_leave(owner, teammate, teammate_client, team):
    teammate_client.post(reverse("team-member-remove", args=[team.public_id, "owner"]))
    assert Membership.objects.filter(user=owner, team=team).exists()
    response = teammate_client.post(
        reverse("team-member-remove", args=[team.public_id, "teammate"])
    )
    assert response["Location"] == reverse("team-list")
    assert not Membership.objects.filter(user=teammate, team=team).exists()
    assert Profile.objects.get(user=teammate).current_team is None


def test_leaving_moves_current_team_to_another_of_yours(teammate, team, other_team):
    Membership.objects.create(team=other_team, user=teammate)
    membership_remove(by=_m(teammate, team), membership=_m(teammate, team))
    assert Profile.objects.get(user=teammate).current_team == other_team


def test_team_members_page_query_count_does_not_grow(owner, owner_client, team):
    url = reverse("team-detail", args=[team.public_id])
    with CaptureQueriesContext(connection) as few:
        owner_client.get(url)
    for i in range(12):
        make_user(f"member{i}", team=team)
        invite_create(by=_m(owner, team))
    with CaptureQueriesContext(connection) as many:
        response = owner_client.get(url)
    assert response.content.decode().count('class="inline-form role-form"') == 13
    assert len(many) == len(few) <= 10


def test_team_list_query_count_does_not_grow(owner, owner_client):
    with CaptureQueriesContext(connection) as few:
        owner_client.get(reverse("team-list"))
    for i in range(8):
        Membership.objects.create(team=Team.objects.create(name=f"T{i}"), user=owner)
    with CaptureQueriesContext(connection) as many:
        owner_client.get(reverse("team-list"))
    assert len(many) == len(few)
