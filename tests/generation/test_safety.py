"""The safety checker: a real classifier run offline on real image bytes, the provider's
signals, the threshold, and failing closed."""

import io
import socket

import pytest
from PIL import Image as PILImage

from generation import safety
from generation.backends import GeneratedImage
from generation.imaging import decode
from generation.models import Image, Job
from tests.factories import make_image, make_job, png_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def fresh_checkers():
    """No checker built yet in this process. Only where loading is the point: the others
    share the process's loaded classifier, as a worker's jobs do (loading takes ~0.3 s)."""
    safety.reset_safety_checkers()
    yield
    safety.reset_safety_checkers()


@pytest.fixture
def no_network(monkeypatch):
    """Any attempt to open a connection fails the test."""

    def refuse(*args, **kwargs):
        raise AssertionError("the safety checker tried to use the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


def _photo_like(size: int = 320) -> bytes:
    """A JPEG with structure (gradients and shapes), not a flat colour."""
    image = PILImage.linear_gradient("L").resize((size, size)).convert("RGB")
    for x in range(0, size, 40):
        image.paste((30 + x % 200, 90, 160), (x, x // 2, x + 25, x // 2 + 25))
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def test_classifier_scores_real_image_bytes_offline(fresh_checkers, no_network, settings):
    settings.SAFETY_CHECKER = "opennsfw"
    checker = safety.get_safety_checker()
    assert isinstance(checker, safety.OpenNsfwChecker)
    for data in (png_bytes(256, 256, (40, 120, 200)), _photo_like()):
        result = checker.check(decode(data), provider_nsfw=None)
        assert isinstance(result.score, float)
        assert 0.0 <= result.score <= 1.0
        # Plain pictures are far from the line.
        assert result.score < 0.2
        assert result.flagged is False and result.note == ""


def test_classifier_is_loaded_once_per_process_and_lazily(settings, fresh_checkers):
    settings.SAFETY_CHECKER = "opennsfw"
    checker = safety.get_safety_checker()
    assert checker._classifier is None  # nothing loaded until an image needs checking
    checker.check(decode(png_bytes(64, 64)), provider_nsfw=None)
    loaded = checker._classifier
    assert loaded is not None
    again = safety.get_safety_checker()
    again.check(decode(png_bytes(64, 64, (1, 200, 3))), provider_nsfw=None)
    assert again is checker and again._classifier is loaded


def test_every_stored_image_is_scored_and_the_score_is_kept(owner, settings):
    settings.SAFETY_CHECKER = "opennsfw"
    image = make_image(owner)
    assert isinstance(image.safety_score, float) and 0.0 <= image.safety_score <= 1.0
    assert image.safety_score < settings.SAFETY_NSFW_THRESHOLD
    assert image.moderation_state == Image.Moderation.CLEAR


def test_our_checker_runs_even_when_the_provider_checker_is_off(owner, settings):
    """enable_safety_checker is the provider's checker; the portal checks every image."""
    settings.SAFETY_CHECKER = "opennsfw"
    image = make_image(owner, enable_safety_checker=False)
    assert image.safety_score is not None


def test_score_at_the_threshold_flags_the_image(owner, settings):
    settings.SAFETY_CHECKER = "opennsfw"
    settings.SAFETY_NSFW_THRESHOLD = 0.0  # every score reaches it
    image = make_image(owner, visibility="public")
    assert image.moderation_state == Image.Moderation.FLAGGED
    assert "threshold 0.00" in image.safety_note
    assert image.review_requested_at is not None


def test_provider_nsfw_flag_holds_the_image(settings):
    settings.SAFETY_CHECKER = "provider"
    result = safety.image_safety_check(decode(png_bytes(64, 64)), provider_nsfw=True)
    assert result.flagged and "has_nsfw_concepts" in result.note
    assert result.score is None


@pytest.mark.parametrize("checker", ["provider", "opennsfw"])
def test_a_blanked_black_image_is_flagged(checker, settings):
    settings.SAFETY_CHECKER = checker
    result = safety.image_safety_check(decode(png_bytes(128, 128, (0, 0, 0))), provider_nsfw=None)
    assert result.flagged and "blank" in result.note
    # A dark but not blank image is not.
    dark = safety.image_safety_check(decode(png_bytes(128, 128, (40, 40, 40))), provider_nsfw=None)
    assert not dark.flagged


class _Broken:
    name = "broken"

    def check(self, image, *, provider_nsfw, preview=None):
        raise RuntimeError("onnxruntime exploded")


def test_a_failing_checker_holds_the_image_and_the_job_still_succeeds(owner, monkeypatch, caplog):
    monkeypatch.setattr(safety, "get_safety_checker", lambda: _Broken())
    job = make_job(owner, visibility="public")
    assert job.status == Job.Status.SUCCEEDED
    image = job.images.get()
    assert image.moderation_state == Image.Moderation.FLAGGED
    assert image.safety_score is None
    assert "safety checker failed" in image.safety_note
    assert "onnxruntime exploded" in image.safety_note
    assert "holding the image for review" in caplog.text


def test_a_classifier_that_cannot_load_fails_closed(owner, settings, monkeypatch):
    settings.SAFETY_CHECKER = "opennsfw"

    def cannot_load(self):
        raise OSError("model file missing")

    monkeypatch.setattr(safety.OpenNsfwChecker, "_model", cannot_load)
    result = safety.image_safety_check(decode(png_bytes(64, 64)), provider_nsfw=True)
    assert result.flagged
    assert "model file missing" in result.note and "has_nsfw_concepts" in result.note


def test_provider_signal_from_a_backend_flags_the_stored_image(owner, monkeypatch):
    from generation.backends import demo

    original = demo.DemoBackend.generate

    def flagged(self, request, **kwargs):
        return [
            GeneratedImage(data=item.data, seed=item.seed, provider_nsfw=True)
            for item in original(self, request, **kwargs)
        ]

    monkeypatch.setattr(demo.DemoBackend, "generate", flagged)
    image = make_image(owner)
    assert image.provider_nsfw is True
    assert image.moderation_state == Image.Moderation.FLAGGED
