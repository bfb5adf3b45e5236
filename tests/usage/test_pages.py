"""Usage pages: cost and images per day as SVG charts with a table, per member and per key for
team owners and admins, budgets, CSV exports; who may see what; query counts that stay put."""

import csv
import datetime as dt
import io
import re
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.keys import api_key_create
from accounts.models import Membership
from generation import lifecycle
from tests.apiclient import post_json
from tests.factories import make_job, make_user
from tests.usage.conftest import age, budget, units
from usage.charts import bar_chart
from usage.ledger import correction_record
from usage.models import Reservation
from usage.selectors import DayUsage, team_usage_by_member, usage_per_day, usage_summary

pytestmark = pytest.mark.django_db


def _timed(job, *, wait: float, run: float) -> None:
    """Give a job's hold a queue wait and a run time."""
    hold = Reservation.objects.get(job_ref=job.public_id)
    first = hold.opened_at + dt.timedelta(seconds=wait)
    Reservation.objects.filter(pk=hold.pk).update(
        first_started_at=first, closed_at=first + dt.timedelta(seconds=run)
    )


def test_usage_per_day_covers_the_window_with_zeros(owner, priced):
    age(make_job(owner, n=2), 0)
    age(make_job(owner, n=1), 3)
    age(make_job(owner, n=4), 40)  # outside the window
    days = usage_per_day(user=owner)
    assert len(days) == 30 and days[-1].day == timezone.now().date()
    assert (days[-1].images, days[-1].cost_micros) == (2, 20_000)
    assert days[-4].images == 1
    assert sum(d.images for d in days) == 3 and len(usage_per_day(user=owner, days=90)) == 90


def test_summary_counts_outcomes_cost_and_times(owner, staff, priced):
    _timed(make_job(owner), wait=2, run=6)
    _timed(make_job(owner), wait=4, run=10)
    failed = make_job(owner, run=False)
    lifecycle.job_fail(job=failed, code="boom", message="broken")
    correction_record(by=staff, amount=Decimal("0.5"), reason="manual top-up", user=owner)
    summary = usage_summary(user=owner)
    assert (summary.jobs, summary.succeeded, summary.failed, summary.images) == (3, 2, 1, 2)
    assert summary.cost_micros == 520_000
    assert summary.avg_run == dt.timedelta(seconds=8)
    assert summary.avg_wait == dt.timedelta(seconds=3)


def test_usage_page_draws_accessible_charts_and_a_table(owner, owner_client, priced):
    make_job(owner, n=3)
    body = owner_client.get(reverse("usage")).content.decode()
    for chart_id, title, total in (
        ("cost-chart", "Cost per day", "$0.03"),
        ("images-chart", "Images per day", "3 images"),
    ):
        start = body.index(f'aria-labelledby="{chart_id}-title {chart_id}-desc"')
        svg = body[start : body.index("</svg>", start)]
        assert f'<title id="{chart_id}-title">{title}</title>' in svg
        assert f"{total} in the last 30 days" in svg
        assert svg.count("<rect") == 30
    assert "Data table" in body and re.search(r"<td>3</td><td>\$0.03</td>", body)
    assert "Average wait" in body and "Failed" in body and "Download CSV" in body


def test_cost_chart_ticks_read_as_money():
    today = timezone.now().date()
    days = [
        DayUsage(today - dt.timedelta(days=2 - i), 0, c) for i, c in enumerate([0, 420_000, 10_000])
    ]
    chart = bar_chart(days, measure="cost")
    assert [t.text for t in chart.ticks] == ["$0.00", "$0.20", "$0.40", "$0.60", "$0.80"]
    zero, peak, small = chart.bars
    assert zero.height == 0 and peak.height > small.height > 0 and peak.text == "$0.42"
    assert peak.y + peak.height == chart.bottom


def test_periods_are_7_30_or_90_days(owner, owner_client):
    assert "Last 7 days" in owner_client.get(reverse("usage") + "?days=7").content.decode()
    body = owner_client.get(reverse("usage") + "?days=5000").content.decode()
    assert '<h2 id="period-heading">Last 30 days</h2>' in body


def test_usage_page_lists_work_per_api_key(
    owner, owner_client, client, django_capture_on_commit_callbacks
):
    key, secret = api_key_create(user=owner, name="nightly")
    with django_capture_on_commit_callbacks(execute=True):  # the worker runs the job
        post_json(
            client,
            "/v1/jobs",
            {"prompt": "x", "n": 2},
            headers={"HTTP_AUTHORIZATION": f"Bearer {secret}"},
        )
    body = owner_client.get(reverse("usage")).content.decode()
    section = body[body.index('id="keys-heading"') :]
    assert "nightly" in section and key.prefix in section


def test_usage_page_shows_budgets_with_a_meter(owner, team, owner_client, priced):
    budget(team=team, budget=Decimal("0.05"), soft_threshold_percent=50)
    make_job(owner, n=3)
    body = owner_client.get(reverse("usage")).content.decode()
    assert "Team Studio budget" in body and "<strong>$0.03</strong> of $0.05" in body
    assert 'max="50000" value="30000"' in body and "past the 50% warning" in body


