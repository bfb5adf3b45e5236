"""Every scope's page is walked from an index that matches its filter and order, at any depth:
a member of several teams, pages at the end of a scope, ties in time, a rare search word."""

import datetime as dt
import re

import pytest
from django.db import connection
from django.db.models import Q
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import Membership
from core.db import query_statistics_refresh
from gallery import selectors
from generation.models import Image, Job
from tests.factories import make_job, make_team
from tests.gallery.helpers import grid, ids

pytestmark = pytest.mark.django_db

sqlite_only = pytest.mark.skipif(
    connection.vendor != "sqlite", reason="SQLite's planner (PostgreSQL: bench/gallery.py)"
)


def _images(user, count: int, visibility: str, prompt: str = "a quiet harbour") -> list[Image]:
    images = []
    while len(images) < count:
        job = make_job(user, visibility=visibility, n=min(4, count - len(images)), prompt=prompt)
        images += list(job.images.all())
    return images


def _newest_first(images) -> list[Image]:
    return sorted(images, key=lambda i: (i.created_at, i.pk), reverse=True)


def test_member_of_two_teams_sees_both_teams_shared_images_in_order(
    owner, teammate, outsider, owner_client, other_team, settings
):
    Membership.objects.create(team=other_team, user=owner, role="member")
    shared = _images(teammate, 5, "team") + _images(outsider, 4, "public")
    shared += _images(outsider, 3, "team")  # other_team's team images: the owner is in it now
    _images(teammate, 3, "private")
    _images(outsider, 2, "private")
    settings.GALLERY_PAGE_SIZE = 4  # pages end inside one team's run and the other's
    assert grid(owner_client, scope="team") == ids(*_newest_first(shared))
    assert grid(owner_client, scope="team", sort="oldest") == ids(*reversed(_newest_first(shared)))


def test_pages_cover_images_made_in_the_same_instant_once(owner, owner_client, settings):
    images = _images(owner, 9, "private")
    instant = timezone.now() - dt.timedelta(hours=1)
    Image.objects.filter(pk__in=[i.pk for i in images]).update(created_at=instant)
    settings.GALLERY_PAGE_SIZE = 2
    expected = ids(*sorted(images, key=lambda i: i.pk, reverse=True))
    assert grid(owner_client) == expected
    assert grid(owner_client, sort="oldest") == expected[::-1]


def test_team_page_costs_the_same_queries_for_one_team_or_three(
    owner, teammate, owner_client, other_team
):
    _images(teammate, 3, "team")

    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert owner_client.get("/gallery/", {"scope": "team"}).status_code == 200
        return len(captured)

    one = count()
    Membership.objects.create(team=other_team, user=owner, role="member")
    Membership.objects.create(team=make_team("Third"), user=owner, role="member")
    assert count() == one


def test_team_scope_states_the_partial_index_condition_literally(owner, teammate):
    """SQLite compares the query's terms with the index's; a bound parameter never matches."""
    _images(teammate, 2, "team")
    filters = selectors.image_filters_parse(user=owner, data={"scope": "team"})
    with CaptureQueriesContext(connection) as captured:
        selectors.images_list(user=owner, filters=filters)
    assert any("\"visibility\" IN ('team', 'public')" in q["sql"] for q in captured)


def test_in_constants_takes_only_word_constants():
    with pytest.raises(ValueError):
        str(Image.objects.filter(visibility__in_constants=["team'); DROP TABLE x; --"]).query)


# --- The plans SQLite runs (with the parameters bound, as in production) ------------------------


def _plans(user, data: dict, cursor: str | None = None) -> list[str]:
    """EXPLAIN QUERY PLAN of each query images_list runs, with its real bound parameters."""
    ran = []

    def capture(execute, sql, params, many, context):
        ran.append((sql, params))
        return execute(sql, params, many, context)

    filters = selectors.image_filters_parse(user=user, data=data)
    with connection.execute_wrapper(capture):
        page = selectors.images_list(user=user, filters=filters, cursor=cursor)
    plans = []
    with connection.cursor() as db:
        for sql, params in ran:
            if "generation_image" in sql and "LIMIT" in sql:
                db.execute("EXPLAIN QUERY PLAN " + sql, params)
                plans.append("\n".join(row[3] for row in db.fetchall()))
    return plans, page


