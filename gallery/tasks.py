"""The gallery's periodic task: the retention purge (gallery.retention). Thin."""

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from gallery.retention import purge_run


@db_periodic_task(crontab(minute=f"*/{settings.RETENTION_PURGE_INTERVAL_MINUTES}"))
@lock_task("retention-purge")
def purge_trash() -> None:
    purge_run()
