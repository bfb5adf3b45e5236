"""An edit is a job like any other: queue, retries, moderation, webhooks, reseeds; its sources
are stored with it, so it reproduces, and the lineage shows where it came from."""

import io
import json

import pytest
from django.core.files.storage import default_storage
from PIL import Image as PILImage

from gallery.services import image_reseed, images_delete
from generation import lifecycle, runner
from generation.backends import BackendError
from generation.edits import selectors
from generation.edits.sources import EditInputError
from generation.imaging import read_parameters
from generation.models import BlockedTerm, EditInput, Image, Job
from generation.moderation import PromptBlocked
from tests.edits.helpers import box_mask, make_edit, photo, pixels
from tests.factories import make_image

pytestmark = pytest.mark.django_db


def test_an_edit_job_stores_its_sources_and_results_of_the_sources_size(owner):
    job = make_edit(owner, images=[photo(320, 256, seed=1), photo(128, 128, seed=2)])
    assert job.status == Job.Status.SUCCEEDED, job.error_message
    assert job.model == "qwen-image-edit-plus" and (job.width, job.height) == (320, 256)
    rows = list(job.edit_inputs.order_by("position"))
    assert [(r.role, r.position, r.width) for r in rows] == [("image", 0, 320), ("image", 1, 128)]
    for row in rows:
        assert default_storage.exists(row.file.name)
    result = job.images.get()
    assert (result.width, result.height) == (320, 256)
    embedded = read_parameters(default_storage.open(result.file.name).read())
    assert embedded["edit"]["images"][0]["sha256"] == rows[0].sha256


def test_same_sources_and_seed_give_the_same_pixels_and_another_seed_differs(owner):
    source = photo()
    first = make_edit(owner, images=[source], seed=11).images.get()
    again = make_edit(owner, images=[source], seed=11).images.get()
    other = make_edit(owner, images=[source], seed=12).images.get()
    assert first.pixel_sha256 == again.pixel_sha256 != other.pixel_sha256


def test_the_mask_leaves_every_pixel_outside_it_untouched(owner):
    source = photo(256, 256)
    job = make_edit(owner, images=[source], mask=box_mask(box=(64, 64, 191, 191)))
    after = pixels(job.images.get())
    before = PILImage.open(io.BytesIO(source)).convert("RGB")
    changed_outside = [
        (x, y)
        for x in range(0, 256, 3)
        for y in range(0, 256, 3)
        if not (64 <= x <= 191 and 64 <= y <= 191)
        and after.getpixel((x, y)) != before.getpixel((x, y))
    ]
    assert changed_outside == []
    inside = [after.getpixel((x, 128)) != before.getpixel((x, 128)) for x in range(80, 176)]
    assert sum(inside) > len(inside) * 0.9


def test_a_retry_reproduces_from_the_stored_copies(owner, monkeypatch):
    calls = []
    real = runner.get_backend

    def flaky(name=None, *, edit=False):
        backend = real(name, edit=edit)
        if not calls:
            calls.append(1)

            class Down:
                def generate(self, request, **kwargs):
                    raise BackendError("busy", code="upstream_error", retryable=True)

            return Down()
        return backend

    monkeypatch.setattr(runner, "get_backend", flaky)
    job = make_edit(owner, seed=3)
    assert job.status == Job.Status.QUEUED and job.attempts == 1  # waiting for its retry
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    reference = make_edit(owner, seed=3)
    assert job.status == Job.Status.SUCCEEDED and job.attempts == 2
    assert job.images.get().pixel_sha256 == reference.images.get().pixel_sha256


def test_missing_or_altered_inputs_fail_the_job_with_a_clear_message(owner):
    job = make_edit(owner, run=False)
    row = job.edit_inputs.get()
    with default_storage.open(row.file.name, "wb") as handle:
        handle.write(photo(seed=9))
    runner.job_run(job_id=job.pk)
    job.refresh_from_db()
    assert job.status == Job.Status.FAILED and job.error_code == "edit_inputs_missing"
    assert "altered" in job.error_message


def test_the_blocklist_applies_to_edit_instructions(owner):
    BlockedTerm.objects.create(term="forbidden")
    with pytest.raises(PromptBlocked):
        make_edit(owner, prompt="make it forbidden")
    assert not Job.objects.exists() and not EditInput.objects.exists()


def test_an_upload_the_safety_checker_flags_fails_the_edit(owner, monkeypatch, settings):
    settings.SAFETY_NSFW_THRESHOLD = 0.5

    class Checker:
        name = "test"

        def score(self, image):
            return 0.9

        def check(self, image, *, provider_nsfw):
            raise AssertionError("outputs are not reached")

    monkeypatch.setattr("generation.edits.run.get_safety_checker", lambda: Checker())
    job = make_edit(owner)
    assert job.status == Job.Status.FAILED and job.error_code == "source_flagged"
    assert not job.images.exists()


def test_an_edit_result_meets_the_safety_checker_like_any_image(owner, monkeypatch):
    from generation.safety import SafetyResult

    monkeypatch.setattr(
        runner,
        "image_safety_check",
        lambda image, provider_nsfw, **_: SafetyResult(score=0.99, flagged=True, note="held"),
    )
    monkeypatch.setattr("generation.edits.run.get_safety_checker", lambda: object())
    result = make_edit(owner).images.get()
    assert result.moderation_state == Image.Moderation.FLAGGED


