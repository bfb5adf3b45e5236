"""Set-up steps run inside a benchmark site's own environment (see bench.common.Site).

    python -m bench.site prepare [--collectstatic] NAME... -> {"keys": {NAME: key}}
        (migrate, static files, and each NAME a user with quotas out of the way and a key)
    python -m bench.site user NAME            -> {"key": "..."}
    python -m bench.site limits NAME          -> budgets on NAME, NAME's team and keys
    python -m bench.site images NAME COUNT KB -> {"ids": [...], "sessionid": "..."}
        (COUNT stored images of ~KB each, and a signed-in session of NAME to fetch them)
    python -m bench.site pages COUNT JOBS     -> {"pages": [{"sessionid", "jobs": [...]}]}
        (COUNT users, each signed in with JOBS queued jobs: the open Create pages of bench.live)

Only ever run with QWEN_STUDIO_VAR_DIR pointing at a benchmark's temporary var dir.
"""

import json
import os
import sys

BENCH_TEAM = "Bench"
HIGH_QUOTA = 10**9


def _setup() -> None:
    if not os.environ.get("QWEN_STUDIO_VAR_DIR"):
        sys.exit("bench.site runs only inside a benchmark site (QWEN_STUDIO_VAR_DIR unset).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def bench_user(username: str):
    """A user in the Bench team whose quotas never get in the way of a measurement."""
    from django.contrib.auth import get_user_model

    from accounts.models import Membership, Profile, Team

    team, _ = Team.objects.get_or_create(name=BENCH_TEAM)
    user, created = get_user_model().objects.get_or_create(
        username=username, defaults={"email": f"{username}@bench.invalid"}
    )
    if created:
        user.set_unusable_password()
        user.save()
    Membership.objects.get_or_create(team=team, user=user, defaults={"role": "owner"})
    profile, _ = Profile.objects.get_or_create(user=user)
    profile.current_team = team
    profile.images_per_day = HIGH_QUOTA
    profile.concurrent_jobs = HIGH_QUOTA
    profile.save()
    return user


def cmd_user(username: str) -> dict:
    from accounts.keys import api_key_create

    _, secret = api_key_create(user=bench_user(username), name="bench")
    return {"key": secret}


def cmd_prepare(*args: str) -> dict:
    from django.core.management import call_command

    call_command("migrate", interactive=False, verbosity=0)
    names = [a for a in args if not a.startswith("--")]
    if "--collectstatic" in args:
        call_command("collectstatic", interactive=False, verbosity=0)
    return {"keys": {name: cmd_user(name)["key"] for name in names}}


def cmd_pages(count: str, jobs: str) -> dict:
    """COUNT signed-in users, each with JOBS queued jobs (no consumer runs: they stay queued,
    the poll's most expensive state, with a queue position to count)."""
    from generation import lifecycle
    from generation.params import GenerationParams

    pages = []
    for i in range(int(count)):
        user = bench_user(f"bench-page-{i}")
        made = [
            lifecycle.job_create(
                user=user,
                params=GenerationParams(prompt=f"page {i} job {j}", size="landscape_4_3", n=2),
            )
            for j in range(int(jobs))
        ]
        pages.append(
            {
                "sessionid": cmd_session(user.username)["sessionid"],
                "jobs": [str(job.public_id) for job in made],
            }
        )
    return {"pages": pages}


def cmd_session(username: str) -> dict:
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    user = bench_user(username)
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = "django.contrib.auth.backends.ModelBackend"
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return {"sessionid": session.session_key}


def cmd_images(username: str, count: str, kilobytes: str) -> dict:
    """COUNT finished jobs with one image each, all pointing at hard links of one PNG of
    about KB kilobytes (incompressible noise, so a ZIP of them really is that large)."""
    import hashlib
    import io

    from django.conf import settings
    from django.utils import timezone
    from PIL import Image as PILImage

    from generation.models import Image, Job

    user = bench_user(username)
    count, kilobytes = int(count), int(kilobytes)
    side = max(16, int((kilobytes * 1024 / 3) ** 0.5))
    buffer = io.BytesIO()
    PILImage.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        buffer, "PNG", compress_level=0
    )
    png = buffer.getvalue()
    root = settings.MEDIA_ROOT / "bench"
    root.mkdir(parents=True, exist_ok=True)
    original = root / "original.png"
    original.write_bytes(png)
    digest = hashlib.sha256(png).hexdigest()
    now = timezone.now()
    jobs = Job.objects.bulk_create(
        Job(
            user=user,
            team=user.profile.current_team,
            backend="remote",
            model="qwen-image",
            prompt=f"bench archive image {i}",
            width=side,
            height=side,
            seed=i,
            status=Job.Status.SUCCEEDED,
            progress=1.0,
            attempts=1,
            started_at=now,
            finished_at=now,
        )
        for i in range(count)
    )
    images = []
    for i, job in enumerate(jobs):
        name = f"bench/{i}.png"
        link = settings.MEDIA_ROOT / name
        if not link.exists():
            os.link(original, link)
        images.append(
            Image(
                job=job,
                index=0,
                user=user,
                team_id=job.team_id,
                seed=i,
                file=name,
                thumbnail=name,
                width=side,
                height=side,
                byte_size=len(png),
                sha256=digest,
            )
        )
    Image.objects.bulk_create(images, batch_size=500)
    ids = list(
        Image.objects.filter(user=user, file__startswith="bench/").values_list(
            "public_id", flat=True
        )
    )
    return {
        "ids": [str(i) for i in ids],
        "bytes_each": len(png),
        "sessionid": cmd_session(username)["sessionid"],
    }


def cmd_limits(username: str) -> dict:
    """Budgets and limits on NAME's team and on each of NAME's keys, all far out of reach:
    the ledger then checks all three scopes (user, team, key) on every submission."""
    from decimal import Decimal

    from accounts.models import ApiKey
    from usage.models import Limit

    user = bench_user(username)
    far = {"images_per_day": HIGH_QUOTA, "concurrent_jobs": HIGH_QUOTA, "budget": Decimal(10**8)}
    Limit.objects.update_or_create(team=user.profile.current_team, defaults=far)
    Limit.objects.update_or_create(user=user, defaults={"budget": Decimal(10**8)})
    for key in ApiKey.objects.filter(user=user):
        Limit.objects.update_or_create(api_key=key, defaults=far)
    return {"scopes": 3}


def cmd_keys(*usernames: str) -> dict:
    """Keys for existing users (the gallery's), their quotas lifted; teams left as they are."""
    from django.contrib.auth import get_user_model

    from accounts.keys import api_key_create
    from accounts.models import Profile

    keys = {}
    for user in get_user_model().objects.filter(username__in=usernames):
        Profile.objects.update_or_create(
            user=user, defaults={"images_per_day": HIGH_QUOTA, "concurrent_jobs": HIGH_QUOTA}
        )
        keys[user.username] = api_key_create(user=user, name="bench")[1]
    return {"keys": keys}


COMMANDS = {
    "prepare": cmd_prepare,
    "user": cmd_user,
    "images": cmd_images,
    "keys": cmd_keys,
    "pages": cmd_pages,
    "limits": cmd_limits,
}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in COMMANDS:
        sys.exit(__doc__)
    _setup()
    print(json.dumps(COMMANDS[argv[0]](*argv[1:])))


if __name__ == "__main__":
    main(sys.argv[1:])
