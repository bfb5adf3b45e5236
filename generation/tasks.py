"""Huey tasks: take ids, call a service. Safe to run twice.

Jobs go to the queue of their backend's capability (generation/queues.py): run_job on the
default queue, run_gpu_job on the GPU queue that only `manage.py run_gpu_worker` reads.
The receivers at the bottom are how services reach the queue (generation.signals): services
never import this module.
"""

from django.conf import settings
from django.dispatch import receiver
from huey import crontab
from huey.contrib.djhuey import HUEY, close_db, db_periodic_task, db_task

from generation import reaper, runner, signals, webhooks
from generation.consumers.heartbeat import heartbeat_once, heartbeat_stop
from generation.queues import DEFAULT, GPU, huey_for
from generation.selectors import job_fair_priority, job_queue

GPU_HUEY = huey_for(GPU)


@db_task()
def run_job(job_id: int) -> None:
    if job_queue(job_pk=job_id) != DEFAULT:
        # A message from before queues by capability (or sent by hand): pass it on unrun, so
        # a consumer without the capability never loads a model.
        _enqueue_job(sender=None, job_pk=job_id)
        return
    runner.job_run(job_id=job_id)


@GPU_HUEY.task()
@close_db
def run_gpu_job(job_id: int) -> None:
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


# Every consumer of the default queue (`manage.py run_huey`) says it serves it; run_gpu_worker
# announces the GPU queue itself, with its device and model state.
@HUEY.on_startup()
@close_db
def _announce_consumer() -> None:
    heartbeat_once(queue=DEFAULT)


@HUEY.on_shutdown()
@close_db
def _consumer_stopped() -> None:
    heartbeat_stop(queue=DEFAULT)


@receiver(signals.job_ready, dispatch_uid="tasks-run-job")
def _enqueue_job(sender, job_pk: int, delay: float = 0, **kwargs) -> None:
    task = run_gpu_job if job_queue(job_pk=job_pk) == GPU else run_job
    # Fair use needs a storage with priorities (SQLite, Redis with PriorityRedisHuey); the
    # others take plain FIFO.
    prioritised = getattr(task.huey.storage, "priority", False)
    priority = job_fair_priority(job_pk=job_pk) if prioritised else None
    if delay > 0:
        task.schedule((job_pk,), delay=delay, priority=priority)
    else:
        task(job_pk, priority=priority)


@receiver(signals.webhook_ready, dispatch_uid="tasks-deliver-webhook")
def _enqueue_delivery(sender, delivery_pk: int, delay: float = 0, **kwargs) -> None:
    if delay > 0:
        deliver_webhook.schedule((delivery_pk,), delay=delay)
    else:
        deliver_webhook(delivery_pk)
