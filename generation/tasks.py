"""Huey tasks: take ids, call a service. Safe to run twice."""

from django.conf import settings
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from generation import services, webhooks


@db_task()
def run_job(job_id: int) -> None:
    services.job_run(job_id=job_id)


@db_periodic_task(crontab(minute=f"*/{settings.GENERATION_REAPER_INTERVAL_MINUTES}"))
def reap_jobs() -> None:
    services.jobs_reap()


@db_task()
def deliver_webhook(delivery_id: int) -> None:
    webhooks.webhook_deliver(delivery_id=delivery_id)


@db_periodic_task(crontab(minute="*"))
def requeue_webhooks() -> None:
    webhooks.webhook_deliveries_requeue_due()
