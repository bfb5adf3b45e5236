"""Huey tasks: take ids, call a service. Safe to run twice.

The receivers at the bottom are how services reach the queue (generation.signals): services
never import this module.
"""

from django.conf import settings
from django.dispatch import receiver
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task

from generation import reaper, runner, signals, webhooks
from generation.selectors import job_fair_priority


@db_task()
def run_job(job_id: int) -> None:
    runner.job_run(job_id=job_id)


@db_periodic_task(crontab(minute=f"*/{settings.GENERATION_REAPER_INTERVAL_MINUTES}"))
def reap_jobs() -> None:
    reaper.jobs_reap()


@db_task()
def deliver_webhook(delivery_id: int) -> None:
    webhooks.webhook_deliver(delivery_id=delivery_id)


@db_periodic_task(crontab(minute="*"))
def requeue_webhooks() -> None:
    webhooks.webhook_deliveries_requeue_due()


@receiver(signals.job_ready, dispatch_uid="tasks-run-job")
def _enqueue_job(sender, job_pk: int, delay: float = 0, **kwargs) -> None:
    # Fair use needs a storage with priorities (SQLite, Redis with PriorityRedisHuey); the
    # others take plain FIFO.
    prioritised = getattr(HUEY.storage, "priority", False)
    priority = job_fair_priority(job_pk=job_pk) if prioritised else None
    if delay > 0:
        run_job.schedule((job_pk,), delay=delay, priority=priority)
    else:
        run_job(job_pk, priority=priority)


@receiver(signals.webhook_ready, dispatch_uid="tasks-deliver-webhook")
def _enqueue_delivery(sender, delivery_pk: int, delay: float = 0, **kwargs) -> None:
    if delay > 0:
        deliver_webhook.schedule((delivery_pk,), delay=delay)
    else:
        deliver_webhook(delivery_pk)
