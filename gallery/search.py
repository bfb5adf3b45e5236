"""Full-text search over prompts: SQLite FTS5 or a PostgreSQL tsvector GIN index, one API.

The index covers `generation_job.prompt` (every image of a job shares its prompt), so a search
is a set of job ids that the gallery query intersects with what the user may see.

How the page is found depends on how many prompts match (one cheap, bounded probe tells):
a rare term drives the query from its few matches and sorts them; a common one walks the list
in index order and keeps the rows whose job is in the (hashed, once-built) set of matches,
stopping when the page is full. Either way no plan scans 100k rows re-checking prompts.

Narrowed by scope: on PostgreSQL the match itself is limited to the owner's or the teams' jobs
(the GIN index and the job table's user/team indexes combine), so the probe and the set count
only what the scope can show. SQLite's FTS5 index cannot combine with a B-tree, so there the
scope applies to each matching job's images; SQLite picks the rare plan only with table
statistics (core.db.query_statistics_refresh), without which it walks the scope's index.
"""

import re

from django.db import connection
from django.db.models import F, QuerySet
from django.db.models.expressions import RawSQL

FTS_TABLE = "gallery_prompt_fts"
MAX_TERMS = 8
MAX_TERM_LENGTH = 64

# SQLite: an external-content FTS5 table over generation_job(prompt), kept in step by triggers.
# (Constant SQL, no user input: plain strings so nothing can be interpolated into them.)
SQLITE_TABLE = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS gallery_prompt_fts USING fts5("
    "prompt, content='generation_job', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')"
)
SQLITE_TRIGGERS = {
    "gallery_prompt_fts_ai": """
        CREATE TRIGGER IF NOT EXISTS gallery_prompt_fts_ai AFTER INSERT ON generation_job BEGIN
            INSERT INTO gallery_prompt_fts(rowid, prompt) VALUES (new.id, new.prompt);
        END""",
    "gallery_prompt_fts_ad": """
        CREATE TRIGGER IF NOT EXISTS gallery_prompt_fts_ad AFTER DELETE ON generation_job BEGIN
            INSERT INTO gallery_prompt_fts(gallery_prompt_fts, rowid, prompt)
                VALUES ('delete', old.id, old.prompt);
        END""",
    "gallery_prompt_fts_au": """
        CREATE TRIGGER IF NOT EXISTS gallery_prompt_fts_au
        AFTER UPDATE OF prompt ON generation_job BEGIN
            INSERT INTO gallery_prompt_fts(gallery_prompt_fts, rowid, prompt)
                VALUES ('delete', old.id, old.prompt);
            INSERT INTO gallery_prompt_fts(rowid, prompt) VALUES (new.id, new.prompt);
        END""",
}
SQLITE_REBUILD = "INSERT INTO gallery_prompt_fts(gallery_prompt_fts) VALUES ('rebuild')"
SQLITE_MATCH = "SELECT rowid FROM gallery_prompt_fts WHERE gallery_prompt_fts MATCH %s"
SQLITE_EXISTING = "SELECT name FROM sqlite_master WHERE name LIKE 'gallery_prompt_fts%%'"

# PostgreSQL: a GIN index on the same expression the query uses.
PG_CREATE = (
    "CREATE INDEX IF NOT EXISTS gallery_job_prompt_tsv ON generation_job "
    "USING GIN (to_tsvector('english', prompt))"
)
PG_MATCH = (
    "SELECT id FROM generation_job "
    "WHERE to_tsvector('english', prompt) @@ to_tsquery('english', %s)"
)
# The scope's narrowing, added to PG_MATCH (bound arrays of ids).
PG_OWNERS = " AND user_id = ANY(%s)"
PG_TEAMS = " AND team_id = ANY(%s)"
# Above this many matching prompts a term counts as common.
COMMON_MATCHES = 2000


def search_terms(text: str) -> list[str]:
    """Words of a search box, lower-cased; punctuation and query syntax are dropped."""
    words = re.findall(r"\w+", text.lower())
    return [word[:MAX_TERM_LENGTH] for word in words][:MAX_TERMS]


def _query(terms: list[str], vendor: str) -> str:
    if vendor == "postgresql":
        # Terms are \w+ only, so they cannot carry tsquery operators.
        return " & ".join(f"{term}:*" for term in terms)
    if vendor == "sqlite":
        # Each term quoted as an FTS5 string, with a prefix star.
        return " ".join(f'"{term}"*' for term in terms)
    raise NotImplementedError(f"No prompt search for the {vendor} database.")


def _pg_match(owner_ids: list[int] | None, team_ids: list[int] | None) -> tuple[str, list]:
    """The PostgreSQL match narrowed to the scope's jobs, and its extra parameters."""
    sql, params = PG_MATCH, []
    if owner_ids is not None:
        sql, params = sql + PG_OWNERS, [*params, list(owner_ids)]
    if team_ids is not None:
        sql, params = sql + PG_TEAMS, [*params, list(team_ids)]
    return sql, params


def images_matching(
    images: QuerySet,
    text: str,
    *,
    owner_ids: list[int] | None = None,
    team_ids: list[int] | None = None,
) -> QuerySet:
    """The images whose job's prompt has every word of `text` (as a prefix); all if none.

    `owner_ids` / `team_ids`: the scope shows only images of these users' or teams' jobs, so
    the match may leave out every other job (it must not leave out any of these).
    """
    terms = search_terms(text)
    if not terms:
        return images
    vendor = connection.vendor
    query = _query(terms, vendor)
    if vendor == "postgresql":
        match, extra = _pg_match(owner_ids, team_ids)
        # ARRAY(...) runs the GIN search first, as one InitPlan, so the planner drives the page
        # from the matches instead of walking images in order re-computing tsvectors.
        first = f"SELECT unnest(ARRAY({match}))"
    else:
        match, extra, first = SQLITE_MATCH, [], SQLITE_MATCH
    params = [query, *extra]
    with connection.cursor() as cursor:
        # Constant SQL; the values are bound parameters.
        probe = f"SELECT count(*) FROM ({match} LIMIT %s) AS probe"  # noqa: S608
        cursor.execute(probe, [*params, COMMON_MATCHES])
        (count,) = cursor.fetchone()
    if count < COMMON_MATCHES:
        return images.filter(job_id__in=RawSQL(first, params))  # noqa: S611
    # "job_id + 0" hides the job_id index, so the database walks the list's own index in
    # order and checks each row against the set of matches, built once.
    return images.alias(search_job_id=F("job_id") + 0).filter(
        search_job_id__in=RawSQL(match, params)  # noqa: S611
    )


def search_index_install(conn=None) -> None:
    """Create the index (idempotent); on SQLite rebuild it if a trigger had gone missing.

    SQLite drops a table's triggers when Django remakes the table during a migration, so
    this also runs after every `migrate` (see GalleryConfig.ready).
    """
    conn = conn or connection
    with conn.cursor() as cursor:
        if conn.vendor == "sqlite":
            cursor.execute(SQLITE_EXISTING, [])
            existing = {row[0] for row in cursor.fetchall()}
            if {FTS_TABLE, *SQLITE_TRIGGERS} <= existing:
                return
            for sql in [SQLITE_TABLE, *SQLITE_TRIGGERS.values(), SQLITE_REBUILD]:
                cursor.execute(sql)
        elif conn.vendor == "postgresql":
            cursor.execute(PG_CREATE)
