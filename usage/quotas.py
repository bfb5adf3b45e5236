"""Quotas: the limits that apply to a user and the one rule that counts against them."""

import datetime as dt
from dataclasses import dataclass

from django.conf import settings
from django.db.models import QuerySet, Sum
from django.utils import timezone

from accounts.models import Profile
from accounts.services import profile_for
from core.time import day_start, next_day_start
from usage.sources import usage_source


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

    @property
    def resets_at(self) -> dt.datetime:
        """When the daily image count starts again (midnight UTC)."""
        return next_day_start()


def jobs_counted_today(jobs: QuerySet) -> QuerySet:
    """The quota rule: jobs created since midnight UTC, failed and canceled ones left out.

    Sum their `n` for the images used today (the admin uses the same rule per row).
    """
    source = usage_source()
    return jobs.filter(created_at__gte=day_start()).exclude(
        status__in=[source.failed, source.canceled]
    )


def jobs_active(jobs: QuerySet) -> QuerySet:
    return jobs.filter(status__in=usage_source().active)


def _limit(profile: Profile, name: str, default: int) -> int:
    """The user's override, else their current team's, else the site default."""
    for holder in (profile, profile.current_team):
        value = getattr(holder, name, None) if holder is not None else None
        if value is not None:
            return value
    return default


def quota_for(*, user, profile: Profile | None = None) -> Quota:
    """Limits and current usage of a user."""
    profile = profile or profile_for(user)
    jobs = usage_source().jobs().filter(user=user)
    return Quota(
        images_per_day=_limit(profile, "images_per_day", settings.QUOTA_IMAGES_PER_DAY),
        concurrent_jobs=_limit(profile, "concurrent_jobs", settings.QUOTA_CONCURRENT_JOBS),
        images_today=jobs_counted_today(jobs).aggregate(total=Sum("n"))["total"] or 0,
        active_jobs=jobs_active(jobs).count(),
    )


def quota_check(*, user, images: int, profile: Profile | None = None) -> None:
    """Raise QuotaExceeded if `images` more would pass a limit.

    Call inside the transaction that creates the job, after locking the user's profile row
    (accounts.services.lock_user_profile), so two simultaneous submissions cannot both pass.
    Pass that locked profile to save reading it again.
    """
    quota = quota_for(user=user, profile=profile)
    if quota.active_jobs >= quota.concurrent_jobs:
        raise QuotaExceeded(
            f"You already have {quota.active_jobs} jobs running or queued "
            f"(limit {quota.concurrent_jobs}). Wait for one to finish.",
            retry_after=10,
        )
    if quota.images_today + images > quota.images_per_day:
        raise QuotaExceeded(
            f"Daily image quota reached: {quota.images_today} of {quota.images_per_day} "
            "images used today. The quota resets at midnight UTC.",
            retry_after=max(1, int((quota.resets_at - timezone.now()).total_seconds())),
        )