def _bulk_images(user, count: int, visibility: str, prompt=lambda i: "a quiet harbour") -> None:
    """`count` finished images without running jobs (enough rows for the planner to weigh)."""
    now = timezone.now()
    jobs = Job.objects.bulk_create(
        Job(
            user=user,
            team=user.profile.current_team,
            backend="demo",
            model="qwen-image",
            prompt=prompt(i),
            width=64,
            height=48,
            seed=i,
            status=Job.Status.SUCCEEDED,
            visibility=visibility,
        )
        for i in range(count)
    )
    Image.objects.bulk_create(
        Image(
            job=job,
            index=0,
            user=user,
            team_id=job.team_id,
            visibility=visibility,
            seed=job.seed,
            file="x.png",
            thumbnail="x.webp",
            width=64,
            height=48,
            byte_size=1,
            sha256="0" * 64,
            created_at=now - dt.timedelta(seconds=i),
        )
        for i, job in enumerate(jobs)
    )


@sqlite_only
def test_team_pages_walk_the_shared_index_at_any_depth(owner, teammate):
    _bulk_images(teammate, 300, "team")
    _bulk_images(teammate, 300, "private")
    plans, page = _plans(owner, {"scope": "team"})
    assert "USING INDEX image_team_shared (team_id=?)" in plans[0]
    deep, _ = _plans(owner, {"scope": "team"}, cursor=page.next_cursor)
    # The cursor bounds the walk: the page starts where the last one ended, not at the top.
    assert re.search(r"image_team_shared \(team_id=\? AND created_at<\?\)", deep[0])


@sqlite_only
@pytest.mark.parametrize("scope", ["mine", "public"])
def test_mine_and_public_pages_are_bounded_walks(scope, owner):
    _bulk_images(owner, 120, "public")
    plans, page = _plans(owner, {"scope": scope})
    deep, _ = _plans(owner, {"scope": scope}, cursor=page.next_cursor)
    index = {"mine": "image_user_created", "public": "image_visibility_created"}[scope]
    assert re.search(rf"{index} \((user_id|visibility)=\? AND created_at<\?\)", deep[0])


@sqlite_only
def test_rare_word_drives_the_page_from_its_matches(owner, teammate):
    _bulk_images(teammate, 600, "team", prompt=lambda i: "zeppelin" if i % 100 == 0 else "fox")
    query_statistics_refresh()
    plans, page = _plans(owner, {"scope": "team", "q": "zeppelin"})
    assert len(page.images) == 6
    # From the few matching jobs to their images, not along the team's 600 images.
    assert "generation_image_job_id" in plans[-1] and "image_team_shared" not in plans[-1]


@pytest.mark.parametrize("scope", ["mine", "team", "public"])
@pytest.mark.parametrize("who", ["owner", "teammate", "outsider", "anonymous", "staff"])
def test_the_narrowed_rule_shows_exactly_what_the_visibility_rule_shows(
    scope, who, owner, teammate, outsider, staff
):
    from django.contrib.auth.models import AnonymousUser

    from generation.selectors import image_visibility_within_q, images_visible_to, user_team_ids

    for user in (owner, teammate, outsider):
        for visibility in ("private", "team", "public"):
            for state in Image.Moderation.values:
                image = make_job(user, visibility=visibility).images.get()
                Image.objects.filter(pk=image.pk).update(moderation_state=state)
    viewer = {"owner": owner, "teammate": teammate, "outsider": outsider, "staff": staff}.get(
        who, AnonymousUser()
    )
    scope_q = {
        "mine": Q(user_id=getattr(viewer, "pk", None)),
        "team": Q(team_id__in=user_team_ids(viewer), visibility__in=["team", "public"]),
        "public": Q(visibility="public"),
    }[scope]
    expected = set(images_visible_to(viewer).filter(scope_q).values_list("pk", flat=True))
    narrowed = Image.objects.filter(image_visibility_within_q(viewer, scope=scope), scope_q)
    assert set(narrowed.values_list("pk", flat=True)) == expected
