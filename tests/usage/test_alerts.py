"""Budget alerts: crossing the soft threshold or the whole budget e-mails the team's owners and
admins and posts a signed `budget.threshold` webhook, once per period."""

import json
from decimal import Decimal

import pytest
from django.core import mail

from accounts.models import Membership
from tests.factories import make_job, make_user
from tests.generation.test_webhooks import Receiver
from tests.usage.conftest import budget
from usage.alerts import signature
from usage.ledger import correction_record
from usage.models import BudgetAlert

pytestmark = pytest.mark.django_db


@pytest.fixture
def allow_localhost(settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["127.0.0.1"]
    settings.WEBHOOK_TIMEOUT_SECONDS = 5


def _job(user, n, capture):
    with capture(execute=True):
        return make_job(user, n=n)


def test_crossing_the_soft_threshold_mails_team_admins_and_posts_a_signed_webhook(
    owner, teammate, team, priced, allow_localhost, django_capture_on_commit_callbacks
):
    admin = make_user("admin", team=team, role="admin")
    Membership.objects.filter(user=admin).update(role="admin")
    with Receiver() as receiver:
        limit = budget(
            team=team,
            budget=Decimal("0.10"),
            soft_threshold_percent=50,
            alert_webhook_url=receiver.url,
        )
        _job(teammate, 4, django_capture_on_commit_callbacks)  # $0.04: below 50 %
        assert mail.outbox == [] and receiver.requests == []
        _job(teammate, 2, django_capture_on_commit_callbacks)  # $0.06: past it
        _job(owner, 1, django_capture_on_commit_callbacks)  # still past it: no second alert
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert sorted(message.to) == ["admin@example.com", "owner@example.com"]  # not the member
    assert message.subject == "Team Studio has used 60% of its budget"
    assert "$0.06 of $0.10 this month" in message.body and "/usage/" in message.body
    (request,) = receiver.requests
    headers = request["headers"]
    assert headers["X-Studio-Event"] == "budget.threshold"
    expected = signature(
        secret=limit.alert_webhook_secret,
        timestamp=int(headers["X-Studio-Timestamp"]),
        body=request["body"],
    )
    assert headers["X-Studio-Signature"] == expected
    payload = json.loads(request["body"])
    assert (payload["level"], payload["spent"], payload["percent"]) == ("soft", 0.06, 60.0)
    assert payload["scope"] == {"kind": "team", "id": str(team.public_id), "name": "Studio"}
    assert payload["budget"]["amount"] == 0.1 and payload["budget"]["period"] == "month"
    alert = BudgetAlert.objects.get()
    assert alert.emailed_at and alert.webhook_status.startswith("delivered")


def test_spending_the_whole_budget_sends_its_own_alert(
    owner, team, priced, django_capture_on_commit_callbacks
):
    budget(team=team, budget=Decimal("0.02"), soft_threshold_percent=50)
    _job(owner, 2, django_capture_on_commit_callbacks)
    subjects = sorted(m.subject for m in mail.outbox)
    assert subjects == [
        "Team Studio has used 100% of its budget",
        "Team Studio has used its whole budget",
    ]
    assert set(BudgetAlert.objects.values_list("level", flat=True)) == {"soft", "cap"}


def test_a_users_own_budget_alerts_the_user(owner, priced, django_capture_on_commit_callbacks):
    budget(user=owner, budget=Decimal("0.01"), budget_period="day", soft_threshold_percent=100)
    _job(owner, 1, django_capture_on_commit_callbacks)
    assert [m.to for m in mail.outbox] == [["owner@example.com"]] * 2


def test_a_charge_made_by_staff_can_cross_the_threshold(
    owner, team, staff, django_capture_on_commit_callbacks
):
    budget(team=team, budget=Decimal("10"))
    with django_capture_on_commit_callbacks(execute=True):
        correction_record(by=staff, amount=Decimal("9"), reason="GPU hours", team=team)
    assert [m.subject for m in mail.outbox] == ["Team Studio has used 90% of its budget"]


def test_a_webhook_to_a_host_not_allowed_is_refused_not_sent(
    owner, team, priced, settings, django_capture_on_commit_callbacks
):
    settings.WEBHOOK_ALLOWED_HOSTS = []
    with Receiver() as receiver:
        budget(team=team, budget=Decimal("0.01"), alert_webhook_url=receiver.url)
        _job(owner, 1, django_capture_on_commit_callbacks)
    assert receiver.requests == []
    assert BudgetAlert.objects.filter(webhook_status__startswith="refused").count() == 2
    assert len(mail.outbox) == 2  # the e-mails still go


def test_no_budget_no_alert(owner, priced, django_capture_on_commit_callbacks):
    _job(owner, 3, django_capture_on_commit_callbacks)
    assert mail.outbox == [] and not BudgetAlert.objects.exists()
