"""Huey tasks of usage: take ids, call a service. Safe to run twice."""

from django.dispatch import receiver
from huey.contrib.djhuey import db_task

from usage import alerts, signals


@db_task(retries=5, retry_delay=60)
def send_budget_alert(alert_pk: int) -> None:
    alerts.alert_send(alert_pk=alert_pk)


@receiver(signals.budget_alert_ready, dispatch_uid="usage-send-budget-alert")
def _enqueue_alert(sender, alert_pk: int, **kwargs) -> None:
    send_budget_alert(alert_pk)
