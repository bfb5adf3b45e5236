"""Gallery: page time and query count with 100k images, first page vs a deep (cursor) page.

Bulk-inserts images across users and teams (one tiny shared thumbnail file), then times the
grid page (`/gallery/`, signed in) and the API list (`GET /v1/images`, API key) in-process with
django.test.Client: the first page and a page 90 % of the way down each scope, p50/p95 over
repeated requests, the queries each one makes (CaptureQueriesContext), and prompt searches
for a rare and a common word.

    python -m bench.gallery [--images 100000] [--users 50] [--teams 5] [--repeat 30]

Alone it builds a throwaway site (its own var dir and SQLite file); `run()` uses whatever
database Django is configured with (the smoke test's test database).
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import random
import time

from bench.common import (
    Check,
    Site,
    install_signal_handlers,
    ms,
    percentile,
    ratio,
    result_rows,
    table,
)

SUBJECTS = [
    "lighthouse",
    "fox",
    "owl",
    "city",
    "harbor",
    "forest",
    "castle",
    "robot",
    "dragon",
    "garden",
    "bridge",
    "river",
    "mountain",
    "cat",
    "astronaut",
    "violin",
    "teapot",
    "train",
    "library",
    "market",
    "desert",
    "glacier",
    "temple",
    "lantern",
    "whale",
    "bicycle",
    "orchard",
    "canyon",
    "cathedral",
    "submarine",
    "carousel",
    "windmill",
    "volcano",
    "meadow",
]
STYLES = [
    "watercolor",
    "oil",
    "painting",
    "photograph",
    "ink",
    "sketch",
    "pixel",
    "art",
    "isometric",
    "render",
    "film",
    "still",
    "charcoal",
    "drawing",
    "gouache",
    "poster",
    "low",
    "poly",
    "claymation",
    "blueprint",
]
LIGHT = [
    "dusk",
    "dawn",
    "noon",
    "midnight",
    "golden",
    "hour",
    "overcast",
    "neon",
    "moonlight",
    "candlelight",
    "fog",
]
RARE_WORD = "zeppelin"  # in 1 of RARE_EVERY prompts: the search drives from its few matches
RARE_EVERY = 500
COMMON_WORD = "lighthouse"  # a subject: about 1 in 35 prompts, the "common term" plan


def _prompt(rng: random.Random, index: int) -> str:
    words = [
        rng.choice(SUBJECTS),
        "in",
        rng.choice(STYLES),
        "at",
        rng.choice(LIGHT),
        rng.choice(SUBJECTS),
    ]
    if index % RARE_EVERY == 0:
        words.append(RARE_WORD)
    return " ".join(words) + f", variation {index}"


@contextlib.contextmanager
def _explicit_created_at(*models):
    """Let bulk_create keep the created_at we give (auto_now_add would overwrite it)."""
    fields = [model._meta.get_field("created_at") for model in models]
    saved = [field.auto_now_add for field in fields]
    try:
        for field in fields:
            field.auto_now_add = False
        yield
    finally:
        for field, value in zip(fields, saved, strict=True):
            field.auto_now_add = value


def populate(*, images: int, users: int, teams: int, seed: int = 7, batch: int = 2000) -> dict:
    """`images` images (two per job) spread over `users` users in `teams` teams and a year.

    Visibility: 60 % private, 30 % team, 10 % public. One tiny WebP serves as every file.
    """
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.files.base import ContentFile
    from django.core.files.storage import default_storage

    from accounts.keys import api_key_create
    from accounts.models import Membership, Profile, Team
    from generation.models import Image, Job, Visibility

    rng = random.Random(seed)
    started = time.perf_counter()
    team_rows = [Team.objects.create(name=f"Bench team {t}") for t in range(teams)]
    user_model = get_user_model()
    user_rows = []
    for u in range(users):
        user = user_model.objects.create_user(username=f"gallery-{u}", password=None)
        team = team_rows[u % teams]
        Membership.objects.create(team=team, user=user, role="owner" if u < teams else "member")
        Profile.objects.update_or_create(user=user, defaults={"current_team": team})
        user_rows.append((user, team))
    tiny = default_storage.save("bench/tiny.webp", ContentFile(_tiny_webp()))
    now = dt.datetime.now(dt.UTC)
    span = dt.timedelta(days=365).total_seconds()
    per_job = 2
    jobs_total = images // per_job
    moments = sorted(now - dt.timedelta(seconds=rng.random() * span) for _ in range(jobs_total))
    visibility = [Visibility.PRIVATE] * 6 + [Visibility.TEAM] * 3 + [Visibility.PUBLIC]
    made = 0
    with _explicit_created_at(Job, Image):
        for start in range(0, jobs_total, batch):
            jobs = []
            for index in range(start, min(start + batch, jobs_total)):
                user, team = user_rows[rng.randrange(users)]
                width, height = rng.choice(((1024, 768), (1024, 1024), (768, 1024), (1664, 928)))
                jobs.append(
                    Job(
                        user=user,
                        team=team,
                        backend="remote",
                        model=settings.QWEN_IMAGE_MODEL,
                        prompt=_prompt(rng, index),
                        width=width,
                        height=height,
                        seed=index * per_job,
                        n=per_job,
                        status=Job.Status.SUCCEEDED,
                        progress=1.0,
                        attempts=1,
                        visibility=rng.choice(visibility),
                        created_at=moments[index],
                        started_at=moments[index],
                        finished_at=moments[index],
                    )
                )
            jobs = Job.objects.bulk_create(jobs, batch_size=500)
            if jobs[0].pk is None:  # databases that do not return ids from bulk inserts
                jobs = list(Job.objects.order_by("-id")[: len(jobs)])[::-1]
            rows = [
                Image(
                    job=job,
                    index=i,
                    user_id=job.user_id,
                    team_id=job.team_id,
                    visibility=job.visibility,
                    seed=job.seed + i,
                    file=tiny,
                    thumbnail=tiny,
                    width=job.width,
                    height=job.height,
                    byte_size=100,
                    sha256="0" * 64,
                    created_at=job.created_at,
                )
                for job in jobs
                for i in range(per_job)
            ]
            Image.objects.bulk_create(rows, batch_size=500)
            made += len(rows)
    viewer = user_rows[0][0]
    _, key = api_key_create(user=viewer, name="bench")
    return {
        "images": made,
        "jobs": jobs_total,
        "users": users,
        "teams": teams,
        "seconds": round(time.perf_counter() - started, 1),
        "viewer": viewer,
        "key": key,
    }


def _tiny_webp() -> bytes:
    import io

    from PIL import Image as PILImage

    buffer = io.BytesIO()
    PILImage.new("RGB", (8, 6), (90, 120, 160)).save(buffer, "WEBP")
    return buffer.getvalue()


def _cursor_at(user, scope: str, depth: float, q: str = "") -> tuple[str | None, int]:
    """The cursor of the page `depth` of the way down a scope, by walking its pages."""
    from gallery import selectors

    filters = selectors.image_filters_parse(user=user, data={"scope": scope, "q": q})
    total, cursor, cursors = 0, None, []
    while True:
        page = selectors.images_list(user=user, filters=filters, cursor=cursor)
        total += len(page.images)
        cursors.append((total, page.next_cursor))
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    target = int(total * depth)
    deep = next((c for seen, c in cursors if seen >= target and c), None)
    return deep, total


def _get(client, path: str, params: dict) -> float:
    started = time.perf_counter()
    response = client.get(path, params)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} {params} answered {response.status_code}")
    return elapsed


def _measure(targets: dict[str, tuple], *, repeat: int) -> dict[str, dict]:
    """Time each target `repeat` times, round-robin (so a burst of load on this machine hits
    them alike and their ratio stays honest), after one warm-up and one counted request each.
    targets: {name: (client, path, params)}."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    counted = {}
    for name, (client, path, params) in targets.items():
        _get(client, path, params)  # warm (templates, statement cache)
        with CaptureQueriesContext(connection) as captured:
            _get(client, path, params)
        # Read now: the property slices the live log, which the next requests clear.
        counted[name] = list(captured.captured_queries)
    times: dict[str, list[float]] = {name: [] for name in targets}
    order = list(targets)
    for round_ in range(repeat):
        for name in order[round_ % len(order) :] + order[: round_ % len(order)]:
            times[name].append(_get(*targets[name]))
    return {
        name: {
            "p50_ms": ms(percentile(times[name], 50)),
            "p95_ms": ms(percentile(times[name], 95)),
            "queries": len(counted[name]),
            "slowest_query_ms": ms(max((float(q["time"]) for q in counted[name]), default=0.0)),
        }
        for name in targets
    }


