"""Where usage is counted from, until usage keeps a ledger of its own.

usage/ sits below generation/ in the house and may not import it. The app that runs jobs
registers its job and image tables here (generation does, in its AppConfig.ready()); the
counting rules stay in usage/ and read those tables through this one description.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.core.exceptions import ImproperlyConfigured
from django.db.models import QuerySet


@dataclass(frozen=True)
class UsageSource:
    # Job rows: user, team, n (images asked for), status, created_at, started_at, finished_at.
    jobs: Callable[[], QuerySet]
    # Image rows: user, team, created_at.
    images: Callable[[], QuerySet]
    active: tuple[str, ...]  # statuses of jobs still queued or running
    succeeded: str
    failed: str
    canceled: str


_source: UsageSource | None = None


def usage_source_register(source: UsageSource) -> None:
    global _source
    _source = source


def usage_source() -> UsageSource:
    if _source is None:
        raise ImproperlyConfigured("No usage source registered (is generation installed?).")
    return _source
