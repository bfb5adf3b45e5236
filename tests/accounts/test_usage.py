"""Usage pages: images per day as an SVG chart with a table, failures, wait and run times."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from generation import lifecycle
from generation.models import Image, Job
from tests.factories import make_job, make_job_row, make_user
from usage.charts import bar_chart
from usage.selectors import DayCount, team_usage_by_member, usage_images_per_day, usage_summary

pytestmark = pytest.mark.django_db


def _age(job: Job, days: int, *, wait: float = 2.0, run: float = 5.0) -> None:
    """Move a job (and its images) `days` back, with a given queue wait and run time."""
    created = timezone.now() - dt.timedelta(days=days)
    started = created + dt.timedelta(seconds=wait)
    Job.objects.filter(pk=job.pk).update(
        created_at=created,
        started_at=started,
        finished_at=started + dt.timedelta(seconds=run),
    )
    Image.objects.filter(job=job).update(created_at=created)


def test_images_per_day_covers_30_days_with_zeros(owner):
    _age(make_job_row(owner, n=2), 0)
    _age(make_job_row(owner, n=1), 3)
    _age(make_job_row(owner, n=4), 40)  # outside the window
    days = usage_images_per_day(user=owner)
    assert len(days) == 30 and days[-1].day == timezone.now().date()
    assert days[-1].images == 2 and days[-4].images == 1
    assert sum(d.images for d in days) == 3


def test_summary_counts_failures_and_averages_wait_and_run(owner):
    _age(make_job_row(owner), 1, wait=2, run=6)
    _age(make_job_row(owner), 2, wait=4, run=10)
    failed = make_job(owner, run=False)
    lifecycle.job_fail(job=failed, code="boom", message="broken")
    summary = usage_summary(user=owner)
    assert (summary.jobs, summary.succeeded, summary.failed, summary.images) == (3, 2, 1, 2)
    assert summary.avg_run == dt.timedelta(seconds=8)
    assert summary.avg_wait == dt.timedelta(seconds=3)


def test_usage_page_draws_an_accessible_chart_and_a_table(owner, owner_client):
    _age(make_job_row(owner, n=3), 0)
    body = owner_client.get(reverse("usage")).content.decode()
    svg = body[body.index("<svg") : body.index("</svg>")]
    assert 'role="img"' in svg and 'aria-labelledby="chart-title chart-desc"' in svg
    assert '<title id="chart-title">Images per day</title>' in svg
    assert "3 images in the last 30 days" in svg
    assert svg.count("<rect") == 30
    assert "Data table" in body and re.search(r"<td>3</td>", body)
    assert "Average wait" in body and "Failed" in body


def test_chart_bars_scale_to_the_busiest_day():
    today = timezone.now().date()
    days = [DayCount(today - dt.timedelta(days=2 - i), n) for i, n in enumerate([0, 10, 5])]
    chart = bar_chart(days)
    zero, peak, half = chart.bars
    assert zero.height == 0 and peak.height > half.height > 0
    assert chart.ticks[-1].value >= 10 and chart.peak == 10 and chart.total == 15
    assert peak.y + peak.height == chart.bottom


def test_team_usage_per_member_for_owners_and_admins(owner, teammate, owner_client, team):
    _age(make_job_row(owner, n=2), 1)
    _age(make_job_row(teammate, n=1), 0)
    rows = {row.membership.user.username: row.summary for row in team_usage_by_member(team=team)}
    assert rows["owner"].images == 2 and rows["teammate"].images == 1
    page = owner_client.get(reverse("team-usage", args=[team.public_id])).content.decode()
    assert "Usage of Studio" in page and "teammate" in page
    member = owner_client.get(reverse("team-usage", args=[team.public_id]) + "?member=teammate")
    assert b"Usage of teammate in Studio" in member.content
    assert b"1 image in the last 30 days" in member.content


def test_team_usage_is_closed_to_members_and_outsiders(teammate_client, outsider_client, team):
    url = reverse("team-usage", args=[team.public_id])
    assert teammate_client.get(url).status_code == 403
    assert outsider_client.get(url).status_code == 404


def test_team_usage_only_counts_jobs_made_in_the_team(owner, teammate, team, other_team):
    Membership.objects.create(team=other_team, user=teammate)
    teammate.profile.current_team = other_team
    teammate.profile.save()
    make_job_row(teammate, n=4)  # elsewhere: not Studio's business
    rows = {row.membership.user.username: row.summary for row in team_usage_by_member(team=team)}
    assert rows["teammate"].images == 0


def test_usage_page_query_count_does_not_grow(owner, owner_client):
    make_job_row(owner)
    with CaptureQueriesContext(connection) as few:
        owner_client.get(reverse("usage"))
    for days in range(10):
        _age(make_job_row(owner), days)
    with CaptureQueriesContext(connection) as many:
        owner_client.get(reverse("usage"))
    assert len(many) == len(few) <= 8


def test_team_usage_query_count_does_not_grow(owner, owner_client, team):
    url = reverse("team-usage", args=[team.public_id])
    with CaptureQueriesContext(connection) as few:
        owner_client.get(url)
    for i in range(8):
        member = make_user(f"m{i}", team=team)
        make_job_row(member)
    with CaptureQueriesContext(connection) as many:
        response = owner_client.get(url)
    assert response.content.decode().count("?member=") == 9
    assert len(many) == len(few) <= 10
