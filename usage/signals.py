"""Signals of usage: how its services hand work to the queue without importing it.
usage/tasks.py connects to these; UsageConfig.ready() imports it in every process."""

from django.dispatch import Signal

# A budget alert was recorded (after commit): sent with alert_pk.
budget_alert_ready = Signal()
