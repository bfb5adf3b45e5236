"""Prompt search: full-text (SQLite FTS5 here, PostgreSQL tsvector in production), one selector."""

import pytest
from django.db import connection

from gallery import search
from gallery.search import FTS_TABLE, search_index_install, search_terms
from generation.models import Job
from tests.gallery.helpers import grid, ids

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True, params=["few matches", "many matches"])
def plan(request, monkeypatch):
    """Run every search test through both query plans (driven by matches / by the list)."""
    monkeypatch.setattr(search, "COMMON_MATCHES", 10**9 if request.param == "few matches" else 1)
    return request.param


@pytest.fixture
def prompts(owner, image_of):
    return {
        "fox": image_of(owner, prompt="A red fox jumping over snowy hills"),
        "foxes": image_of(owner, prompt="Two foxes asleep under a pine"),
        "whale": image_of(owner, prompt="A blue whale, ultra HD, 4K"),
        "cafe": image_of(owner, prompt="Café terrace at night"),
    }


def test_finds_by_words_in_any_order_and_case(owner_client, prompts):
    assert grid(owner_client, q="fox") == ids(prompts["foxes"], prompts["fox"])
    assert grid(owner_client, q="HILLS red") == ids(prompts["fox"])
    assert grid(owner_client, q="whale 4k") == ids(prompts["whale"])
    assert grid(owner_client, q="hills whale") == []


def test_prefixes_stems_and_accents(owner_client, prompts):
    assert grid(owner_client, q="snow") == ids(prompts["fox"])  # "snowy"
    assert grid(owner_client, q="sleeping") == []
    assert grid(owner_client, q="asleep") == ids(prompts["foxes"])
    if connection.vendor == "sqlite":  # FTS5 folds accents; PostgreSQL would need unaccent
        assert grid(owner_client, q="cafe") == ids(prompts["cafe"])  # "Café"
    assert grid(owner_client, q="café") == ids(prompts["cafe"])


def test_query_syntax_is_not_interpreted(owner_client, prompts):
    for text in [
        'fox" OR "whale',
        "fox*",
        "NEAR(fox whale)",
        "-fox",
        "fox AND",
        "'; DROP",
        ":*&|!",
    ]:
        response = owner_client.get("/gallery/", {"q": text})
        assert response.status_code == 200, text
    assert grid(owner_client, q='fox" OR "whale') == []
    assert search_terms('fox" OR (whale*)') == ["fox", "or", "whale"]
    # Nothing but punctuation: no search at all.
    assert len(grid(owner_client, q="*** ")) == 4


def test_search_respects_visibility(owner, outsider_client, teammate_client, image_of):
    private = image_of(owner, "private", prompt="secret lighthouse")
    team = image_of(owner, "team", prompt="team lighthouse")
    public = image_of(owner, "public", prompt="public lighthouse")
    assert grid(outsider_client, scope="public", q="lighthouse") == ids(public)
    assert grid(teammate_client, scope="team", q="lighthouse") == ids(public, team)
    assert str(private.public_id) not in grid(teammate_client, scope="public", q="secret")


def test_index_follows_edits_and_deletes(owner, owner_client, prompts):
    job = prompts["whale"].job
    job.prompt = "A humpback breaching"
    job.save()
    assert grid(owner_client, q="whale") == []
    assert grid(owner_client, q="humpback") == ids(prompts["whale"])
    Job.objects.filter(pk=prompts["cafe"].job_id).delete()
    assert grid(owner_client, q="café") == []
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('integrity-check')")


@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite FTS5 triggers")
def test_install_restores_lost_triggers_and_reindexes(owner, owner_client, image_of):
    # SQLite drops triggers when a migration remakes generation_job; post_migrate repairs it.
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TRIGGER {FTS_TABLE}_ai")
    lost = image_of(owner, prompt="an orphaned zebra")
    assert grid(owner_client, q="zebra") == []
    search_index_install(connection)
    assert grid(owner_client, q="zebra") == ids(lost)
    later = image_of(owner, prompt="another zebra")
    assert grid(owner_client, q="zebra") == ids(later, lost)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="PostgreSQL GIN index")
def test_postgres_has_the_gin_index_the_query_uses():
    search_index_install(connection)  # idempotent
    with connection.cursor() as cursor:
        cursor.execute("SELECT indexdef FROM pg_indexes WHERE indexname = 'gallery_job_prompt_tsv'")
        (definition,) = cursor.fetchone()
    assert "gin" in definition.lower() and "to_tsvector('english'" in definition
