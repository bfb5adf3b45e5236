"""The one team rule (docs/accounts.md, "What team means") and the role rules of invites.

Regression tests for issue 16, items 1-3: "Team" followed a stale team; a team admin could
mint admins; a removed member kept working invite links.
"""

import pytest
from django.urls import reverse

from accounts.models import Membership, TeamInvite
from accounts.services import (
    TeamRuleError,
    invite_accept,
    invite_create,
    invite_revoke,
    membership_remove,
    membership_set_role,
    team_create,
)
from gallery import services as gallery_services
from gallery.selectors import collection_get_for_user, collections_list
from generation import lifecycle, runner
from generation.models import Image, Job
from generation.selectors import images_visible_to
from tests.factories import make_image, make_job, make_team, make_user

pytestmark = pytest.mark.django_db


def _m(user, team) -> Membership:
    return Membership.objects.get(user=user, team=team)


def _leave(user, team) -> None:
    """`user` leaves `team` (someone else becomes owner first, as the rules want)."""
    Membership.objects.filter(team=team).exclude(user=user).update(role="owner")
    membership_remove(by=_m(user, team), membership=_m(user, team))


def _sees(user, image: Image) -> bool:
    return images_visible_to(user).filter(pk=image.pk).exists()


@pytest.fixture
def new_team_world(owner, team, teammate):
    """The owner leaves "Studio" for "Night shift", where `newmate` works."""
    night = team_create(user=make_user("newowner"), name="Night shift")
    newmate = make_user("newmate", team=night)
    Membership.objects.create(team=night, user=owner, role="member")
    owner.profile.current_team = night
    owner.profile.save()
    return night, newmate


# --- Item 1: "Team" means the owner's current team, on every object -----------------------


def test_team_visibility_set_later_goes_to_the_owners_current_team(
    owner, team, teammate, new_team_world
):
    night, newmate = new_team_world
    owner.profile.current_team = team
    owner.profile.save()
    old = make_image(owner)  # generated while Studio was current: stamped Studio
    assert old.team == team
    owner.profile.current_team = night
    owner.profile.save()
    _leave(owner, team)
    gallery_services.image_set_visibility(user=owner, image=old, visibility="team")
    old.refresh_from_db()
    assert old.team == night
    assert _sees(newmate, old)
    assert not _sees(teammate, old)


def test_team_images_leave_the_team_with_their_owner(owner, team, teammate):
    image = make_image(owner, visibility="team")
    assert _sees(teammate, image)
    Membership.objects.create(team=make_team("Other"), user=owner)  # still has a team
    _leave(owner, team)
    assert not _sees(teammate, image)
    assert _sees(owner, image)  # still the owner's
    # The team scope of the gallery agrees with the detail rule.
    listing = teammate_listing(teammate)
    assert str(image.public_id) not in listing


def teammate_listing(user) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(reverse("gallery"), {"scope": "team"}).content.decode()


def test_a_removed_owner_takes_public_images_out_of_the_team_scope(owner, team, teammate):
    image = make_image(owner, visibility="public")
    Membership.objects.create(team=make_team("Other"), user=owner)
    _leave(owner, team)
    assert str(image.public_id) not in teammate_listing(teammate)
    assert _sees(teammate, image)  # public is public


def test_a_deleted_team_leaves_its_objects_to_their_owners(owner, team, teammate):
    image = make_image(owner, visibility="team")
    collection = gallery_services.collection_create(user=owner, name="Ours", visibility="team")
    team.delete()
    image.refresh_from_db()
    assert image.team is None
    assert _sees(owner, image) and not _sees(teammate, image)
    with pytest.raises(type(collection).DoesNotExist):
        collection_get_for_user(user=teammate, public_id=collection.public_id)


def test_team_collections_follow_the_same_rule(owner, team, teammate, new_team_world):
    night, newmate = new_team_world
    collection = gallery_services.collection_create(user=owner, name="Ours", visibility="private")
    assert collection.team == night  # the current team when it was made
    owner.profile.current_team = team
    owner.profile.save()
    gallery_services.collection_update(user=owner, collection=collection, visibility="team")
    collection.refresh_from_db()
    assert collection.team == team
    assert collection_get_for_user(user=teammate, public_id=collection.public_id)
    _leave(owner, team)
    with pytest.raises(type(collection).DoesNotExist):
        collection_get_for_user(user=teammate, public_id=collection.public_id)
    assert collection.pk not in {c.pk for c in collections_list(user=teammate)}


