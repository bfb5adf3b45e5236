"""Screenshots of the studio from a running server (README and docs/studio.md).

    .venv/bin/python scripts/screenshots_studio.py http://127.0.0.1:8000 USER PASSWORD

Logs in as USER (who should have a few finished jobs), makes a job and shoots the Create page
while it runs and when it is done, My jobs, the gallery and the viewer, at 1440 px and 390 px,
into docs/screenshots/.
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
PROMPT = 'a brass owl reading a map by lamplight, warm light, "OPEN" on the sign'


def _login(page, base: str, username: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("#id_username", username)
    page.fill("#id_password", password)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{base}/")


def _shot(page, name: str, full: bool = False) -> None:
    page.wait_for_timeout(400)
    page.screenshot(path=OUT / name, full_page=full)


def main(base: str, username: str, password: str) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=ARGS)
        desk = browser.new_page(viewport={"width": 1440, "height": 1000})
        _login(desk, base, username, password)
        desk.fill("#id_prompt", PROMPT)
        desk.click("label[for=id_size_5]")  # landscape 16:9
        desk.select_option("#id_n", "3")
        desk.click(".generate-button")
        desk.wait_for_selector("li.job-card .chip-queued, li.job-card .chip-running")
        desk.wait_for_timeout(1200)
        _shot(desk, "job-running-desktop.png")
        desk.wait_for_selector("li.job-card:first-child .chip-succeeded", timeout=60_000)
        desk.wait_for_timeout(800)
        desk.locator("li.job-card").first.locator(".feed-tile").first.hover()
        _shot(desk, "generate-desktop.png")
        _shot(desk, "studio-create.png")
        desk.goto(f"{base}/jobs/")
        _shot(desk, "studio-jobs.png")
        desk.locator("tbody tr").first.get_by_role("link").first.click()
        _shot(desk, "job-desktop.png")
        desk.goto(f"{base}/gallery/")
        _shot(desk, "gallery-grid.png")
        desk.locator("li.tile a.tile-link").nth(1).click()
        desk.wait_for_selector("#viewer")
        _shot(desk, "studio-viewer.png")
        _shot(desk, "gallery-detail.png")

        phone = browser.new_page(viewport={"width": 390, "height": 844}, is_mobile=True)
        _login(phone, base, username, password)
        _shot(phone, "generate-phone.png")
        _shot(phone, "studio-create-phone.png")
        phone.goto(f"{base}/jobs/")
        _shot(phone, "studio-jobs-phone.png")
        phone.locator("tbody tr").first.get_by_role("link").first.click()
        _shot(phone, "job-phone.png")
        phone.goto(f"{base}/gallery/")
        _shot(phone, "gallery-grid-phone.png")
        phone.locator("li.tile a.tile-link").first.click()
        _shot(phone, "gallery-detail-phone.png")
        phone.goto(f"{base}/")
        phone.get_by_role("button", name="Menu").click()
        _shot(phone, "studio-menu-phone.png")
        browser.close()
    for path in sorted(OUT.glob("*.png")):
        print(path)


if __name__ == "__main__":
    main(*sys.argv[1:4])
