"""An install made by today's code upgrades with `migrate` alone and loses nothing.

The test database is rebuilt the way today's code built every existing install: empty, then
migrated forward to BASELINE (today's last migration of every app). Every table of our apps is
filled through the historical models of that state, with real image files in storage. Then the
`migrate` command runs, as an operator would, and the test checks that every row kept its
values (new columns may appear), every file still reads the same, and what people hold from
outside still works: share links, API keys, passwords, invite links, search.

BASELINE is pinned: when new migrations or apps arrive (usage/, models moved between apps), they
are exactly what this test runs forward, with no edit here. A table that disappears passes only
if its rows turn up whole in a table the upgrade created (a renamed or moved table); a model
moved by drop-and-create leaves that table empty and fails, naming it.
"""

import datetime as dt
import hashlib
import html
import io
import re
from dataclasses import dataclass, field

import pytest
from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.sql import emit_post_migrate_signal
from django.db import DEFAULT_DB_ALIAS, connections, models
from django.db.migrations.executor import MigrationExecutor
from django.db.migrations.loader import MigrationLoader
from django.shortcuts import resolve_url
from django.test import Client
from django.utils import timezone
from PIL import Image as PILImage

from tests.gallery.helpers import grid

# Today's last migration of every app that has migrations (accounts, generation, gallery and
# the third-party ones). Pinned on purpose: never move it forward to "fix" this test.
BASELINE = [
    ("accounts", "0002_team_invites"),
    ("admin", "0003_logentry_add_action_flag_choices"),
    ("auth", "0012_alter_user_first_name_max_length"),
    ("axes", "0010_accessattemptexpiration"),
    ("contenttypes", "0002_remove_content_type_name"),
    ("gallery", "0002_prompt_full_text_search"),
    ("generation", "0004_job_user_status_index"),
    ("sessions", "0001_initial"),
]
# Our apps at BASELINE: every one of their models must be filled and must keep its rows.
OUR_APPS = ("accounts", "generation", "gallery")
PASSWORD = "upgrade: correct horse battery staple"
# Today's API key format (accounts/keys.py): "qis_" + random, a 10-character display prefix and
# the SHA-256 hex digest stored. Written out here, not imported: keys already handed out were
# hashed this way, and the upgraded code must still accept them.
LIVE_KEY = "qis_" + "UpgradeLiveKey-0123456789abcdefghijklmnopqrstu"
REVOKED_KEY = "qis_" + "UpgradeRevokedKey-0123456789abcdefghijklmnopqr"

pytestmark = pytest.mark.migrations


@dataclass
class Share:
    token: str
    alive: bool
    # Per image the link shows: the bytes its page may serve for it (PNG, thumbnail).
    images: list[set[bytes]] = field(default_factory=list)


@dataclass
class Install:
    """What the baseline install holds that people outside the database rely on."""

    files: dict[str, bytes] = field(default_factory=dict)  # storage name → bytes written
    shares: list[Share] = field(default_factory=list)
    invites: dict[str, bool] = field(default_factory=dict)  # token → still usable
    live_key_id: str = ""
    search_hits: set[str] = field(default_factory=set)  # alice's images matching "lighthouse"


@dataclass
class Table:
    pk: str
    columns: list[str]
    rows: dict  # pk value → {column: value}