def test_edits_announce_their_end_to_webhooks(owner, settings, django_capture_on_commit_callbacks):
    settings.WEBHOOK_ALLOWED_HOSTS = ["hooks.example.com"]
    from generation.edits.sources import edit_prepare
    from generation.params import GenerationParams

    prepared = edit_prepare(user=owner, images=[photo()])
    with django_capture_on_commit_callbacks(execute=False):
        job = lifecycle.job_create(
            user=owner,
            params=GenerationParams(prompt="gold", edit=prepared.params()),
            edit_inputs=prepared,
            webhook_url="https://hooks.example.com/done",
        )
    runner.job_run(job_id=job.pk)
    delivery = job.webhook_deliveries.get()
    assert delivery.event == "job.succeeded"
    assert delivery.payload["data"]["job"]["params"]["edit"]["images"][0]["sha256"]


def test_job_create_refuses_an_edit_without_its_inputs(owner):
    from generation.params import GenerationParams

    params = GenerationParams(
        prompt="x", edit={"images": [{"sha256": "a" * 64, "width": 300, "height": 300}]}
    )
    with pytest.raises(ValueError):
        lifecycle.job_create(user=owner, params=params)


# --- Reseeds of an edit -----------------------------------------------------------------------


def test_a_reseed_of_an_edit_reruns_it_from_the_same_sources(owner):
    edit = make_edit(owner, mask=box_mask(), seed=21)
    result = edit.images.get()
    exact = image_reseed(user=owner, image=result, mode="exact")
    runner.job_run(job_id=exact.pk)
    exact.refresh_from_db()
    assert exact.edit == edit.edit and exact.parent_image == result
    assert exact.images.get().pixel_sha256 == result.pixel_sha256


def test_a_teammate_cannot_rerun_an_edit_of_uploads_they_never_saw(owner, teammate):
    result = make_edit(owner, visibility="team").images.get()
    with pytest.raises(EditInputError) as refused:
        image_reseed(user=teammate, image=result)
    assert refused.value.code == "sources_not_visible"
    team_image = make_image(owner, visibility="team")
    shared = make_edit(owner, images=[str(team_image.public_id)], visibility="team")
    job = image_reseed(user=teammate, image=shared.images.get())
    assert job.user == teammate and job.edit_inputs.get().source_image == team_image


# --- Lineage ----------------------------------------------------------------------------------


def test_lineage_shows_edited_from_and_edits_of(owner):
    original = make_image(owner)
    first = make_edit(owner, images=[str(original.public_id)]).images.get()
    second = make_edit(owner, images=[str(first.public_id)]).images.get()
    lineage = selectors.edit_lineage(user=owner, image=first)
    assert lineage.is_edit and lineage.before.image == original
    assert [s.image for s in lineage.sources] == [original]
    assert lineage.edits == [second]
    assert selectors.edit_lineage(user=owner, image=original).edits == [first]


def test_lineage_hides_sources_and_edits_the_viewer_may_not_see(owner, teammate, outsider):
    private = make_image(owner)
    public_edit = make_edit(owner, images=[str(private.public_id)], visibility="public")
    result = public_edit.images.get()
    for viewer in (teammate, outsider):
        lineage = selectors.edit_lineage(user=viewer, image=result)
        assert lineage.sources == [] and lineage.before is None and lineage.mask is None
    upload_edit = make_edit(owner, visibility="public", mask=box_mask()).images.get()
    assert selectors.edit_lineage(user=outsider, image=upload_edit).sources == []
    assert selectors.edit_lineage(user=owner, image=upload_edit).sources[0].upload is not None
    # The private edit of a public image is not listed among its edits for others.
    public = make_image(owner, visibility="public")
    make_edit(owner, images=[str(public.public_id)])
    assert selectors.edit_lineage(user=outsider, image=public).edits == []


def test_deleting_an_edit_removes_its_stored_inputs(owner, django_capture_on_commit_callbacks):
    job = make_edit(owner, mask=box_mask())
    names = [row.file.name for row in job.edit_inputs.all()]
    with django_capture_on_commit_callbacks(execute=True):
        job.delete()
    assert names and not any(default_storage.exists(name) for name in names)


def test_deleting_a_source_image_keeps_the_edit_reproducible(
    owner, django_capture_on_commit_callbacks
):
    original = make_image(owner)
    edit = make_edit(owner, images=[str(original.public_id)])
    with django_capture_on_commit_callbacks(execute=True):
        images_delete(user=owner, image_ids=[original.public_id], permanent=True)
    row = edit.edit_inputs.get()
    assert row.source_image is None and default_storage.exists(row.file.name)
    assert json.loads(json.dumps(edit.edit))["images"][0]["image"] == str(original.public_id)


def test_a_member_who_left_cannot_rerun_their_edit_of_a_team_image(owner, teammate, team):
    from accounts.models import Membership

    team_image = make_image(owner, visibility="team")
    mine = make_edit(teammate, images=[str(team_image.public_id)]).images.get()
    Membership.objects.filter(team=team, user=teammate).delete()
    teammate.__dict__.pop("_team_ids_cache", None)  # the request-long cache of their teams
    with pytest.raises(EditInputError) as refused:
        image_reseed(user=teammate, image=mine)
    assert refused.value.code == "sources_not_visible"
