"""Generation's metrics: backend calls and webhook attempts as they happen (counted in the
process that makes them), and the state of jobs, the queue and deliveries read from the
database at scrape time. core/metrics.py renders them at /metrics."""

from django.db.models import Count, Min
from django.utils import timezone
from prometheus_client import Counter, Histogram
from prometheus_client.core import GaugeMetricFamily

from generation.models import Job, WebhookDelivery

BACKEND_CALL_SECONDS = Histogram(
    "qwen_backend_call_duration_seconds",
    "One backend call (an attempt of a job; for the remote backend, each upstream request), "
    "by backend and outcome (ok or the error code).",
    ["backend", "outcome"],
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120, 300),
)
BACKEND_ERRORS = Counter(
    "qwen_backend_errors_total",
    "Backend calls that failed, by backend, error code and whether they will be retried.",
    ["backend", "code", "retryable"],
)
WEBHOOK_ATTEMPTS = Counter(
    "qwen_webhook_attempts_total",
    "Webhook delivery attempts, by the receiver's HTTP status class (or none) and the outcome "
    "the delivery has after it (pending: will be retried).",
    ["status_class", "outcome"],
)


def backend_call_observed(
    *, backend: str, seconds: float, code: str = "", retryable: bool = False
) -> None:
    """One call ended: `code` empty when it succeeded, else its error code."""
    BACKEND_CALL_SECONDS.labels(backend=backend, outcome=code or "ok").observe(seconds)
    if code:
        BACKEND_ERRORS.labels(
            backend=backend, code=code, retryable="true" if retryable else "false"
        ).inc()


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
