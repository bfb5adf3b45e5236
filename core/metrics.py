"""Prometheus metrics: the request metrics, the collectors apps register, and /metrics.

Counters and histograms live in each process (web workers, Huey consumers). When
PROMETHEUS_MULTIPROC_DIR is set (settings set it under var/ by default) prometheus_client's
multiprocess mode adds up every process of this host from the files there, so one scrape of
any web process shows the consumers' backend calls too. Numbers that live in the database
(jobs by state, queue depth, webhook deliveries) are read at scrape time by collectors that
apps register here (`scrape_collector_register`), so they are right whichever process
answers. docs/production.md, "Metrics".
"""

import hmac
import os
from collections.abc import Callable, Iterable

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    multiprocess,
)
from prometheus_client.metrics_core import Metric

REQUESTS = Counter(
    "qwen_http_requests_total",
    "HTTP requests answered, by method, route pattern and status.",
    ["method", "route", "status"],
)
REQUEST_SECONDS = Histogram(
    "qwen_http_request_duration_seconds",
    "Time to answer an HTTP request, by method and route pattern.",
    ["method", "route"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
)


def request_observed(*, method: str, route: str, status: int, seconds: float) -> None:
    REQUESTS.labels(method=method, route=route, status=str(status)).inc()
    REQUEST_SECONDS.labels(method=method, route=route).observe(seconds)


# --- Collectors that read at scrape time ----------------------------------------------------

_scrape_collectors: list[Callable[[], Iterable[Metric]]] = []


def scrape_collector_register(collect: Callable[[], Iterable[Metric]]) -> None:
    """An app's function yielding metric families (e.g. counts from its tables); called on
    every scrape. Registered in AppConfig.ready(), once per process."""
    if collect not in _scrape_collectors:
        _scrape_collectors.append(collect)


class _Collect:
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()


def metrics_text() -> bytes:
    """The exposition text of everything: this host's processes and the registered reads."""
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_Collect(REGISTRY.collect))
    for collect in _scrape_collectors:
        registry.register(_Collect(collect))
    return generate_latest(registry)


# --- The view -------------------------------------------------------------------------------


def _token_ok(request) -> bool:
    expected = settings.METRICS_TOKEN
    header = request.headers.get("Authorization", "")
    scheme, _, given = header.partition(" ")
    if not expected or scheme.lower() != "bearer" or not given:
        return False
    return hmac.compare_digest(given.strip().encode(), expected.encode())


@never_cache
@require_GET
def metrics_view(request):
    """Prometheus text for staff (a browser session) or `Authorization: Bearer METRICS_TOKEN`."""
    user = getattr(request, "user", None)
    if not (_token_ok(request) or (user is not None and user.is_active and user.is_staff)):
        response = HttpResponse(
            "Metrics need a staff session or Authorization: Bearer <METRICS_TOKEN>.\n",
            status=401 if not request.headers.get("Authorization") else 403,
            content_type="text/plain; charset=utf-8",
        )
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(metrics_text(), content_type=CONTENT_TYPE_LATEST)
