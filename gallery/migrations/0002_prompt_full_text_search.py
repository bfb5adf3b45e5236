"""Full-text search over prompts: SQLite FTS5 + triggers, or a PostgreSQL tsvector GIN index."""

from django.db import migrations

SQLITE_FORWARD = [
    "CREATE VIRTUAL TABLE IF NOT EXISTS gallery_prompt_fts USING fts5(prompt, "
    "content='generation_job', content_rowid='id', "
    "tokenize='porter unicode61 remove_diacritics 2')",
    """CREATE TRIGGER IF NOT EXISTS gallery_prompt_fts_ai AFTER INSERT ON generation_job BEGIN
        INSERT INTO gallery_prompt_fts(rowid, prompt) VALUES (new.id, new.prompt);
    END""",
    """CREATE TRIGGER IF NOT EXISTS gallery_prompt_fts_ad AFTER DELETE ON generation_job BEGIN
        INSERT INTO gallery_prompt_fts(gallery_prompt_fts, rowid, prompt)
            VALUES ('delete', old.id, old.prompt);
    END""",
    """CREATE TRIGGER IF NOT EXISTS gallery_prompt_fts_au
    AFTER UPDATE OF prompt ON generation_job BEGIN
        INSERT INTO gallery_prompt_fts(gallery_prompt_fts, rowid, prompt)
            VALUES ('delete', old.id, old.prompt);
        INSERT INTO gallery_prompt_fts(rowid, prompt) VALUES (new.id, new.prompt);
    END""",
    # Index the prompts that exist already.
    "INSERT INTO gallery_prompt_fts(gallery_prompt_fts) VALUES ('rebuild')",
]
SQLITE_BACKWARD = [
    "DROP TRIGGER IF EXISTS gallery_prompt_fts_ai",
    "DROP TRIGGER IF EXISTS gallery_prompt_fts_ad",
    "DROP TRIGGER IF EXISTS gallery_prompt_fts_au",
    "DROP TABLE IF EXISTS gallery_prompt_fts",
]
POSTGRES_FORWARD = [
    "CREATE INDEX IF NOT EXISTS gallery_job_prompt_tsv ON generation_job "
    "USING GIN (to_tsvector('english', prompt))",
]
POSTGRES_BACKWARD = ["DROP INDEX IF EXISTS gallery_job_prompt_tsv"]


class VendorRunSQL(migrations.RunSQL):
    """RunSQL that only runs on one database vendor."""

    def __init__(self, vendor, *args, **kwargs):
        self.vendor = vendor
        super().__init__(*args, **kwargs)

    def deconstruct(self):
        name, args, kwargs = super().deconstruct()
        return name, [self.vendor, *args], kwargs

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_forwards(app_label, schema_editor, from_state, to_state)

    def database_backwards(self, app_label, schema_editor, from_state, to_state):
        if schema_editor.connection.vendor == self.vendor:
            super().database_backwards(app_label, schema_editor, from_state, to_state)


class Migration(migrations.Migration):
    dependencies = [
        ("gallery", "0001_favorites_collections_share_links"),
        ("generation", "0001_initial"),
    ]

    operations = [
        VendorRunSQL("sqlite", SQLITE_FORWARD, SQLITE_BACKWARD),
        VendorRunSQL("postgresql", POSTGRES_FORWARD, POSTGRES_BACKWARD),
    ]
