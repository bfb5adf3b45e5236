"""Legal holds: staff put one on a user (their profile) or a team; nothing it covers is
purged, by retention or by an emptied trash, and only staff may delete it for good."""

from django.db.models import Q

from accounts.models import Profile, Team
from generation.models import Image, Job


class LegalHoldActive(Exception):
    def __init__(self, message: str = "") -> None:
        message = message or (
            "A legal hold applies: this can be moved to the trash but only staff may delete it "
            "for good."
        )
        super().__init__(message)
        self.message = message


def image_held_q(prefix: str = "") -> Q:
    """Images (or, with a prefix such as "images__", rows reached through them) under a hold:
    their owner's or their team's."""
    return Q(**{f"{prefix}user__profile__legal_hold_since__isnull": False}) | Q(
        **{f"{prefix}team__legal_hold_since__isnull": False}
    )


def job_held_q() -> Q:
    return Q(user__profile__legal_hold_since__isnull=False) | Q(
        team__legal_hold_since__isnull=False
    )


def user_is_held(user) -> bool:
    return Profile.objects.filter(user=user, legal_hold_since__isnull=False).exists()


def team_is_held(team_id: int | None) -> bool:
    return (
        bool(team_id) and Team.objects.filter(pk=team_id, legal_hold_since__isnull=False).exists()
    )


def image_is_held(image: Image) -> bool:
    return Image.objects.filter(image_held_q(), pk=image.pk).exists()


def job_is_held(job: Job) -> bool:
    return Job.objects.filter(job_held_q(), pk=job.pk).exists()
