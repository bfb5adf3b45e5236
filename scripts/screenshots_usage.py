"""Screenshots of the usage pages, the Create page's budget bar and the ledger admin.

    .venv/bin/python scripts/screenshots_usage.py [PORT]

Builds a throwaway studio of its own (a temporary QWEN_STUDIO_VAR_DIR: database, media),
fills it with a team's month of work through the real services (demo backend, priced at
$0.02 per megapixel for the pictures), serves it with runserver on 127.0.0.1:PORT (default
8151) and writes PNGs at 1440 and 390 px into docs/screenshots/. Nothing outside the temporary
folder is touched.
"""

import datetime as dt
import os
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
OUT = BASE_DIR / "docs" / "screenshots"
PASSWORD = "screenshots: correct horse battery staple"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def seed() -> None:
    """Run inside the throwaway studio (called as `screenshots_usage.py --seed`)."""
    import django

    django.setup()
    from decimal import Decimal

    from django.contrib.auth import get_user_model
    from django.db.models import F
    from django.utils import timezone

    from accounts.keys import api_key_create
    from accounts.models import Membership, Profile, Team
    from generation import lifecycle, runner
    from generation.params import GenerationParams
    from usage.models import LedgerEntry, Limit, Price, Reservation

    Price.objects.filter(backend="demo", model="").update(per_megapixel=Decimal("0.02"))
    team = Team.objects.create(name="Lighthouse Studio")
    users = {}
    for name, role in [("alice", "owner"), ("bob", "admin"), ("carol", "member")]:
        user = get_user_model().objects.create_user(
            username=name, email=f"{name}@example.com", password=PASSWORD
        )
        Membership.objects.create(team=team, user=user, role=role)
        Profile.objects.update_or_create(user=user, defaults={"current_team": team})
        users[name] = user
    get_user_model().objects.create_superuser("staff", "staff@example.com", PASSWORD)
    Limit.objects.create(team=team, budget=Decimal("2.50"), soft_threshold_percent=80)
    keys = {
        "alice": api_key_create(user=users["alice"], name="nightly renders")[0],
        "bob": api_key_create(user=users["bob"], name="catalogue sync")[0],
    }
    rng = random.Random(15)
    prompts = [
        "a lighthouse at dusk, warm light",
        "a brass owl reading a map",
        "a teapot shaped like a whale",
        "a paper boat on a rainy street",
        "a fox in fresh snow, morning light",
    ]
    sizes = ["square_hd", "landscape_4_3", "portrait_16_9", "square"]
    now = timezone.now()
    for i in range(34):
        name = rng.choice(["alice", "alice", "bob", "bob", "carol"])
        params = GenerationParams(
            prompt=rng.choice(prompts), size=rng.choice(sizes), n=rng.choice([1, 2, 4]), seed=i
        )
        key = keys.get(name) if rng.random() < 0.5 else None
        job = lifecycle.job_create(user=users[name], params=params, api_key=key)
        if i % 11 == 5:
            lifecycle.job_cancel(job=job)
        else:
            runner.job_run(job_id=job.pk)
        back = dt.timedelta(days=rng.randrange(0, 29), hours=rng.randrange(0, 12))
        if (now - back).month != now.month:
            back = dt.timedelta(days=rng.randrange(0, now.day), hours=rng.randrange(0, 6))
        LedgerEntry.objects.filter(job_ref=job.public_id).update(
            started_at=F("started_at") - back, settled_at=F("settled_at") - back
        )
        Reservation.objects.filter(job_ref=job.public_id).update(
            opened_at=F("opened_at") - back,
            first_started_at=F("first_started_at") - back,
            closed_at=F("closed_at") - back,
        )


def shoot(base: str) -> None:
    from playwright.sync_api import sync_playwright

    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        for width, suffix in ((1440, ""), (390, "-phone")):
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.goto(f"{base}/accounts/login/")
            page.fill("#id_username", "alice")
            page.fill("#id_password", PASSWORD)
            page.click("button[type=submit]")
            page.wait_for_url(f"{base}/")
            # budget.js has asked POST /v1/estimates (CSP forbids wait_for_function's eval).
            page.wait_for_selector("#cost-estimate:has-text(' for ')")
            page.screenshot(path=OUT / f"usage-budget-bar{suffix}.png", full_page=False)
            page.goto(f"{base}/accounts/usage/")
            page.screenshot(path=OUT / f"usage-mine{suffix}.png", full_page=True)
            page.goto(f"{base}/accounts/teams/")
            page.click("main table >> a >> nth=0")
            page.click("main a[href$='/usage/']")
            page.wait_for_selector("#members-heading")
            page.screenshot(path=OUT / f"usage-team{suffix}.png", full_page=True)
            page.close()
        admin = browser.new_page(viewport={"width": 1440, "height": 900})
        admin.goto(f"{base}/admin/login/")
        admin.fill("#id_username", "staff")
        admin.fill("#id_password", PASSWORD)
        admin.click("input[type=submit]")
        admin.goto(f"{base}/admin/usage/ledgerentry/")
        admin.screenshot(path=OUT / "usage-admin-ledger.png", full_page=False)
        today = dt.date.today()
        admin.goto(
            f"{base}/admin/usage/ledgerentry/totals/?since={today.replace(day=1)}"
            f"&until={today}&by=team%2Cbackend%2Cmodel"
        )
        admin.screenshot(path=OUT / "usage-admin-totals.png", full_page=True)
        browser.close()
    for path in sorted(OUT.glob("usage-*.png")):
        print(path)


def main(port: int) -> None:
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="qwen-usage-shots-") as var:
        env = {
            **os.environ,
            "QWEN_STUDIO_VAR_DIR": var,
            "DJANGO_DEBUG": "1",
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "QWEN_IMAGE_BACKEND": "demo",
            "QWEN_IMAGE_DEMO_STEP_DELAY": "0",
            "SAFETY_CHECKER": "provider",
        }
        # Our own interpreter on our own files, fixed arguments: nothing untrusted runs.
        run = {"cwd": BASE_DIR, "env": env, "check": True}
        subprocess.run([python, "manage.py", "migrate", "--noinput", "-v", "0"], **run)  # noqa: S603
        subprocess.run([python, __file__, "--seed"], **run)  # noqa: S603
        server = subprocess.Popen(  # noqa: S603
            [python, "manage.py", "runserver", f"127.0.0.1:{port}", "--noreload"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            time.sleep(3)
            shoot(f"http://127.0.0.1:{port}")
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    if sys.argv[1:] == ["--seed"]:
        sys.path.insert(0, str(BASE_DIR))
        seed()
    else:
        main(int(sys.argv[1]) if len(sys.argv) > 1 else 8151)