def measure(*, viewer, key: str, repeat: int = 30, scopes=("mine", "team", "public")) -> dict:
    from django.test import Client

    grid = Client(HTTP_HOST="127.0.0.1")
    grid.force_login(viewer)
    api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Bearer {key}")
    pages = (("grid", grid, "/gallery/"), ("api", api, "/v1/images"))
    results: dict = {"scopes": {}}
    for scope in scopes:
        deep, total = _cursor_at(viewer, scope, 0.9)
        targets = {}
        for name, client, path in pages:
            targets[f"{name}_first"] = (client, path, {"scope": scope})
            if deep:
                targets[f"{name}_deep"] = (client, path, {"scope": scope, "cursor": deep})
        results["scopes"][scope] = {"images_in_scope": total, **_measure(targets, repeat=repeat)}
    search_scope = "team"
    words = (("rare", RARE_WORD), ("common", COMMON_WORD))
    targets = {
        f"{label} {name}": (client, path, {"scope": search_scope, "q": word})
        for label, word in words
        for name, client, path in pages
    }
    searched = _measure(targets, repeat=max(5, repeat // 2))
    for label, word in words:
        results[f"search_{label}"] = {
            "word": word,
            **{name: searched[f"{label} {name}"] for name, _, _ in pages},
        }
    results["search_scope"] = search_scope
    return results


def run(*, images: int = 100_000, users: int = 50, teams: int = 5, repeat: int = 30) -> dict:
    """Populate the configured database and measure (Django must be set up)."""
    data = populate(images=images, users=users, teams=teams)
    measured = measure(viewer=data["viewer"], key=data["key"], repeat=repeat)
    summary: list[tuple] = [("images (users, teams)", f"{data['images']} ({users}, {teams})")]
    checks = []
    worst_p95 = 0.0
    for scope, row in measured["scopes"].items():
        summary.append((f"{scope}: images visible", row["images_in_scope"]))
        for name in ("grid", "api"):
            first, deep = row[f"{name}_first"], row.get(f"{name}_deep")
            summary.append((f"{scope} {name} first page p50/p95 ms", _pair(first)))
            worst_p95 = max(worst_p95, first["p95_ms"])
            if deep:
                summary.append((f"{scope} {name} deep page p50/p95 ms", _pair(deep)))
                worst_p95 = max(worst_p95, deep["p95_ms"])
                deep_ratio = ratio(deep["p50_ms"], first["p50_ms"])
                summary.append((f"{scope} {name} deep/first", deep_ratio))
                checks.append(Check(f"{scope} {name} deep/first", deep_ratio, 1.5, "<=").as_dict())
                same = first["queries"] == deep["queries"]
                summary.append(
                    (f"{scope} {name} queries first/deep", f"{first['queries']}/{deep['queries']}")
                )
                checks.append(
                    {
                        "name": f"{scope} {name} queries first/deep",
                        "value": f"{first['queries']}/{deep['queries']}",
                        "target": "equal",
                        "met": same,
                    }
                )
    for label in ("rare", "common"):
        entry = measured[f"search_{label}"]
        for name in ("grid", "api"):
            summary.append(
                (
                    f"search {measured['search_scope']} '{entry['word']}' {name} p50/p95 ms",
                    _pair(entry[name]),
                )
            )
            worst_p95 = max(worst_p95, entry[name]["p95_ms"])
    summary.append(("worst page p95 ms", worst_p95))
    checks.append(Check("worst page p95 ms", worst_p95, 50, "<=").as_dict())
    return {
        "params": {
            "images": images,
            "users": users,
            "teams": teams,
            "repeat": repeat,
            "populate_seconds": data["seconds"],
        },
        "results": measured,
        "summary": summary,
        "checks": checks,
    }


def _pair(entry: dict) -> str:
    return f"{entry['p50_ms']:.1f} / {entry['p95_ms']:.1f}"


def setup_django(site: Site) -> None:
    """Configure this process's Django for a benchmark site (before anything imports models)."""
    for key, value in site.env().items():
        if key.startswith(("DJANGO_", "QWEN_", "QUOTA_", "GALLERY_")):
            os.environ[key] = value
    import django

    django.setup()


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(
        prog="python -m bench.gallery", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--images", type=int, default=100_000)
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--teams", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=30, help="requests per measurement")
    parser.add_argument("--keep", action="store_true", help="keep the site's var dir")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    install_signal_handlers()
    with Site(keep=args.keep) as site:
        site.prepare()
        setup_django(site)
        result = run(images=args.images, users=args.users, teams=args.teams, repeat=args.repeat)
        if args.keep:
            print(f"site kept in {site.root}")
    print(
        json.dumps(result, indent=2, default=str)
        if args.json
        else table(result_rows("gallery", result))
    )
    return result


if __name__ == "__main__":
    main()
