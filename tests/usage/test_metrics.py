"""/metrics shows the ledger's totals (issue 16 left them to the ledger): units and cost by
backend, model and outcome, read from the ledger at scrape time."""

from decimal import Decimal

import pytest
from prometheus_client.parser import text_string_to_metric_families

from generation import lifecycle
from tests.factories import make_job
from usage.ledger import correction_record
from usage.models import LedgerEntry

pytestmark = pytest.mark.django_db

TOKEN = {"HTTP_AUTHORIZATION": "Bearer test-metrics-token"}


def _scrape(client) -> dict:
    response = client.get("/metrics", **TOKEN)
    assert response.status_code == 200, response.content
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def _value(samples: dict, name: str, **labels) -> float:
    return sum(
        value
        for (sample, sample_labels), value in samples.items()
        if sample == name and set(labels.items()) <= set(sample_labels)
    )


def test_ledger_units_and_cost_by_backend_model_and_outcome(client, owner, staff, priced):
    make_job(owner, n=3)
    canceled = make_job(owner, run=False)
    lifecycle.job_cancel(job=canceled)  # canceled before any work: no unit
    samples = _scrape(client)
    demo = {"backend": "demo", "model": "qwen-image"}
    assert _value(samples, "qwen_usage_units", outcome="succeeded", counted="true", **demo) == 3
    assert _value(samples, "qwen_usage_units", outcome="canceled", **demo) == 0
    assert _value(samples, "qwen_usage_cost", outcome="succeeded", currency="USD", **demo) == (
        pytest.approx(0.03)
    )
    entry = LedgerEntry.objects.filter(kind="work").first()
    correction_record(entry=entry, amount=Decimal("-0.01"), reason="refund", by=staff)
    samples = _scrape(client)
    assert _value(samples, "qwen_usage_cost", outcome="correction") == pytest.approx(-0.01)
    # The ledger total on /metrics is the ledger's own sum.
    total = sum(LedgerEntry.objects.values_list("cost_micros", flat=True)) / 1_000_000
    assert _value(samples, "qwen_usage_cost") == pytest.approx(total)
