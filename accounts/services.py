"""Writes and rules for accounts: profiles, quotas."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import Sum
from django.utils import timezone

from accounts.models import Profile


class QuotaExceeded(Exception):
    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass(frozen=True)
class Quota:
    images_per_day: int
    concurrent_jobs: int
    images_today: int
    active_jobs: int

    @property
    def images_left(self) -> int:
        return max(0, self.images_per_day - self.images_today)


def profile_for(user) -> Profile:
    profile, _ = Profile.objects.get_or_create(user=user)
    return profile


def _day_start(now: dt.datetime) -> dt.datetime:
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def quota_for(*, user) -> Quota:
    """Limits (user override, else team override, else settings) and current usage."""
    from generation.models import Job

    profile = profile_for(user)
    team = profile.current_team
    images_per_day = (
        profile.images_per_day
        if profile.images_per_day is not None
        else (team.images_per_day if team and team.images_per_day is not None else None)
    )
    concurrent = (
        profile.concurrent_jobs
        if profile.concurrent_jobs is not None
        else (team.concurrent_jobs if team and team.concurrent_jobs is not None else None)
    )
    now = timezone.now()
    counted = Job.objects.filter(user=user, created_at__gte=_day_start(now)).exclude(
        status__in=[Job.Status.FAILED, Job.Status.CANCELED]
    )
    images_today = counted.aggregate(total=Sum("n"))["total"] or 0
    active = Job.objects.filter(user=user, status__in=Job.ACTIVE).count()
    return Quota(
        images_per_day=settings.QUOTA_IMAGES_PER_DAY if images_per_day is None else images_per_day,
        concurrent_jobs=settings.QUOTA_CONCURRENT_JOBS if concurrent is None else concurrent,
        images_today=images_today,
        active_jobs=active,
    )


def quota_check(*, user, images: int) -> None:
    """Raise QuotaExceeded if `images` more would pass a limit.

    Call inside the transaction that creates the job, after locking the user's profile row,
    so two simultaneous submissions cannot both pass.
    """
    quota = quota_for(user=user)
    now = timezone.now()
    if quota.active_jobs >= quota.concurrent_jobs:
        raise QuotaExceeded(
            f"You already have {quota.active_jobs} jobs running or queued "
            f"(limit {quota.concurrent_jobs}). Wait for one to finish.",
            retry_after=10,
        )
    if quota.images_today + images > quota.images_per_day:
        tomorrow = _day_start(now) + dt.timedelta(days=1)
        raise QuotaExceeded(
            f"Daily image quota reached: {quota.images_today} of {quota.images_per_day} "
            "images used today. The quota resets at midnight UTC.",
            retry_after=max(1, int((tomorrow - now).total_seconds())),
        )


def lock_user_profile(*, user) -> Profile:
    """Lock the profile row (PostgreSQL) so quota checks of one user run one at a time.

    On SQLite, IMMEDIATE transactions already serialise writers.
    """
    profile_for(user)
    # of=("self",): PostgreSQL refuses FOR UPDATE on the nullable side of the team join.
    return (
        Profile.objects.select_for_update(of=("self",))
        .select_related("current_team")
        .get(user=user)
    )
