"""Backend call metrics, counted in the process that makes the call (rendered at /metrics by
core/metrics.py). Here, not in generation/metrics.py, so backends import nothing of the app."""

from prometheus_client import Counter, Histogram

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


def backend_call_observed(
    *, backend: str, seconds: float, code: str = "", retryable: bool = False
) -> None:
    """One call ended: `code` empty when it succeeded, else its error code."""
    BACKEND_CALL_SECONDS.labels(backend=backend, outcome=code or "ok").observe(seconds)
    if code:
        BACKEND_ERRORS.labels(
            backend=backend, code=code, retryable="true" if retryable else "false"
        ).inc()
