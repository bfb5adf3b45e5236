"""The remote backend against the fake hosted endpoint: a real HTTP server on 127.0.0.1."""

import io
import logging
import socket
import time

import pytest
from PIL import Image as PILImage

from generation.backends import BackendError, Canceled, GenerationRequest
from generation.backends.remote import RemoteBackend
from generation.backends.remote.errors import parse_retry_after
from tests.fakes.endpoint import FakeImageEndpoint, render_png, request_schema

KEY = "sk-test-do-not-log-0123456789"


def make_request(*seeds, width=64, height=48, **overrides) -> GenerationRequest:
    values = {
        "model": "qwen-image",
        "prompt": "a lighthouse at dusk",
        "negative_prompt": "blurry",
        "width": width,
        "height": height,
        "num_inference_steps": 8,
        "guidance_scale": 3.5,
        "acceleration": "regular",
        "enable_safety_checker": True,
        "seeds": list(seeds or [42]),
    }
    values.update(overrides)
    return GenerationRequest(**values)


@pytest.fixture
def fake():
    with FakeImageEndpoint(max_lifetime=60) as endpoint:
        yield endpoint


@pytest.fixture
def other_fake():
    with FakeImageEndpoint(max_lifetime=60) as endpoint:
        yield endpoint


def make_backend(fake, **overrides) -> RemoteBackend:
    options = {
        "api_base": fake.url,
        "api_key": KEY,
        "model": "qwen-image",
        "output_format": "url",
        "connect_timeout": 2.0,
        "read_timeout": 2.0,
        "call_budget": 5.0,
        "max_download_bytes": 2 * 1024 * 1024,
    }
    options.update(overrides)
    return RemoteBackend(**options)


def generate(backend, request=None, cancel=lambda: False):
    progress: list[float] = []
    images = backend.generate(
        request or make_request(), on_progress=progress.append, should_cancel=cancel
    )
    return images, progress


def failure(backend, request=None) -> BackendError:
    with pytest.raises(BackendError) as caught:
        generate(backend, request)
    return caught.value


def size_of(data: bytes) -> tuple[int, int]:
    with PILImage.open(io.BytesIO(data)) as image:
        return image.size


# --- Answers ---------------------------------------------------------------------------------


@pytest.mark.parametrize("output_format", ["url", "b64_json"])
def test_each_image_comes_from_its_own_call_with_its_own_seed(fake, output_format):
    backend = make_backend(fake, output_format=output_format)
    images, progress = generate(backend, make_request(7, 8))
    assert [image.seed for image in images] == [7, 8]
    assert [size_of(image.data) for image in images] == [(64, 48), (64, 48)]
    # Image i is exactly what a call with seed i gives: reproducible on its own.
    assert images[1].data == render_png("a lighthouse at dusk", 8, 64, 48)
    assert sorted(r.body["seed"] for r in fake.requests) == [7, 8]
    assert all(r.body["n"] == 1 for r in fake.requests)
    assert all(r.body["output_format"] == output_format for r in fake.requests)
    assert len(fake.downloads) == (2 if output_format == "url" else 0)
    assert progress[-1] == 1.0
    assert images[0].revised_prompt == "a lighthouse at dusk"


def test_the_request_sends_every_field_of_the_spec_and_validates(fake):
    generate(make_backend(fake))
    (received,) = fake.requests
    assert received.valid, received.errors
    assert set(received.body) == set(request_schema()["properties"])
    assert received.body == {
        "model": "qwen-image",
        "prompt": "a lighthouse at dusk",
        "size": {"width": 64, "height": 48},
        "num_inference_steps": 8,
        "guidance_scale": 3.5,
        "seed": 42,
        "negative_prompt": "blurry",
        "acceleration": "regular",
        "enable_safety_checker": True,
        "n": 1,
        "output_format": "url",
    }
    assert received.headers["Authorization"] == "Bearer ***"


def test_the_fake_endpoint_rejects_a_body_that_breaks_the_spec(fake):
    import httpx

    response = httpx.post(
        fake.url + "/v1/images/generations",
        json={"prompt": 3, "acceleration": "turbo"},
        headers={"Authorization": "Bearer x"},
    )
    assert response.status_code == 400
    (received,) = fake.requests
    assert not received.valid
    assert any("model" in error for error in received.errors)
    assert any(error.startswith("acceleration") for error in received.errors)


def test_calls_for_several_images_run_concurrently(fake):
    fake.latency = 0.4
    started = time.monotonic()
    images, _ = generate(make_backend(fake), make_request(1, 2, 3))
    assert len(images) == 3
    assert time.monotonic() - started < 1.1  # three calls one after another take 1.2 s


def test_provider_safety_signal_is_passed_on(fake):
    fake.push("nsfw")
    images, _ = generate(make_backend(fake))
    assert images[0].provider_nsfw is True


