"""Huey tasks of the gallery: keep the database's planner statistics fresh."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from core.db import query_statistics_refresh


@db_periodic_task(crontab(minute="17"))
def refresh_query_statistics() -> None:
    # Hourly: a gallery that grows from empty to a million images keeps its plans (core.db).
    query_statistics_refresh()
