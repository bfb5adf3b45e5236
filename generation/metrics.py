"""Generation's metrics: webhook attempts as they happen (counted in the process that makes
them; backend calls are in backends/metrics.py), and the state of jobs, the queue and
deliveries read from the database at scrape time. core/metrics.py renders them at /metrics."""

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter
from prometheus_client.core import GaugeMetricFamily

from generation.models import Job, WebhookDelivery

WEBHOOK_ATTEMPTS = Counter(
    "qwen_webhook_attempts_total",
    "Webhook delivery attempts, by the receiver's HTTP status class (or none) and the outcome "
    "the delivery has after it (pending: will be retried).",
    ["status_class", "outcome"],
)


def webhook_attempt_observed(*, status_code: int | None, outcome: str) -> None:
    status_class = f"{status_code // 100}xx" if status_code else "none"
    WEBHOOK_ATTEMPTS.labels(status_class=status_class, outcome=outcome).inc()


# --- Read at scrape time --------------------------------------------------------------------


def _queue_depth() -> float:
    # A broken queue must not break the scrape: it shows as NaN.
    try:
        from huey.contrib.djhuey import HUEY  # deferred: only a scrape needs the queue

        return float(HUEY.pending_count())
    except Exception:
        return float("nan")


def collect():
    """Jobs by status, the queue, the oldest queued job, webhook deliveries by status."""
    now = timezone.now()
    jobs = GaugeMetricFamily("qwen_jobs", "Jobs by status (all time).", labels=["status"])
    counts = dict(
        Job.objects.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    for status in Job.Status.values:
        jobs.add_metric([status], counts.get(status, 0))
    yield jobs

    oldest = Job.objects.filter(status=Job.Status.QUEUED, enqueued_at__lte=now).aggregate(
        at=Min("enqueued_at")
    )["at"]
    yield GaugeMetricFamily(
        "qwen_queue_oldest_job_age_seconds",
        "How long the oldest queued job has been waiting for a worker (0 when none).",
        value=max(0.0, (now - oldest).total_seconds()) if oldest else 0.0,
    )
    yield GaugeMetricFamily(
        "qwen_queue_depth",
        "Tasks waiting in the Huey queue (jobs and webhook deliveries).",
        value=_queue_depth(),
    )
    deliveries = GaugeMetricFamily(
        "qwen_webhook_deliveries", "Webhook deliveries by status (all time).", labels=["status"]
    )
    counts = dict(
        WebhookDelivery.objects.order_by()
        .values_list("status")
        .annotate(n=Count("id"))
        .values_list("status", "n")
    )
    for status in WebhookDelivery.Status.values:
        deliveries.add_metric([status], counts.get(status, 0))
    yield deliveries
