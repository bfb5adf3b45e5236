"""An edit's result says what it was made from: the runner's store step signs it as
c2pa.edited with the stored sources as ingredients (the edited one its parent)."""

import io

import c2pa
import pytest
from django.core.files.storage import default_storage

from generation.provenance import provenance_read
from tests.edits.helpers import make_edit, photo
from tests.factories import make_image

pytestmark = pytest.mark.django_db


def _manifest(image) -> dict:
    with default_storage.open(image.file.name, "rb") as handle:
        data = handle.read()
    context = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False}})
    with c2pa.Reader("image/png", io.BytesIO(data), context=context) as reader:
        return reader.get_active_manifest(), provenance_read(data)


def test_an_edit_result_lists_its_sources_as_ingredients(owner):
    picked = make_image(owner)
    job = make_edit(owner, images=[str(picked.public_id), photo(seed=3)])
    assert job.status == job.Status.SUCCEEDED, job.error_message
    image = job.images.get()
    assert image.provenance == "signed"
    manifest, verdict = _manifest(image)
    assert [(i["title"], i["relationship"]) for i in manifest["ingredients"]] == [
        ("source-0.png", "parentOf"),
        ("source-1.png", "componentOf"),
    ]
    assert [a["action"] for a in verdict.actions] == ["c2pa.opened", "c2pa.edited"]


def test_a_text_to_image_result_has_no_ingredients(owner):
    image = make_image(owner)
    manifest, verdict = _manifest(image)
    assert not manifest.get("ingredients")
    assert [a["action"] for a in verdict.actions] == ["c2pa.created"]