def test_team_usage_per_member_and_per_key_for_owners_and_admins(
    owner, teammate, owner_client, client, team, priced, django_capture_on_commit_callbacks
):
    age(make_job(owner, n=2), 1)
    age(make_job(teammate, n=1), 0)
    _, secret = api_key_create(user=teammate, name="teammate-ci")
    with django_capture_on_commit_callbacks(execute=True):
        post_json(
            client, "/v1/jobs", {"prompt": "x"}, headers={"HTTP_AUTHORIZATION": f"Bearer {secret}"}
        )
    rows = {row.membership.user.username: row.summary for row in team_usage_by_member(team=team)}
    assert rows["owner"].images == 2 and rows["teammate"].images == 2
    assert rows["owner"].cost_micros == 20_000
    page = owner_client.get(reverse("team-usage", args=[team.public_id])).content.decode()
    assert "Usage of Studio" in page and "teammate" in page and "teammate-ci" in page
    member = owner_client.get(reverse("team-usage", args=[team.public_id]) + "?member=teammate")
    assert b"Usage of teammate in Studio" in member.content
    assert b"2 images in the last 30 days" in member.content


def test_team_usage_is_closed_to_members_and_outsiders(
    teammate_client, outsider_client, anonymous_client, staff_client, team
):
    for name in ("team-usage", "team-usage-export"):
        url = reverse(name, args=[team.public_id])
        assert teammate_client.get(url).status_code == 403
        assert outsider_client.get(url).status_code == 404
        assert staff_client.get(url).status_code == 404  # staff read the ledger in the admin
        assert anonymous_client.get(url).status_code == 302


def test_a_member_who_left_sees_nothing_of_the_team(owner, teammate, teammate_client, team):
    Membership.objects.filter(team=team, user=teammate).update(role="admin")
    url = reverse("team-usage-export", args=[team.public_id])
    assert teammate_client.get(url).status_code == 200
    Membership.objects.filter(team=team, user=teammate).delete()
    assert teammate_client.get(url).status_code == 404


def test_team_usage_only_counts_work_made_in_the_team(owner, teammate, team, other_team):
    Membership.objects.create(team=other_team, user=teammate)
    teammate.profile.current_team = other_team
    teammate.profile.save()
    make_job(teammate, n=4)  # elsewhere: not Studio's business
    rows = {row.membership.user.username: row.summary for row in team_usage_by_member(team=team)}
    assert rows["teammate"].images == 0


def _csv(response) -> list[dict]:
    assert response["Content-Type"].startswith("text/csv")
    assert "attachment" in response["Content-Disposition"]
    text = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(text)))


def test_csv_export_of_your_own_ledger(owner, teammate, owner_client, priced):
    job = make_job(owner, n=2)
    make_job(teammate, n=1)  # not the owner's
    rows = _csv(owner_client.get(reverse("usage-export")))
    assert [r["job_id"] for r in rows] == [str(job.public_id)] * 2
    assert {r["status"] for r in rows} == {"succeeded"} and rows[0]["cost"] == "0.010000"
    assert rows[0]["user"] == "owner" and rows[0]["team"] == "Studio"
    assert rows[0]["currency"] == "USD" and rows[0]["estimated"] == "no"


def test_team_csv_export_for_one_member(owner, teammate, owner_client, team):
    make_job(owner, n=1)
    make_job(teammate, n=2)
    url = reverse("team-usage-export", args=[team.public_id])
    assert len(_csv(owner_client.get(url))) == 3
    assert {r["user"] for r in _csv(owner_client.get(url + "?member=teammate"))} == {"teammate"}
    assert owner_client.get(url + "?member=nobody").status_code == 404


def test_csv_cells_never_start_a_formula(owner, owner_client, staff):
    make_job(owner, n=1)
    correction_record(by=staff, amount=Decimal("1"), reason='=HYPERLINK("http://x")', user=owner)
    key, _ = api_key_create(user=owner, name="+cmd|' /C calc'!A0")
    units_row = units(make_job(owner, run=True)).first()
    type(units_row).objects.filter(pk=units_row.pk).update(api_key=key)
    rows = _csv(owner_client.get(reverse("usage-export")))
    assert any(r["reason"] == '\'=HYPERLINK("http://x")' for r in rows)
    assert any(r["api_key"].startswith("'+cmd") for r in rows)


def test_usage_exports_need_a_sign_in(anonymous_client):
    assert anonymous_client.get(reverse("usage-export")).status_code == 302


def test_usage_page_query_count_does_not_grow(owner, owner_client):
    make_job(owner)
    owner_client.get(reverse("usage"))
    with CaptureQueriesContext(connection) as few:
        owner_client.get(reverse("usage"))
    for days in range(10):
        age(make_job(owner), days)
    api_key_create(user=owner, name="a")
    with CaptureQueriesContext(connection) as many:
        owner_client.get(reverse("usage"))
    assert len(many) == len(few) <= 16


def test_team_usage_query_count_does_not_grow(owner, owner_client, team):
    url = reverse("team-usage", args=[team.public_id])
    owner_client.get(url)
    with CaptureQueriesContext(connection) as few:
        owner_client.get(url)
    for i in range(8):
        member = make_user(f"m{i}", team=team)
        make_job(member)
    with CaptureQueriesContext(connection) as many:
        response = owner_client.get(url)
    assert response.content.decode().count("?member=") == 9
    assert len(many) == len(few) <= 16


def test_generate_page_has_the_budget_bar(owner, owner_client, team, priced):
    budget(team=team, budget=Decimal("10"), budget_period="month")
    make_job(owner, n=2)
    body = owner_client.get(reverse("generate")).content.decode()
    bar = body[body.index("data-budget-bar") :]
    assert 'data-estimate-url="/v1/estimates"' in bar
    assert "Team Studio budget" in bar and "<strong>$0.02</strong> of $10.00" in bar
    assert "$0.01 per image" in bar  # the price rule, until budget.js fills the estimate
    assert "js/budget.js" in bar


def test_budget_bar_without_a_budget_shows_today(owner, owner_client):
    body = owner_client.get(reverse("generate")).content.decode()
    bar = body[body.index("data-budget-bar") :]
    assert "<strong>$0.00</strong> spent" in bar and "free" in bar