def test_no_signal_means_unknown(fake):
    images, _ = generate(make_backend(fake, output_format="b64_json"))
    assert images[0].provider_nsfw is None


def test_redirect_within_the_allowed_origin_is_followed(fake):
    fake.push("redirect_same_origin")
    images, _ = generate(make_backend(fake))
    assert size_of(images[0].data) == (64, 48)
    assert len(fake.downloads) == 2


def test_an_allowed_extra_origin_may_serve_the_image(fake, other_fake):
    token = other_fake._store(render_png("x", 1, 64, 48))
    fake.push("foreign_url", target=f"{other_fake.url}/files/{token}.png")
    backend = make_backend(fake, download_origins=[other_fake.url])
    images, _ = generate(backend)
    assert other_fake.downloads == [token]
    assert size_of(images[0].data) == (64, 48)


# --- Faults ----------------------------------------------------------------------------------


def test_rate_limit_is_retryable_and_carries_retry_after(fake):
    fake.push("rate_limit", retry_after="7")
    error = failure(make_backend(fake))
    assert (error.code, error.retryable, error.retry_after, error.status) == (
        "rate_limited",
        True,
        7.0,
        429,
    )
    assert "rate limiting" in error.message


def test_retry_after_as_seconds_or_http_date():
    assert parse_retry_after("12") == 12.0
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert parse_retry_after("soon") is None
    assert parse_retry_after("999999") == 3600.0


@pytest.mark.parametrize(
    ("fault", "options", "code", "retryable", "says"),
    [
        ("server_error", {"status": 500}, "upstream_error", True, "HTTP 500"),
        ("server_error", {"status": 502}, "upstream_error", True, "HTTP 502"),
        ("server_error", {"status": 503}, "upstream_error", True, "HTTP 503"),
        ("bad_request", {"message": "prompt is too long"}, "bad_request", False, "too long"),
        ("unprocessable", {}, "bad_request", False, "value is not a valid integer"),
        ("unauthorized", {}, "upstream_auth", False, "Invalid API key"),
        ("forbidden", {}, "upstream_auth", False, "may not use this model"),
        ("content_policy", {}, "content_policy", False, "safety system"),
        ("malformed_json", {}, "upstream_bad_json", True, "malformed JSON"),
        ("no_data", {}, "upstream_no_data", True, "without any image"),
        ("wrong_content_type", {}, "upstream_bad_content_type", True, "text/html"),
        ("bad_base64", {}, "upstream_bad_item", True, "not valid base64"),
        ("drop", {}, "upstream_unreachable", True, "broke"),
    ],
)
def test_faults_map_to_clear_errors(fake, fault, options, code, retryable, says):
    fake.push(fault, **options)
    error = failure(make_backend(fake, output_format="b64_json"))
    assert (error.code, error.retryable) == (code, retryable)
    assert says in error.message


def test_a_slow_answer_times_out(fake):
    fake.push("slow", seconds=2.0)
    started = time.monotonic()
    error = failure(make_backend(fake, read_timeout=0.3))
    assert (error.code, error.retryable) == ("upstream_timeout", True)
    assert time.monotonic() - started < 1.5


