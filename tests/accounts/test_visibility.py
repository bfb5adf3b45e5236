"""Team visibility of images (generation.selectors.images_visible_to) and the form's choice."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AnonymousUser
from django.urls import reverse

from accounts.models import Membership
from accounts.services import invite_accept, invite_create, membership_remove
from generation.models import Job
from generation.selectors import images_visible_to
from tests.factories import make_image, make_user

pytestmark = pytest.mark.django_db
User = get_user_model()

FORM = {
    "prompt": "a tiny robot",
    "size": "square",
    "num_inference_steps": 30,
    "guidance_scale": 2.5,
    "acceleration": "none",
    "n": 1,
}


def _sees(user, image) -> bool:
    user = User.objects.get(pk=user.pk) if user.is_authenticated else user  # fresh caches
    return images_visible_to(user).filter(pk=image.pk).exists()


def test_private_image_is_the_owners_alone(owner, teammate, outsider, staff):
    image = make_image(owner, visibility="private")
    assert _sees(owner, image) and not _sees(teammate, image)
    assert not _sees(outsider, image) and not _sees(AnonymousUser(), image)
    assert _sees(staff, image)


def test_team_image_is_seen_by_the_team_only(owner, teammate, outsider):
    image = make_image(owner, visibility="team")
    assert image.team == owner.profile.current_team
    assert _sees(owner, image) and _sees(teammate, image)
    assert not _sees(outsider, image) and not _sees(AnonymousUser(), image)


def test_public_image_is_seen_by_everyone(owner, outsider):
    image = make_image(owner, visibility="public")
    assert _sees(outsider, image) and _sees(AnonymousUser(), image)


def test_leaving_a_team_hides_its_images_and_joining_shows_them(owner, teammate, outsider, team):
    image = make_image(owner, visibility="team")
    membership_remove(
        by=Membership.objects.get(user=teammate, team=team),
        membership=Membership.objects.get(user=teammate, team=team),
    )
    assert not _sees(teammate, image)
    invite = invite_create(by=Membership.objects.get(user=owner, team=team))
    invite_accept(invite=invite, user=outsider)
    assert _sees(outsider, image)


def test_team_image_belongs_to_the_team_current_when_it_was_made(owner, teammate, other_team):
    Membership.objects.create(team=other_team, user=owner)
    owner.profile.current_team = other_team
    owner.profile.save()
    image = make_image(owner, visibility="team")
    assert image.team == other_team
    assert not _sees(teammate, image)


def test_generate_form_offers_team_visibility_only_with_a_current_team(
    owner, owner_client, django_capture_on_commit_callbacks
):
    page = owner_client.get(reverse("generate")).content.decode()
    assert "Team: members of Studio" in page and "Private: only you" in page
    with django_capture_on_commit_callbacks(execute=True):
        response = owner_client.post(reverse("generate"), {**FORM, "visibility": "team"})
    assert response.status_code == 302
    job = Job.objects.get(user=owner)
    assert job.visibility == "team" and job.images.get().visibility == "team"
    assert job.images.get().team == job.team == owner.profile.current_team


def test_generate_form_without_team_refuses_team_visibility(client):
    loner = make_user("loner")
    client.force_login(loner)
    page = client.get(reverse("generate")).content.decode()
    assert "Team: members of" not in page and "Public: anyone with the link" in page
    response = client.post(reverse("generate"), {**FORM, "visibility": "team"})
    assert response.status_code == 200 and not Job.objects.exists()
    client.post(reverse("generate"), FORM)  # no choice: private
    assert Job.objects.get().visibility == "private"