@pytest.mark.django_db(transaction=True)
def test_an_install_made_today_upgrades_with_migrate_alone_and_loses_nothing():
    connection = connections[DEFAULT_DB_ALIAS]
    if connection.vendor not in ("sqlite", "postgresql"):
        pytest.skip(f"no way to empty a {connection.vendor} database here")
    install = Install()
    passed = False
    try:
        state = _rebuild_at_baseline(connection)
        ours = _our_models(state.apps)
        _fill(state.apps, install)
        empty = [m._meta.label for m in ours if not m._default_manager.exists()]
        assert not empty, f"fill these models of the BASELINE state too: {empty}"
        checked = {m._meta.db_table: m._meta.pk.column for m in ours}
        user_meta = state.apps.get_model(settings.AUTH_USER_MODEL)._meta
        checked[user_meta.db_table] = user_meta.pk.column
        tables_before = set(connection.introspection.table_names())
        before = {table: _select(connection, table, pk) for table, pk in checked.items()}

        call_command("migrate", interactive=False, verbosity=0)

        executor = MigrationExecutor(connection)
        unapplied = executor.migration_plan(executor.loader.graph.leaf_nodes())
        assert not unapplied, f"migrate left migrations unapplied: {unapplied}"
        _assert_rows_kept(connection, before, tables_before)
        _assert_files_kept(install)
        _assert_links_keys_and_logins_work(install)
        _assert_usage_carried_into_the_ledger()
        passed = True
    finally:
        for name in install.files:
            default_storage.delete(name)
        if not passed:
            # Whatever broke, later tests get a database at the latest migrations.
            _drop_everything(connection)
            call_command("migrate", interactive=False, verbosity=0)


# --- The baseline install -------------------------------------------------------------------


def _rebuild_at_baseline(connection):
    """Empty the test database and migrate it to BASELINE, as `migrate` did for installs then."""
    _drop_everything(connection)
    executor = MigrationExecutor(connection)
    # Keep squashed-away migrations in the graph: BASELINE names them, not their squash.
    executor.loader = MigrationLoader(connection, replace_migrations=False)
    targets = _baseline_targets(executor.loader)
    plan = executor.migration_plan(targets)
    executor.migrate(targets, plan=plan)
    state = executor.loader.project_state(targets)
    # What the migrate command does after migrating: content types, permissions, search index.
    emit_post_migrate_signal(0, False, connection.alias, apps=state.apps, plan=plan)
    return state


def _baseline_targets(loader) -> list[tuple[str, str]]:
    targets = []
    for app, name in BASELINE:
        if (app, name) in loader.graph.nodes:
            targets.append((app, name))
            continue
        assert app not in OUR_APPS, (
            f"BASELINE migration {app}.{name} is gone: installs at it cannot be rebuilt here "
            "and may not upgrade. Keep migration files (a squash keeps the ones it replaces)."
        )
        # A third-party app rewrote its history (its data is not checked): take its latest.
        targets += [node for node in MigrationLoader(None).graph.leaf_nodes() if node[0] == app]
    return targets


def _drop_everything(connection) -> None:
    with connection.cursor() as cursor:
        listed = connection.introspection.get_table_list(cursor)
        if connection.vendor == "sqlite":
            cursor.execute("SELECT name FROM sqlite_master WHERE sql LIKE 'CREATE VIRTUAL TABLE%'")
            virtual = [row[0] for row in cursor.fetchall()]
            connection.disable_constraint_checking()
            try:
                # A virtual table first: it drops its own shadow tables (FTS5 *_data, ...).
                for name in virtual + [t.name for t in listed if t.type == "t"]:
                    cursor.execute(f"DROP TABLE IF EXISTS {connection.ops.quote_name(name)}")
                for name in [t.name for t in listed if t.type == "v"]:
                    cursor.execute(f"DROP VIEW IF EXISTS {connection.ops.quote_name(name)}")
            finally:
                connection.enable_constraint_checking()
        else:  # PostgreSQL
            for info in listed:
                kind = "VIEW" if info.type == "v" else "TABLE"
                quoted = connection.ops.quote_name(info.name)
                cursor.execute(f"DROP {kind} IF EXISTS {quoted} CASCADE")


def _our_models(apps) -> list[type[models.Model]]:
    found = [
        model
        for model in apps.get_models(include_auto_created=True)
        if model._meta.app_label in OUR_APPS
    ]
    assert {m._meta.app_label for m in found} == set(OUR_APPS)
    return found


def _png(colour, size=(8, 6), fmt="PNG") -> bytes:
    buffer = io.BytesIO()
    PILImage.new("RGB", size, colour).save(buffer, fmt)
    return buffer.getvalue()


