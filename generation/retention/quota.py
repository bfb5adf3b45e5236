"""Team storage quotas: bytes of images (PNG + thumbnail) and of edit jobs' stored sources and
masks a team keeps, trash included until it is purged or emptied. Checked when a job is
created, with the usage quota.

The seam for the usage ledger: `storage_used` is the one count; when usage/ records storage
bytes itself, this reads it from there instead.
"""

from dataclasses import dataclass

from django.conf import settings
from django.db.models import F, Sum

from generation.models import EditInput, Image
from usage.quotas import QuotaExceeded


class StorageQuotaExceeded(QuotaExceeded):
    """A QuotaExceeded, so every place that refuses a job over quota refuses this one too."""

    code = "storage_quota_exceeded"


@dataclass(frozen=True)
class StorageStatus:
    used: int
    quota: int  # 0: unlimited
    team_name: str | None

    @property
    def full(self) -> bool:
        return bool(self.quota) and self.used >= self.quota

    @property
    def fraction(self) -> float:
        return min(1.0, self.used / self.quota) if self.quota else 0.0


def human_bytes(count: int) -> str:
    value = float(count)
    for unit in ("bytes", "KB", "MB", "GB", "TB"):
        if value < 1000 or unit == "TB":
            return f"{value:.0f} {unit}" if unit == "bytes" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{count} bytes"


def storage_used(*, user, team) -> int:
    """Bytes kept by the team (or, without a team, by the user's teamless work): its images and
    the stored sources and masks of its edit jobs."""
    images = (
        Image.objects.filter(team=team)
        if team
        else Image.objects.filter(user=user, team__isnull=True)
    )
    inputs = (
        EditInput.objects.filter(job__team=team)
        if team
        else EditInput.objects.filter(job__user=user, job__team__isnull=True)
    )
    total = images.aggregate(n=Sum(F("byte_size") + F("thumbnail_byte_size")))["n"] or 0
    return int(total + (inputs.aggregate(n=Sum("byte_size"))["n"] or 0))


def storage_status(*, user, team) -> StorageStatus:
    quota = settings.STORAGE_QUOTA_BYTES
    if team is not None and team.storage_quota_bytes is not None:
        quota = team.storage_quota_bytes
    return StorageStatus(
        used=storage_used(user=user, team=team) if quota else 0,
        quota=quota,
        team_name=team.name if team else None,
    )


def storage_check(*, user, team) -> None:
    status = storage_status(user=user, team=team)
    if status.full:
        whose = f"Team {status.team_name}'s storage" if status.team_name else "Your storage"
        raise StorageQuotaExceeded(
            f"{whose} is full: {human_bytes(status.used)} of {human_bytes(status.quota)} used. "
            "Delete images and empty the trash to make room, or ask an administrator for more.",
            retry_after=0,
        )
