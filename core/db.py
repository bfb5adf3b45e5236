"""Database upkeep: the table statistics SQLite's query planner chooses indexes by."""

from django.db import connection as default_connection

# Rows ANALYZE samples per index: approximate statistics in milliseconds even at a million
# images (a full ANALYZE reads every index).
SQLITE_ANALYSIS_LIMIT = 1000


def query_statistics_refresh(connection=None) -> bool:
    """Refresh the planner's statistics; True when it ran.

    SQLite keeps none unless told to: without them it guesses that an equality on any indexed
    column matches about ten rows, so a rare search word's few matching jobs lose to walking a
    whole team's images (166 ms instead of 4 at a million images; bench/gallery.py). Run after
    `migrate` and hourly (gallery.tasks). PostgreSQL's autovacuum already analyzes.
    """
    connection = connection or default_connection
    if connection.vendor != "sqlite":
        return False
    with connection.cursor() as cursor:
        cursor.execute(f"PRAGMA analysis_limit={SQLITE_ANALYSIS_LIMIT}")
        cursor.execute("ANALYZE")
    return True