def _fill(apps, install: Install) -> None:
    get = apps.get_model
    User = get(settings.AUTH_USER_MODEL)
    Team, Membership = get("accounts.Team"), get("accounts.Membership")
    Profile, ApiKey = get("accounts.Profile"), get("accounts.ApiKey")
    TeamInvite = get("accounts.TeamInvite")
    Job, Image = get("generation.Job"), get("generation.Image")
    ModerationDecision, Report = get("generation.ModerationDecision"), get("generation.Report")
    BlockedTerm, WebhookSecret = get("generation.BlockedTerm"), get("generation.WebhookSecret")
    WebhookDelivery = get("generation.WebhookDelivery")
    Favorite, Collection = get("gallery.Favorite"), get("gallery.Collection")
    CollectionItem, ShareLink = get("gallery.CollectionItem"), get("gallery.ShareLink")
    now = timezone.now()
    day = dt.timedelta(days=1)

    studio = Team.objects.create(name="Studio", images_per_day=500, concurrent_jobs=3)
    elsewhere = Team.objects.create(name="Elsewhere")
    users = {}
    for name, team, role, extra in [
        ("alice", studio, "owner", {}),
        ("bob", studio, "member", {}),
        ("carol", elsewhere, "owner", {"first_name": "Carol", "last_name": "Ng"}),
        ("staff", None, None, {"is_staff": True, "is_superuser": True}),
    ]:
        user = User.objects.create(
            username=name,
            email=f"{name}@example.com",
            password=make_password(PASSWORD),
            date_joined=now - 30 * day,
            **extra,
        )
        users[name] = user
        if team is not None:
            Membership.objects.create(team=team, user=user, role=role)
        Profile.objects.create(
            user=user,
            current_team=team,
            show_sensitive=name == "alice",
            images_per_day=40 if name == "bob" else None,
            concurrent_jobs=1 if name == "bob" else None,
        )
    alice, bob, carol, staff = users["alice"], users["bob"], users["carol"], users["staff"]
    Membership.objects.create(team=elsewhere, user=bob, role="admin")

    for token, usable, extra in [
        ("upgrade-invite-open", True, {"expires_at": now + 7 * day, "single_use": False}),
        ("upgrade-invite-used", False, {"expires_at": now + 7 * day, "use_count": 1}),
        ("upgrade-invite-revoked", False, {"expires_at": now + 7 * day, "revoked_at": now}),
        ("upgrade-invite-expired", False, {"expires_at": now - day}),
    ]:
        TeamInvite.objects.create(
            team=studio, token=token, role="member", created_by=alice, **extra
        )
        install.invites[token] = usable

    live = None
    for secret, user, extra in [
        (LIVE_KEY, alice, {"name": "ci", "last_used_at": now - day}),
        (REVOKED_KEY, alice, {"name": "old laptop", "revoked_at": now - day}),
        ("qis_" + "UpgradeBobKey-0123456789abcdefghijklmnopqrstuvw", bob, {}),
    ]:
        key = ApiKey.objects.create(
            user=user,
            prefix=secret[: len("qis_") + 6],
            hashed_key=hashlib.sha256(secret.encode()).hexdigest(),
            **extra,
        )
        live = live or key
    install.live_key_id = str(live.public_id)

    def job(user, prompt, status, **extra):
        values = {
            "team": studio if user in (alice, bob) else elsewhere,
            "backend": "demo",
            "model": "qwen-image",
            "prompt": prompt,
            "size_preset": "square",
            "width": 8,
            "height": 6,
            "seed": 1000 + Job.objects.count(),
            "status": status,
        }
        values.update(extra)
        return Job.objects.create(user=user, **values)

    def image(job, index, colour, *, visibility, moderation="clear", **extra):
        png, thumb = _png(colour), _png(colour, (4, 3), "WEBP")
        base = f"images/{job.public_id}/{index}"
        names = {}
        for field_name, suffix, data in [
            ("file", ".png", png),
            ("thumbnail", ".thumb.webp", thumb),
        ]:
            names[field_name] = default_storage.save(base + suffix, ContentFile(data))
            install.files[names[field_name]] = data
        pixels = PILImage.open(io.BytesIO(png)).convert("RGB").tobytes()
        row = Image.objects.create(
            job=job,
            index=index,
            user=job.user,
            team=job.team,
            visibility=visibility,
            seed=job.seed + index,
            width=8,
            height=6,
            byte_size=len(png),
            sha256=hashlib.sha256(png).hexdigest(),
            pixel_sha256=hashlib.sha256(pixels).hexdigest(),
            moderation_state=moderation,
            **names,
            **extra,
        )
        return row, png, thumb

    finished = {"started_at": now - day, "finished_at": now - day, "attempts": 1}
    done = {"status": "succeeded", "progress": 1.0, **finished}
    lighthouse_job = job(
        alice,
        "a lighthouse at dusk",
        idempotency_key="upgrade-idem-1",
        request_hash="0" * 64,
        webhook_url="https://hooks.example.com/qwen",
        source="api",
        n=2,
        visibility="public",
        **done,
    )
    lighthouse, lighthouse_png, lighthouse_thumb = image(
        lighthouse_job, 0, (200, 40, 40), visibility="public", revised_prompt="A lighthouse."
    )
    harbour, harbour_png, harbour_thumb = image(
        lighthouse_job, 1, (40, 200, 40), visibility="private", provider_nsfw=False
    )
    orchard, _, _ = image(
        job(bob, "an orchard in bloom", acceleration="high", **done),
        0,
        (40, 40, 200),
        visibility="team",
        moderation="approved",
        safety_score=0.01,
    )
    glacier, _, _ = image(
        job(alice, "a glacier under a storm", enable_safety_checker=True, **done),
        0,
        (90, 90, 90),
        visibility="private",
        moderation="flagged",
        safety_score=0.93,
        safety_note="held by the safety checker (score 0.93)",
        review_requested_at=now - day,
    )
    volcano, _, _ = image(
        job(carol, "a volcano at night", **done),
        0,
        (250, 120, 0),
        visibility="public",
        moderation="rejected",
    )
    job(alice, "a queued kite", "queued", enqueued_at=now)
    job(
        bob,
        "a running river",
        "running",
        attempts=1,
        started_at=now,
        progress=0.4,
        lease_expires_at=now + day,
    )
    job(
        alice,
        "a failed fern",
        "failed",
        error_code="content_policy",
        error_message="The provider refused the prompt.",
        **finished,
    )
    job(carol, "a canceled comet", "canceled", cancel_requested=True, finished_at=now)
    job(alice, "a lighthouse at dawn", "queued", parent_image=lighthouse, negative_prompt="fog")

    ModerationDecision.objects.create(
        image=glacier,
        image_public_id=glacier.public_id,
        via="system",
        from_state="clear",
        to_state="flagged",
        note="safety checker",
    )
    ModerationDecision.objects.create(
        image=orchard,
        image_public_id=orchard.public_id,
        actor=staff,
        via="queue",
        from_state="reported",
        to_state="approved",
        note="fine",
    )
    ModerationDecision.objects.create(
        image=volcano,
        image_public_id=volcano.public_id,
        actor=staff,
        via="admin",
        from_state="clear",
        to_state="rejected",
    )
    Report.objects.create(
        image=orchard, reporter=carol, reason="rights", note="mine", resolved=True, resolved_at=now
    )
    Report.objects.create(image=volcano, reporter_key="ab" * 32, reason="violence")
    BlockedTerm.objects.create(term="forbidden phrase", kind="word", created_by=staff)
    BlockedTerm.objects.create(term=r"bad\s*word\d+", kind="pattern", active=False, note="old")
    WebhookSecret.objects.create(user=alice, secret="whsec_" + "u" * 40)
    WebhookDelivery.objects.create(
        job=lighthouse_job,
        event="job.succeeded",
        url=lighthouse_job.webhook_url,
        payload={"event": "job.succeeded", "job": {"id": str(lighthouse_job.public_id)}},
        status="succeeded",
        attempts=1,
        last_status_code=200,
        delivered_at=now,
        last_attempt_at=now,
    )
    WebhookDelivery.objects.create(
        job=lighthouse_job,
        event="job.failed",
        url=lighthouse_job.webhook_url,
        payload={"event": "job.failed", "n": [1, 2.5, None, "é"]},
        attempts=3,
        next_attempt_at=now + day,
        last_status_code=503,
        last_error="Service Unavailable",
    )

    Favorite.objects.create(user=bob, image=lighthouse)
    Favorite.objects.create(user=alice, image=harbour)
    album = Collection.objects.create(
        user=alice, team=studio, name="Coast", visibility="public", cover=lighthouse
    )
    for shown in (lighthouse, harbour, glacier):  # glacier is flagged: a share never shows it
        CollectionItem.objects.create(collection=album, image=shown)
    Collection.objects.create(user=bob, name="Empty", visibility="private")

    both = [{lighthouse_png, lighthouse_thumb}, {harbour_png, harbour_thumb}]
    for token, target, alive, shown, extra in [
        ("upgrade-share-public-image", {"image": lighthouse}, True, [{lighthouse_png}], {}),
        (
            "upgrade-share-own-private",
            {"image": harbour},
            True,
            [{harbour_png}],
            {"expires_at": now + 30 * day, "view_count": 7, "last_viewed_at": now},
        ),
        ("upgrade-share-collection", {"collection": album}, True, both, {}),
        ("upgrade-share-revoked", {"image": lighthouse}, False, [], {"revoked_at": now}),
        ("upgrade-share-expired", {"image": harbour}, False, [], {"expires_at": now - day}),
    ]:
        ShareLink.objects.create(token=token, user=alice, **target, **extra)
        install.shares.append(Share(token, alive, shown))
    # Both images of the "a lighthouse at dusk" job; the queued "... at dawn" has none.
    install.search_hits = {str(lighthouse.public_id), str(harbour.public_id)}


