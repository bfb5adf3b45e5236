"""Usage's metrics: the ledger's totals (units of work and their cost, by backend, model and
outcome), read from the database at scrape time so every process answers alike.
core/metrics.py renders them at /metrics; UsageConfig.ready() registers `collect`."""

from django.conf import settings
from django.db.models import Count, Q, Sum
from prometheus_client.core import GaugeMetricFamily

from usage.models import EntryKind, LedgerEntry

MICROS = 1_000_000


def collect():
    """Ledger totals (all time): work units and cost by backend, model and outcome (the
    entry's status: succeeded, failed, canceled, rejected, not_sent, lost, started), plus
    corrections as the outcome `correction`. Storage entries carry no cost and are left out."""
    units = GaugeMetricFamily(
        "qwen_usage_units",
        "Units of backend work in the usage ledger (one upstream call or one local image), "
        "by backend, model and outcome; `counted` says whether they count against quotas.",
        labels=["backend", "model", "outcome", "counted"],
    )
    cost = GaugeMetricFamily(
        "qwen_usage_cost",
        "Cost recorded in the usage ledger, in the portal's currency, by backend, model and "
        "outcome (corrections included, as outcome `correction`).",
        labels=["backend", "model", "outcome", "currency"],
    )
    currency = settings.USAGE_CURRENCY
    rows = (
        LedgerEntry.objects.exclude(kind=EntryKind.STORAGE)
        .order_by()
        .values_list("kind", "backend", "model", "status")
        .annotate(
            n_counted=Count("id", filter=Q(counted=True)),
            n_uncounted=Count("id", filter=Q(counted=False)),
            micros=Sum("cost_micros"),
        )
    )
    spent: dict[tuple[str, str, str], int] = {}
    for kind, backend, model, status, counted, uncounted, micros in rows:
        outcome = status if kind == EntryKind.WORK else kind
        if kind == EntryKind.WORK:
            if counted:
                units.add_metric([backend, model, outcome, "true"], counted)
            if uncounted:
                units.add_metric([backend, model, outcome, "false"], uncounted)
        key = (backend, model, outcome)
        spent[key] = spent.get(key, 0) + (micros or 0)
    for (backend, model, outcome), micros in sorted(spent.items()):
        cost.add_metric([backend, model, outcome, currency], micros / MICROS)
    yield units
    yield cost
