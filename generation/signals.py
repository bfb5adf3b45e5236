"""Signals of the job lifecycle: how services hand work to the queue and to webhooks without
importing them. generation/tasks.py and generation/webhooks.py connect to these; the app's
ready() imports both, so every process that sends also has the receivers."""

from django.dispatch import Signal

# A worker should run the job: sent after commit with job_pk, delay (seconds) and priority.
job_ready = Signal()
# The job reached `succeeded`, `failed` or `canceled`: sent with job_pk. A failing receiver is
# logged and never undoes the job's result (send_robust).
job_finished = Signal()
# A webhook delivery is due: sent with delivery_pk and delay (seconds).
webhook_ready = Signal()