# --- Checks after `migrate` -----------------------------------------------------------------


def _select(connection, table: str, pk: str) -> Table:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608
        columns = [column[0] for column in cursor.description]
        rows = [dict(zip(columns, values, strict=True)) for values in cursor.fetchall()]
    if rows and pk not in columns:
        return Table(pk, columns, {})  # the key column is gone: every row reads as missing
    return Table(pk, columns, {row[pk]: row for row in rows})


def _differences(before: Table, after: Table, limit: int = 5) -> list[str]:
    gone = [c for c in before.columns if c not in after.columns]
    if gone:
        return [f"columns gone: {gone}"]
    found = []
    for key, row in before.rows.items():
        now = after.rows.get(key)
        if now is None:
            found.append(f"row {before.pk}={key!r} is gone")
            continue
        found += [
            f"row {before.pk}={key!r}: {column} was {value!r}, is {now[column]!r}"
            for column, value in row.items()
            if now[column] != value
        ]
    return found[:limit] + ([f"... {len(found) - limit} more"] if len(found) > limit else [])


def _assert_usage_carried_into_the_ledger() -> None:
    """Usage is right on upgrade day: every job has its reservation, and every unit of work a
    job is known to have done is a ledger entry, all marked as estimated."""
    from generation.models import Job
    from usage.models import LedgerEntry, Reservation

    jobs = list(Job.objects.all())
    assert jobs
    holds = {hold.job_ref: hold for hold in Reservation.objects.all()}
    problems = []
    for job in jobs:
        hold = holds.get(job.public_id)
        if hold is None or not hold.estimated or hold.images != job.n:
            problems.append(f"job {job.public_id} ({job.status}): reservation {hold!r}")
            continue
        if (hold.closed_at is None) != job.is_active:
            problems.append(f"job {job.public_id} ({job.status}): open={hold.closed_at is None}")
        entries = list(LedgerEntry.objects.filter(job_ref=job.public_id))
        if job.status == Job.Status.SUCCEEDED and (
            len(entries) != job.n or {e.status for e in entries} != {"succeeded"}
        ):
            problems.append(f"job {job.public_id} succeeded: entries {entries!r}")
        if job.status == Job.Status.QUEUED and entries:
            problems.append(f"job {job.public_id} queued: entries {entries!r}")
    assert not problems, "usage not carried into the ledger:\n" + "\n".join(problems)
    assert LedgerEntry.objects.exists()
    assert not LedgerEntry.objects.filter(estimated=False).exists()
    assert not Reservation.objects.filter(estimated=False).exists()


