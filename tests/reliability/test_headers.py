"""Security headers on pages, safe media responses, CSRF on every form, no inline code.

Login throttling (django-axes) is shown by tests/accounts/test_login_throttle.py.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse

from tests.reliability import ledger
from tests.reliability.test_access_matrix import API, PAGES, ROLES, _world, world  # noqa: F401

SUITE = "security_headers"
TEMPLATES = Path(settings.BASE_DIR) / "templates"

pytestmark = pytest.mark.django_db


def _templates() -> list[Path]:
    return sorted(TEMPLATES.rglob("*.html"))


# --- No inline code: the CSP can forbid it --------------------------------------------------

INLINE = [
    (
        re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*type=\"application/(?:ld\+)?json\")[^>]*>"),
        "inline script",
    ),
    (re.compile(r"<[a-z][^>]*\son[a-z]+\s*=", re.IGNORECASE), "event handler attribute"),
    (re.compile(r"<[a-z][^>]*\sstyle\s*=", re.IGNORECASE), "style attribute"),
    (re.compile(r"<style[\s>]", re.IGNORECASE), "style element"),
    (re.compile(r"javascript:", re.IGNORECASE), "javascript: URL"),
]


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_templates_hold_no_inline_code(template):
    # Escaped markup shown as text (the share page's embed code) is not markup.
    text = template.read_text()
    for pattern, what in INLINE:
        assert not pattern.search(text), f"{what} in {template.relative_to(TEMPLATES)}"


@pytest.mark.parametrize("template", _templates(), ids=lambda p: str(p.relative_to(TEMPLATES)))
def test_every_post_form_in_every_template_carries_a_csrf_token(template):
    text = template.read_text()
    for form in re.findall(r"<form[^>]*>.*?</form>", text, flags=re.S | re.I):
        if re.search(r"method=\"post\"", form, flags=re.I):
            assert "{% csrf_token %}" in form, f"{template.name}: {form[:80]}"


# --- Headers on every page ------------------------------------------------------------------


def _page_get_routes():
    return sorted(name for name, route in PAGES.items() if route.method == "GET")


def _csp(response) -> dict[str, str]:
    header = response.get("Content-Security-Policy", "")
    parts = [part.strip() for part in header.split(";") if part.strip()]
    return {part.split()[0]: " ".join(part.split()[1:]) for part in parts}


@pytest.mark.parametrize("name", _page_get_routes())
def test_pages_carry_the_security_headers(name, world):  # noqa: F811
    # As someone who may see the page (the owner, or staff for staff pages).
    role = next((r for r in ("owner", "staff") if PAGES[name].expect[r] in (200, 302)), None)
    if role is None:  # e.g. a finished job's previews: a 404 for everyone in this world
        pytest.skip("nobody may open this page in the matrix's world (tests/studio covers it)")
    if PAGES[name].setup:  # e.g. the trash thumbnail needs something in the trash
        PAGES[name].setup(world)
    client = Client()
    client.force_login(world.users[role])
    response = client.get(PAGES[name].path(world))
    assert response.status_code < 400
    ledger.record(SUITE, responses_checked=1)
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Referrer-Policy"] == "same-origin"
    policy = _csp(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"  # no 'unsafe-inline', no CDN
    assert policy["object-src"] == "'none'"
    if name == "share-embed":  # made to be framed by other sites
        assert "X-Frame-Options" not in response
        assert policy["frame-ancestors"] == "*"
    else:
        assert response["X-Frame-Options"] == "DENY"
        assert policy["frame-ancestors"] == "'none'"


def test_api_answers_carry_nosniff_and_no_framing(world):  # noqa: F811
    headers = {"HTTP_AUTHORIZATION": f"Bearer {world.secrets['owner']}"}
    for path in ("/v1/me", "/v1/jobs", f"/v1/jobs/{world.job.public_id}", "/v1/nope"):
        response = Client().get(path, **headers)
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["X-Frame-Options"] == "DENY", path
        assert response["Content-Type"].startswith("application/json"), path


# --- Media ----------------------------------------------------------------------------------

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _media_urls(w) -> list[tuple[str, str]]:
    image = w.image
    return [
        (reverse("image-file", args=[image.public_id]), "png"),
        (reverse("image-thumbnail", args=[image.public_id]), "webp"),
        (reverse("share-file", args=[w.share.token]), "png"),
        (reverse("share-thumbnail", args=[w.share.token]), "webp"),
        (reverse("share-image-file", args=[w.collection_share.token, image.public_id]), "png"),
        (
            reverse("share-image-thumbnail", args=[w.collection_share.token, image.public_id]),
            "webp",
        ),
        (w.signed, "png"),
    ]


def test_media_is_served_as_png_or_webp_with_a_safe_disposition(world):  # noqa: F811
    client = Client()
    client.force_login(world.users["owner"])
    for path, kind in _media_urls(world):
        response = client.get(path)
        body = b"".join(response.streaming_content)
        ledger.record(SUITE, responses_checked=1)
        assert response.status_code == 200, path
        assert response["Content-Type"] == f"image/{kind}", path
        assert response["X-Content-Type-Options"] == "nosniff", path
        assert response["Content-Disposition"] == (
            f'inline; filename="{world.image.public_id}.{kind}"'
        ), path
        assert response["Cache-Control"].startswith("private"), path
        # The bytes are what the type says: re-encoded by Pillow, never the backend's bytes.
        if kind == "png":
            assert body.startswith(PNG_MAGIC), path
        else:
            assert body[:4] == b"RIFF" and body[8:12] == b"WEBP", path


def test_media_files_are_not_served_from_a_public_folder(world):  # noqa: F811
    name = world.image.file.name
    for prefix in ("/media/", "/static/", "/"):
        assert Client().get(prefix + name).status_code == 404


def test_zip_download_is_an_attachment(world):  # noqa: F811
    client = Client()
    client.force_login(world.users["owner"])
    response = client.post(
        reverse("gallery-bulk"), {"images": [str(world.image.public_id)], "action": "zip"}
    )
    assert response["Content-Type"] == "application/zip"
    assert response["Content-Disposition"].startswith('attachment; filename="qwen-images-')
    assert response["X-Content-Type-Options"] == "nosniff"


# --- CSRF on every form and every session-authenticated API write ---------------------------


@pytest.mark.parametrize("name", sorted(n for n, r in PAGES.items() if r.method == "POST"))
def test_every_form_post_without_a_csrf_token_is_refused(name, world):  # noqa: F811
    route = PAGES[name]
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["owner"])
    response = client.post(route.path(world), route.data(world) if route.data else {})
    ledger.record(SUITE, csrf_checks=1)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "path",
    ["login", "signup", "password_reset"],
)
def test_anonymous_forms_need_a_csrf_token_too(path, db):
    response = Client(enforce_csrf_checks=True).post(
        reverse(path), {"username": "x", "password": "y", "email": "x@example.com"}
    )
    ledger.record(SUITE, csrf_checks=1)
    assert response.status_code == 403


@pytest.mark.parametrize(
    "key",
    sorted(k for k in API if k[0] != "GET"),
    ids=lambda k: f"{k[0]} {k[1]}",
)
def test_api_writes_with_a_session_need_a_csrf_token(key, world):  # noqa: F811
    """A signed-in browser may use the API, so a cross-site form could try: without the
    X-CSRFToken header the write is refused (a Bearer key needs none, no cookie is involved)."""
    route = API[key]
    client = Client(enforce_csrf_checks=True)
    client.force_login(world.users["owner"])
    data = route.data(world) if route.data else {}
    response = client.generic(
        route.method, route.path(world), __import__("json").dumps(data), "application/json"
    )
    ledger.record(SUITE, csrf_checks=1)
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "csrf_failed"


def test_roles_cover_the_cast():
    assert ROLES == ("anonymous", "outsider", "teammate", "staff", "owner")


# --- No open redirect -----------------------------------------------------------------------

EVIL = [
    "https://evil.example/phish",
    "//evil.example/phish",
    "/\\evil.example",
    "javascript:alert(1)",
]


@pytest.mark.parametrize("name", sorted(n for n, r in PAGES.items() if r.method == "POST"))
def test_form_actions_never_redirect_off_site(name, world):  # noqa: F811
    """Every action that honours a `next` field keeps it on this site."""
    route = PAGES[name]
    client = Client()
    client.force_login(world.users["owner"])
    for target in EVIL:
        data = {**(route.data(world) if route.data else {}), "next": target}
        response = client.post(route.path(world), data)
        location = response.get("Location", "")
        ledger.record(SUITE, redirects_checked=1)
        assert not location.startswith(("http", "//", "/\\", "javascript")), (target, location)


def test_login_never_redirects_off_site(world):  # noqa: F811 (the world's owner signs in)
    from tests.factories import PASSWORD

    for target in EVIL:
        response = Client().post(
            f"{reverse('login')}?next={target}", {"username": "owner", "password": PASSWORD}
        )
        assert response.status_code == 302
        assert response["Location"] == reverse("generate"), (target, response["Location"])


@pytest.mark.slow  # the settings load in a subprocess
def test_pages_may_load_images_from_the_s3_origin_signed_urls_point_to(tmp_path):
    """With images on S3 the file views redirect to signed URLs there: img-src allows it."""
    import json
    import os
    import subprocess
    import sys

    code = (
        "import json, config.settings as s; "
        "print(json.dumps(s.CONTENT_SECURITY_POLICY['DIRECTIVES']['img-src']))"
    )
    env = {
        **os.environ,
        "QWEN_STUDIO_VAR_DIR": str(tmp_path),
        "AWS_STORAGE_BUCKET_NAME": "studio-images",
        "AWS_S3_ENDPOINT_URL": "https://s3.example.net:9000/",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    sources = json.loads(result.stdout.strip().splitlines()[-1])
    assert sources == [
        "'self'",
        "data:",
        "https://s3.example.net:9000",
        "https://*.s3.example.net:9000",
    ]
