"""Screenshots of the account pages from a running studio (see docs/accounts.md).

    .venv/bin/python scripts/screenshots_accounts.py http://127.0.0.1:8150 USER PASSWORD

Logs in through the login form as USER (an owner of a team, with some jobs), creates an API
key on the profile page, and writes PNGs into docs/screenshots/.
"""

import sys
from pathlib import Path

from playwright.sync_api import sync_playwright

OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def main(base: str, username: str, password: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        page = browser.new_page(viewport={"width": 1200, "height": 860})
        page.goto(f"{base}/accounts/signup/")
        page.screenshot(path=OUT / "accounts-signup.png", full_page=True)

        page.goto(f"{base}/accounts/login/")
        page.fill("#id_username", username)
        page.fill("#id_password", password)
        page.click("button[type=submit]")
        page.wait_for_url(f"{base}/")

        page.goto(f"{base}/accounts/profile/")
        page.fill("#id_name", "Render farm")
        page.click("text=Create key")
        page.wait_for_selector("#new-secret")
        page.screenshot(path=OUT / "accounts-profile.png", full_page=True)

        page.click("nav >> text=Team")
        page.click("table >> a >> nth=0")
        page.wait_for_selector("#members-heading")
        page.screenshot(path=OUT / "accounts-team.png", full_page=True)

        page.goto(f"{base}/accounts/usage/")
        page.screenshot(path=OUT / "accounts-usage.png", full_page=True)

        phone = browser.new_page(viewport={"width": 390, "height": 844})
        phone.goto(f"{base}/accounts/signup/")
        phone.screenshot(path=OUT / "accounts-signup-phone.png", full_page=True)
        browser.close()
    for path in sorted(OUT.glob("accounts-*.png")):
        print(path)


if __name__ == "__main__":
    main(*sys.argv[1:4])