def _assert_rows_kept(connection, before: dict[str, Table], tables_before: set[str]) -> None:
    tables_after = set(connection.introspection.table_names())
    new_tables = sorted(tables_after - tables_before)
    problems = []
    for table, rows in before.items():
        if table in tables_after:
            problems += [
                f"{table}: {d}" for d in _differences(rows, _select(connection, table, rows.pk))
            ]
            continue
        # Renamed or moved to another app: its rows must be whole in a table the upgrade made.
        if not any(
            not _differences(rows, _select(connection, candidate, rows.pk))
            for candidate in new_tables
        ):
            problems.append(
                f"table {table} is gone and its {len(rows.rows)} row(s) are in no table the "
                f"upgrade created ({', '.join(new_tables) or 'none'}). A model moved between "
                "apps must keep (or rename) its table: SeparateDatabaseAndState, not a "
                "DeleteModel + CreateModel that drops the data."
            )
    assert not problems, "the upgrade lost or changed data:\n" + "\n".join(problems)


def _assert_files_kept(install: Install) -> None:
    for name, data in install.files.items():
        with default_storage.open(name, "rb") as handle:
            assert handle.read() == data, f"{name} changed"


def _body(response) -> bytes:
    try:
        return b"".join(response.streaming_content) if response.streaming else response.content
    finally:
        response.close()


