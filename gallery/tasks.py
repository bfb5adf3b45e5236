"""Huey tasks of the gallery: the retention purge (gallery.retention) and fresh planner
statistics for the database. Thin."""

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, lock_task

from core.db import query_statistics_refresh
from gallery.retention import purge_run


@db_periodic_task(crontab(minute=f"*/{settings.RETENTION_PURGE_INTERVAL_MINUTES}"))
@lock_task("retention-purge")
def purge_trash() -> None:
    purge_run()


@db_periodic_task(crontab(minute="17"))
def refresh_query_statistics() -> None:
    # Hourly: a gallery that grows from empty to a million images keeps its plans (core.db).
    query_statistics_refresh()
