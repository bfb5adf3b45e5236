"""In Chromium: the Content-Security-Policy breaks no page, and framing works only where meant.

Every page of the portal (the API docs with their vendored Swagger UI and the admin included)
loads under the CSP without one violation reported; the share embed shows inside an iframe on
another origin while the share page itself refuses to be framed there.
"""

import http.server
import threading

import pytest
from django.test import Client

from gallery import services as gallery_services
from tests.factories import PASSWORD, make_image, make_team, make_user

SUITE = "security_headers"

PORTS = range(8650, 8700)  # this suite's ports for the "other site"
pytestmark = [
    pytest.mark.e2e,
]
# Collects violations in the page itself (init scripts run outside the page's CSP).
WATCH_CSP = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push([e.violatedDirective, e.blockedURI, e.sourceFile, e.lineNumber].join(' '));
});
"""


@pytest.fixture
def other_site():
    """A page on another origin (another port of 127.0.0.1) that frames portal pages."""
    state = {"html": b""}

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.end_headers()
            self.wfile.write(state["html"])

        def log_message(self, *args):
            pass

    server = None
    for port in PORTS:
        try:
            server = http.server.ThreadingHTTPServer(("127.0.0.1", port), Handler)
            break
        except OSError:
            continue
    assert server is not None, "no free port in 8650-8699"
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1})
    thread.daemon = True
    thread.start()
    yield state, f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


def _session_cookie(user, live_server):
    client = Client()
    client.force_login(user)
    return {
        "name": "sessionid",
        "value": client.cookies["sessionid"].value,
        "url": live_server.url,
    }


def test_no_page_violates_the_content_security_policy(live_server, browser):
    team = make_team("Studio")
    owner = make_user("owner", team=team, role="owner", is_staff=True, is_superuser=True)
    image = make_image(owner, prompt="a CSP lighthouse", size="256x256")
    share = gallery_services.share_create(user=owner, image=image)
    base = live_server.url
    pages = [
        "/",
        "/gallery/",
        f"/images/{image.public_id}/",
        f"/jobs/{image.job.public_id}/",
        "/collections/",
        f"/compare/?ids={image.public_id}",
        "/accounts/profile/",
        "/accounts/teams/",
        f"/accounts/teams/{team.public_id}/",
        "/accounts/usage/",
        "/v1/docs",
        "/moderation/",
        f"/s/{share.token}/report/",
        "/admin/",
        "/admin/generation/job/",
        f"/admin/generation/job/{image.job.pk}/change/",
        "/admin/auth/user/add/",
        f"/s/{share.token}/",
        f"/s/{share.token}/embed/",
    ]
    context = browser.new_context()
    context.add_cookies([_session_cookie(owner, live_server)])
    context.add_init_script(WATCH_CSP)
    page = context.new_page()
    page.set_default_timeout(20_000)
    console = []
    page.on("console", lambda message: console.append(message.text))
    violations = {}
    for path in pages:
        console.clear()
        response = page.goto(base + path, wait_until="networkidle")
        assert response.status < 400, (path, response.status)
        assert "content-security-policy" in response.headers, path
        found = page.evaluate("window.__csp") + [
            text for text in console if "Content Security Policy" in text
        ]
        if found:
            violations[path] = found
        if path == "/v1/docs":
            # The docs really rendered (Swagger UI runs from its vendored files under the CSP);
            # it draws after the network is idle, so wait for the first operation.
            page.locator(".swagger-ui .opblock").first.wait_for(state="visible")
            assert page.locator(".swagger-ui .opblock").count() > 5
    # Anonymous pages too.
    anonymous = browser.new_context()
    anonymous.add_init_script(WATCH_CSP)
    login = anonymous.new_page()
    login.goto(base + "/accounts/login/", wait_until="networkidle")
    login.fill("input[name=username]", "owner")
    login.fill("input[name=password]", PASSWORD)
    login.click("button[type=submit]")
    login.wait_for_url(base + "/")
    found = login.evaluate("window.__csp")
    if found:
        violations["login flow"] = found
    assert violations == {}


def test_only_the_share_embed_can_be_framed_by_another_site(live_server, browser, other_site):
    owner = make_user("owner", team=make_team("Studio"))
    image = make_image(owner, prompt="frame me", size="256x256")
    share = gallery_services.share_create(user=owner, image=image)
    state, url = other_site
    embed = f"{live_server.url}/s/{share.token}/embed/"
    share_page = f"{live_server.url}/s/{share.token}/"
    state["html"] = (
        f'<iframe id="embed" src="{embed}" width="400" height="400"></iframe>'
        f'<iframe id="page" src="{share_page}" width="400" height="400"></iframe>'
    ).encode()
    page = browser.new_page()
    console = []
    page.on("console", lambda message: console.append(message.text))
    page.goto(url, wait_until="networkidle")
    frames = {frame.url: frame for frame in page.frames}
    embed_frame = frames[embed]
    assert embed_frame.locator("img").count() == 1
    assert embed_frame.locator("img").evaluate("img => img.naturalWidth") == 256
    # The share page refused: Chromium names the header that stopped it.
    refused = [text for text in console if share_page in text or "frame" in text.lower()]
    assert any("frame-ancestors" in text or "X-Frame-Options" in text for text in refused), console
    blocked = page.frame_locator("#page").locator("body")
    assert "frame me" not in (blocked.inner_text() if blocked.count() else "")