def _assert_links_keys_and_logins_work(install: Install) -> None:
    anonymous = Client()
    for share in install.shares:
        page = anonymous.get(f"/s/{share.token}/")
        if not share.alive:
            # Revoked or expired: gone, and saying so (410); deleted with its image: 404.
            assert page.status_code in (404, 410), f"dead share {share.token} came back to life"
            continue
        assert page.status_code == 200, f"share {share.token}: {page.status_code}"
        sources = re.findall(r'<img\b[^>]*?\ssrc="([^"]+)"', page.content.decode())
        assert sources, f"share {share.token} shows no image"
        served = set()
        for source in sources:
            response = anonymous.get(html.unescape(source))
            assert response.status_code == 200, f"{source} on share {share.token}"
            served.add(_body(response))
        assert served <= set().union(*share.images), f"share {share.token} serves other bytes"
        # Every image the link shows is served (as its PNG, its thumbnail or both).
        assert all(served & shown for shown in share.images), f"share {share.token} lost one"

    for token, usable in install.invites.items():
        response = anonymous.get(f"/accounts/invites/{token}/")
        assert response.status_code == (200 if usable else 404), f"invite {token}"

    me = anonymous.get("/v1/me", HTTP_AUTHORIZATION=f"Bearer {LIVE_KEY}")
    assert me.status_code == 200, me.content
    assert me.json()["user"]["username"] == "alice"
    assert me.json()["api_key"]["id"] == install.live_key_id
    assert anonymous.get("/v1/me", HTTP_AUTHORIZATION=f"Bearer {REVOKED_KEY}").status_code == 401

    browser = Client()
    login = browser.post(
        resolve_url(settings.LOGIN_URL),
        {"username": "alice", "password": PASSWORD},
        REMOTE_ADDR="10.77.0.1",
    )
    assert login.status_code == 302, "alice can no longer sign in with her password"
    assert browser.get("/v1/me").json()["user"]["username"] == "alice"
    # The prompt index (FTS5 on SQLite, a GIN index on PostgreSQL) still finds old prompts.
    assert set(grid(browser, q="lighthouse")) == install.search_hits
