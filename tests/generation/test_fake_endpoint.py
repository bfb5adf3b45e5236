"""The fake hosted endpoint itself: what it answers, what it records, its command."""

import io
import socket
import time

import httpx
import pytest
from django.core.management import CommandError, call_command
from PIL import Image as PILImage

from tests.fakes.endpoint import (
    FakeImageEndpoint,
    bomb_png,
    validate_request_body,
    validate_response_body,
)

BODY = {
    "model": "qwen-image",
    "prompt": "a kite",
    "size": {"width": 80, "height": 48},
    "seed": 3,
    "n": 2,
    "output_format": "b64_json",
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def post(endpoint, body=BODY, key="k"):
    return httpx.post(
        endpoint.url + "/v1/images/generations",
        json=body,
        headers={"Authorization": f"Bearer {key}"},
    )


def test_answers_match_the_spec_with_pngs_of_the_requested_size():
    with FakeImageEndpoint(max_lifetime=30) as fake:
        answer = post(fake).json()
        assert validate_response_body(answer) == []
        assert len(answer["data"]) == 2
        url_answer = post(fake, {**BODY, "output_format": "url", "n": 1}).json()
        image = httpx.get(url_answer["data"][0]["url"])
    assert image.headers["content-type"] == "image/png"
    with PILImage.open(io.BytesIO(image.content)) as png:
        assert png.size == (80, 48)


def test_records_requests_and_takes_faults_over_http():
    with FakeImageEndpoint(max_lifetime=30) as fake:
        httpx.post(fake.url + "/_fake/faults", json=[{"kind": "server_error", "status": 503}])
        assert post(fake).status_code == 503
        assert post(fake).status_code == 200
        recorded = httpx.get(fake.url + "/_fake/requests").json()["requests"]
    assert [r["fault"] for r in recorded] == ["server_error", "ok"]
    assert all(r["valid"] for r in recorded)
    assert all(r["headers"]["Authorization"] == "Bearer ***" for r in recorded)


def test_a_configured_key_is_enforced():
    with FakeImageEndpoint(max_lifetime=30, api_key="right") as fake:
        assert post(fake, key="wrong").status_code == 401
        assert post(fake, key="right").status_code == 200


def test_validation_names_each_problem():
    errors = validate_request_body({"prompt": "x", "size": {"width": 10}, "n": "two"})
    assert any("'model' is a required property" in e for e in errors)
    assert any(e.startswith("size") and "height" in e for e in errors)
    assert any(e.startswith("n:") for e in errors)
    assert validate_request_body({"model": "m", "prompt": "p"}) == []


def test_the_bomb_declares_far_more_pixels_than_it_weighs():
    data = bomb_png()
    assert len(data) < 100_000
    with pytest.warns(PILImage.DecompressionBombWarning), PILImage.open(io.BytesIO(data)) as image:
        assert image.size == (10000, 10000)


def test_it_stops_by_itself_after_its_lifetime():
    fake = FakeImageEndpoint(max_lifetime=0.3).start()
    deadline = time.monotonic() + 5
    while fake.running and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not fake.running
    with pytest.raises(httpx.ConnectError):
        post(fake)


def test_the_command_serves_until_its_lifetime_ends(capsys):
    call_command("fake_endpoint", port=free_port(), lifetime=0.5, fault=["rate_limit:2", "drop"])
    out = capsys.readouterr().out
    assert "Fake image endpoint on http://127.0.0.1:" in out and "3 faults queued" in out


def test_the_command_refuses_an_unknown_fault():
    with pytest.raises(CommandError, match="Unknown fault"):
        call_command("fake_endpoint", port=free_port(), lifetime=0.1, fault=["meteor"])