class SteppingClock:
    """A clock that moves one second each time it is read, whatever the wall clock does."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        self.now += 1.0
        return self.now


def test_a_trickling_answer_is_cut_at_the_call_budget(fake):
    # Each byte arrives well within the read timeout: only the call budget stops it. The budget
    # runs on a SteppingClock, which the backend reads once per chunk, so it runs out six
    # chunks into the answer however busy this machine is; on the wall clock, a slow first
    # byte would meet the read timeout (clipped to what is left of the budget) first instead.
    fake.push("trickle", seconds=0.1)  # an answer of over 100 bytes: more than 10 s in all
    started = time.monotonic()
    backend = make_backend(fake, read_timeout=10.0, call_budget=8.0, clock=SteppingClock())
    error = failure(backend)
    assert (error.code, error.retryable) == ("upstream_timeout", True)
    assert "8 s budget" in error.message
    assert time.monotonic() - started < 8.0  # a few bytes in, long before the answer's end


def test_connection_refused_is_retryable():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    backend = RemoteBackend(api_base=f"http://127.0.0.1:{port}", api_key=KEY, model="qwen-image")
    error = failure(backend)
    assert (error.code, error.retryable) == ("upstream_unreachable", True)


def test_without_a_key_nothing_is_sent(fake):
    error = failure(make_backend(fake, api_key=""))
    assert (error.code, error.retryable) == ("not_configured", False)
    assert fake.requests == []


@pytest.mark.parametrize(
    "overrides",
    [
        {"api_base": "image.example.com"},
        {"download_origins": ["cdn.example.com"]},
        {"output_format": "png"},
    ],
)
def test_a_malformed_setting_fails_with_a_clear_message(fake, overrides):
    error = failure(make_backend(fake, **overrides))
    assert (error.code, error.retryable) == ("not_configured", False)
    assert "QWEN_IMAGE_" in error.message
    assert fake.requests == []


def test_cancel_stops_waiting_for_the_calls(fake):
    fake.latency = 2.0
    started = time.monotonic()
    with pytest.raises(Canceled):
        generate(
            make_backend(fake),
            make_request(1, 2),
            cancel=lambda: time.monotonic() > started + 0.3,
        )
    assert len(fake.requests) == 2  # the calls were in flight
    assert time.monotonic() - started < 1.2


# --- Downloads -------------------------------------------------------------------------------


def test_an_image_url_on_another_port_is_refused_without_connecting(fake, other_fake):
    fake.push("foreign_url", target=f"{other_fake.url}/files/anything.png")
    error = failure(make_backend(fake))
    assert (error.code, error.retryable) == ("download_refused", False)
    assert str(other_fake.port) in error.message
    assert other_fake.downloads == [] and other_fake.requests == []


@pytest.mark.parametrize(
    "target",
    [
        "http://10.0.0.1/image.png",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]:80/image.png",
        "http://192.168.1.20:8080/image.png",
    ],
)
def test_an_image_url_on_a_private_address_is_refused_at_once(fake, target):
    fake.push("private_url", target=target)
    started = time.monotonic()
    error = failure(make_backend(fake, connect_timeout=3.0))
    assert error.code == "download_refused" and "private or local network" in error.message
    assert time.monotonic() - started < 1.0  # no connection attempt to wait for


@pytest.mark.parametrize(
    ("url", "allowed"),
    [
        ("{base}/files/a.png", True),
        ("{base_upper}/files/a.png", True),
        ("https://127.0.0.1:{port}/files/a.png", False),  # another scheme
        ("http://127.0.0.1:{other}/files/a.png", False),  # another port
        ("http://localhost:{port}/files/a.png", False),  # another host name
        ("http://user:pw@127.0.0.1:{port}/files/a.png", False),
        ("file:///etc/passwd", False),
        ("ftp://127.0.0.1/a.png", False),
    ],
)
def test_only_exact_allowed_origins_may_be_downloaded(fake, url, allowed):
    backend = make_backend(fake)
    url = url.format(
        base=fake.url,
        base_upper=fake.url.replace("http://", "HTTP://"),
        port=fake.port,
        other=fake.port + 1,
    )
    if allowed:
        backend.check_download_url(url)
    else:
        with pytest.raises(BackendError) as caught:
            backend.check_download_url(url)
        assert caught.value.code == "download_refused"


def test_a_redirect_off_the_allowed_origins_is_refused(fake):
    fake.push("redirect", target="http://169.254.169.254/latest/meta-data/")
    error = failure(make_backend(fake))
    assert error.code == "download_refused"
    assert len(fake.downloads) == 1


def test_redirects_are_followed_at_most_three_times(fake):
    fake.push("redirect_loop")
    error = failure(make_backend(fake))
    assert error.code == "download_refused" and "more than 3" in error.message
    assert len(fake.downloads) == 4


@pytest.mark.parametrize("fault", ["oversized", "oversized_stream"])
def test_a_download_over_the_byte_cap_is_refused(fake, fault):
    fake.push(fault, size=3 * 1024 * 1024)
    error = failure(make_backend(fake, max_download_bytes=1024 * 1024))
    assert (error.code, error.retryable) == ("image_too_large", False)


def test_a_base64_image_over_the_byte_cap_is_refused_before_decoding(fake):
    error = failure(make_backend(fake, output_format="b64_json", max_download_bytes=500))
    assert error.code == "image_too_large"


# --- Secrets ---------------------------------------------------------------------------------


def test_the_api_key_is_never_logged_nor_shown(fake, caplog):
    caplog.set_level(logging.DEBUG)
    backend = make_backend(fake)
    fake.push("unauthorized")
    error = failure(backend)
    generate(backend)
    assert KEY not in caplog.text
    assert KEY not in error.message and KEY not in repr(backend)


def test_from_settings_reads_the_configuration(settings):
    settings.QWEN_IMAGE_API_BASE = "https://images.example.com/"
    settings.QWEN_IMAGE_API_KEY = KEY
    settings.QWEN_IMAGE_DOWNLOAD_ORIGINS = ["https://cdn.example.com"]
    settings.QWEN_IMAGE_OUTPUT_FORMAT = "url"
    backend = RemoteBackend.from_settings()
    assert backend.api_base == "https://images.example.com"
    assert backend.output_format == "url"
    backend.check_download_url("https://images.example.com/x.png")
    backend.check_download_url("https://cdn.example.com:443/x.png")
    with pytest.raises(BackendError):
        backend.check_download_url("https://cdn.example.com:8443/x.png")


def test_one_client_is_shared_across_threads(fake):
    import concurrent.futures

    backend = make_backend(fake)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        clients = set(pool.map(lambda _: id(backend.client), range(32)))
    assert len(clients) == 1