def test_a_retried_jobs_images_go_to_the_owners_current_team(owner, team, teammate, new_team_world):
    night, newmate = new_team_world
    owner.profile.current_team = team
    owner.profile.save()
    job = make_job(owner, run=False, visibility="team")
    assert job.team == team
    lifecycle.job_cancel(job=job)
    owner.profile.current_team = night
    owner.profile.save()
    _leave(owner, team)
    lifecycle.job_retry(job=Job.objects.get(pk=job.pk))
    runner.job_run(job_id=job.pk)
    image = Image.objects.get(job=job)
    assert image.team == night
    assert _sees(newmate, image) and not _sees(teammate, image)


def test_the_image_page_names_the_team_that_team_means(owner, owner_client, team):
    image = make_image(owner)
    page = owner_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert "Team: members of Studio" in page


# --- Item 2: only owners make admins ------------------------------------------------------


@pytest.fixture
def admin_member(team):
    return make_user("admin", team=team, role="admin")


def test_admins_do_not_see_admin_invite_links(owner, team, admin_member):
    admin_link = invite_create(by=_m(owner, team), role="admin", single_use=False)
    member_link = invite_create(by=_m(owner, team), role="member")
    from django.test import Client

    client = Client()
    client.force_login(admin_member)
    page = client.get(reverse("team-detail", args=[team.public_id])).content.decode()
    assert admin_link.token not in page
    assert member_link.token in page
    with pytest.raises(TeamRuleError):
        invite_revoke(by=_m(admin_member, team), invite=admin_link)
    response = client.post(
        reverse("team-invite-revoke", args=[team.public_id, admin_link.public_id])
    )
    assert response.status_code == 404
    admin_link.refresh_from_db()
    assert admin_link.revoked_at is None


def test_an_admin_link_stops_working_when_its_owner_is_demoted(owner, team, admin_member):
    link = invite_create(by=_m(owner, team), role="admin", single_use=False)
    membership_set_role(by=_m(owner, team), membership=_m(admin_member, team), role="owner")
    membership_set_role(by=_m(admin_member, team), membership=_m(owner, team), role="admin")
    newcomer = make_user("newcomer")
    with pytest.raises(TeamRuleError):
        invite_accept(invite=link, user=newcomer)
    assert not Membership.objects.filter(user=newcomer).exists()


def test_an_admin_cannot_create_an_admin_invite_through_the_page(team, admin_member):
    from django.test import Client

    client = Client()
    client.force_login(admin_member)
    client.post(
        reverse("team-invite-new", args=[team.public_id]),
        {"role": "admin", "days": "7", "single_use": "on"},
    )
    assert not TeamInvite.objects.filter(role="admin").exists()


# --- Item 3: a removed member's links stop working ----------------------------------------


def test_links_a_removed_admin_made_stop_working(owner, team, admin_member):
    link = invite_create(by=_m(admin_member, team), role="member", single_use=False)
    membership_remove(by=_m(owner, team), membership=_m(admin_member, team))
    stranger = make_user("stranger")
    with pytest.raises(TeamRuleError):
        invite_accept(invite=link, user=stranger)
    anonymous = reverse("invite-accept", args=[link.token])
    from django.test import Client

    assert Client().get(anonymous).status_code == 404


def test_a_removed_admin_cannot_rejoin_with_a_link_they_saw(owner, team, admin_member):
    seen = invite_create(by=_m(owner, team), role="member", single_use=False)
    membership_remove(by=_m(owner, team), membership=_m(admin_member, team))
    with pytest.raises(TeamRuleError):
        invite_accept(invite=seen, user=admin_member)
    assert not Membership.objects.filter(user=admin_member, team=team).exists()
    # Others still join with it, and a link made after the removal is a real re-invitation.
    invite_accept(invite=seen, user=make_user("friend"))
    fresh = invite_create(by=_m(owner, team), role="member")
    assert invite_accept(invite=fresh, user=admin_member).team == team


def test_links_of_a_member_who_left_stop_working(owner, team, admin_member):
    link = invite_create(by=_m(admin_member, team), role="member", single_use=False)
    membership_remove(by=_m(admin_member, team), membership=_m(admin_member, team))
    with pytest.raises(TeamRuleError):
        invite_accept(invite=link, user=make_user("stranger"))
