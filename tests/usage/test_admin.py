"""The admin: the ledger is append-only (corrections are new rows with a reason), totals by
backend, model and team for any period, prices and limits editable."""

from decimal import Decimal

import pytest
from django.urls import reverse
from django.utils import timezone

from accounts.keys import api_key_create
from tests.factories import make_job
from tests.usage.conftest import units
from usage.models import LedgerEntry, Limit, Price

pytestmark = pytest.mark.django_db


def test_ledger_entries_can_be_read_but_never_changed_or_deleted(staff_client, owner):
    entry = units(make_job(owner)).get()
    change = reverse("admin:usage_ledgerentry_change", args=[entry.pk])
    page = staff_client.get(change)
    assert page.status_code == 200 and b"Save" not in page.content
    assert staff_client.post(change, {"reason": "edited"}).status_code == 403
    delete = reverse("admin:usage_ledgerentry_delete", args=[entry.pk])
    assert staff_client.post(delete, {"post": "yes"}).status_code == 403
    changelist = staff_client.get(reverse("admin:usage_ledgerentry_changelist"))
    assert b"delete_selected" not in changelist.content
    assert b"Add correction" in changelist.content and b"Totals by backend" in changelist.content
    entry.refresh_from_db()
    assert entry.reason == "" and LedgerEntry.objects.count() == 1


def test_a_correction_is_a_new_row_with_a_reason(staff_client, staff, owner, priced):
    entry = units(make_job(owner)).get()
    add = reverse("admin:usage_ledgerentry_add")
    refused = staff_client.post(add, {"corrects": entry.pk, "amount": "-0.01", "reason": ""})
    assert refused.status_code == 200 and b"A correction needs a reason" in refused.content
    done = staff_client.post(
        add, {"corrects": entry.pk, "amount": "-0.01", "reason": "Provider refunded it"}
    )
    assert done.status_code == 302
    fix = LedgerEntry.objects.get(kind="correction")
    assert (fix.cost_micros, fix.corrects_id, fix.user_id, fix.created_by_id) == (
        -10_000,
        entry.pk,
        owner.pk,
        staff.pk,
    )
    assert fix.reason == "Provider refunded it"
    entry.refresh_from_db()
    assert entry.cost_micros == 10_000


def test_totals_by_backend_model_and_team_for_any_period(staff_client, owner, outsider, priced):
    make_job(owner, n=2)
    make_job(outsider, n=1)
    today = timezone.now().date().isoformat()
    url = reverse("admin:usage_ledgerentry_totals")
    by_model = staff_client.get(url, {"since": today, "until": today, "by": "backend,model"})
    body = by_model.content.decode()
    assert by_model.status_code == 200
    assert "<td>demo</td><td>qwen-image</td><td>3</td><td>3</td>" in body
    assert "<strong>$0.03</strong>" in body
    by_team = staff_client.get(url, {"since": today, "until": today, "by": "team"}).content.decode()
    assert "<td>Studio</td><td>2</td>" in by_team and "<td>Elsewhere</td><td>1</td>" in by_team
    empty = staff_client.get(url, {"since": "2001-01-01", "until": "2001-01-31", "by": "team"})
    assert b"No ledger entries in this period" in empty.content


def test_totals_are_for_staff_only(owner_client, anonymous_client):
    url = reverse("admin:usage_ledgerentry_totals")
    assert owner_client.get(url).status_code == 302
    assert anonymous_client.get(url).status_code == 302


def test_prices_are_edited_in_the_admin(staff_client):
    price = Price.objects.get(backend="remote", model="")
    assert price.per_megapixel == Decimal("0.02")  # the migration's default
    response = staff_client.post(
        reverse("admin:usage_price_change", args=[price.pk]),
        {
            "backend": "remote",
            "model": "",
            "per_image": "0.001",
            "per_megapixel": "0.025",
            "per_step": "0",
            "note": "our contract",
        },
    )
    assert response.status_code == 302
    price.refresh_from_db()
    assert (price.per_image, price.per_megapixel) == (Decimal("0.001"), Decimal("0.025"))


def _team_form(team, **limit):
    data = {
        "name": team.name,
        "images_per_day": "",
        "concurrent_jobs": "",
        "memberships-TOTAL_FORMS": "0",
        "memberships-INITIAL_FORMS": "0",
        "invites-TOTAL_FORMS": "0",
        "invites-INITIAL_FORMS": "0",
        "usage_limit-TOTAL_FORMS": "1",
        "usage_limit-INITIAL_FORMS": "0",
        "usage_limit-0-budget_period": "month",
        "usage_limit-0-soft_threshold_percent": "80",
    }
    data.update({f"usage_limit-0-{name}": value for name, value in limit.items()})
    return data


def test_team_limits_are_set_inline_on_the_team(staff_client, team, settings):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com"]
    url = reverse("admin:accounts_team_change", args=[team.pk])
    refused = staff_client.post(
        url, _team_form(team, budget="50", alert_webhook_url="https://evil.example.net/x")
    )
    assert refused.status_code == 200 and b"is not allowed for webhooks" in refused.content
    saved = staff_client.post(
        url,
        _team_form(
            team, budget="50", images_per_day="500", alert_webhook_url="https://hooks.example.com/b"
        ),
    )
    assert saved.status_code == 302, saved.content.decode()[:3000]
    limit = Limit.objects.get(team=team)
    assert (limit.budget, limit.images_per_day) == (Decimal("50"), 500)
    assert limit.alert_webhook_secret.startswith("whsec_")


def test_api_key_limits_and_holds_are_in_the_admin(staff_client, owner):
    key, _ = api_key_create(user=owner)
    assert (
        staff_client.get(reverse("admin:accounts_apikey_change", args=[key.pk])).status_code == 200
    )
    assert staff_client.get(reverse("admin:usage_reservation_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:usage_budgetalert_changelist")).status_code == 200
    assert staff_client.get(reverse("admin:usage_limit_add")).status_code == 200


def test_a_limit_row_has_exactly_one_scope(owner, team):
    from django.db import IntegrityError, transaction

    with pytest.raises(IntegrityError), transaction.atomic():
        Limit.objects.create(user=owner, team=team)
    with pytest.raises(IntegrityError), transaction.atomic():
        Limit.objects.create()
