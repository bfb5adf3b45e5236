"""Provenance: every stored image says it was made by AI, in XMP and a signed C2PA manifest
that c2pa-python reads back; downloads and share links keep it; signing never blocks a job."""

import io
import json
import struct
import zipfile
import zlib

import c2pa
import pytest
from django.core.files.storage import default_storage
from django.test import override_settings
from django.urls import reverse
from PIL import Image as PILImage

from gallery import services
from generation.models import Image, Job
from generation.provenance import (
    DIGITAL_SOURCE_TYPE,
    Source,
    provenance_apply,
    provenance_read,
    signer_describe,
    signer_reset,
)
from generation.provenance import manifest as manifest_module
from generation.provenance import signer as signer_module
from generation.provenance import verify as verify_module
from generation.provenance.xmp import png_chunks, png_read_xmp
from tests.apiclient import bearer
from tests.factories import make_image, make_job, png_bytes

pytestmark = pytest.mark.django_db

TRAINED = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"


def _stored(image: Image) -> bytes:
    with default_storage.open(image.file.name, "rb") as handle:
        return handle.read()


def _reader(data: bytes) -> c2pa.Reader:
    context = c2pa.Context.from_dict({"verify": {"remote_manifest_fetch": False}})
    return c2pa.Reader("image/png", io.BytesIO(data), context=context)


def _change_one_pixel(png: bytes) -> bytes:
    """The same PNG, chunks and manifest kept, with one pixel's red value changed."""
    chunks = list(png_chunks(png))
    idat = b"".join(data for _, kind, data in chunks if kind == b"IDAT")
    raw = bytearray(zlib.decompress(idat))
    raw[1] ^= 0x01  # the first pixel of the first row, after its filter byte
    new_idat = zlib.compress(bytes(raw))
    out = [png[:8]]
    wrote = False
    for offset, kind, data in chunks:
        if kind == b"IDAT":
            if not wrote:
                body = b"IDAT" + new_idat
                crc = zlib.crc32(body) & 0xFFFFFFFF
                out.append(struct.pack(">I", len(new_idat)) + body + struct.pack(">I", crc))
                wrote = True
            continue
        out.append(png[offset : offset + 12 + len(data)])
    return b"".join(out)


def test_a_generated_png_has_a_valid_manifest_with_the_created_action_and_source_type(owner):
    image = make_image(owner)
    data = _stored(image)
    assert image.provenance == Image.Provenance.SIGNED and image.provenance_note == ""
    with _reader(data) as reader:
        manifest = reader.get_active_manifest()
        results = reader.get_validation_results()
        assert reader.get_validation_state() in ("Valid", "Trusted")
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    created = actions["data"]["actions"][0]
    assert created["action"] == "c2pa.created"
    assert created["digitalSourceType"] == TRAINED
    assert created["softwareAgent"]["name"] == f"{image.job.model} (demo backend)"
    assert manifest["claim_generator_info"][0]["name"] == "Qwen Image Studio"
    params = next(a for a in manifest["assertions"] if a["label"].startswith("org.qwen"))
    assert params["data"]["seed"] == image.seed and "prompt" not in params["data"]
    # The only failure a verifier reports is the untrusted development signer.
    failures = {f["code"] for f in results["activeManifest"]["failure"]}
    assert failures == {"signingCredential.untrusted"}
    # IPTC in XMP too, and the parameters as before.
    assert TRAINED in png_read_xmp(data)
    with PILImage.open(io.BytesIO(data)) as decoded:
        assert json.loads(decoded.text["parameters"])["seed"] == image.seed
    assert image.sha256 and len(data) == image.byte_size


def test_the_verdict_says_untrusted_signer_for_the_development_certificate(owner):
    verdict = provenance_read(_stored(make_image(owner)))
    assert verdict.state == "untrusted"
    assert verdict.digital_source_type == TRAINED == verdict.xmp_digital_source_type
    assert "development" in verdict.issuer
    assert signer_describe()["origin"] == "development"


def test_changing_one_pixel_makes_verification_fail(owner):
    data = _stored(make_image(owner))
    tampered = _change_one_pixel(data)
    with _reader(tampered) as reader:
        assert reader.get_validation_state() == "Invalid"
        codes = {f["code"] for f in reader.get_validation_results()["activeManifest"]["failure"]}
    assert "assertion.dataHash.mismatch" in codes
    assert provenance_read(tampered).state == "tampered"


def test_an_edit_lists_its_source_as_an_ingredient(owner):
    source = _stored(make_image(owner))
    stamp = provenance_apply(
        png=png_bytes(),
        title="edit.png",
        model="qwen-image-edit",
        backend="demo",
        generation={"seed": 1},
        sources=[Source(data=source, title="source.png")],
    )
    assert stamp.state == "signed"
    with _reader(stamp.png) as reader:
        manifest = reader.get_active_manifest()
        assert reader.get_validation_state() in ("Valid", "Trusted")
    assert [(i["title"], i["relationship"]) for i in manifest["ingredients"]] == [
        ("source.png", "parentOf")
    ]
    verdict = provenance_read(stamp.png)
    assert [a["action"] for a in verdict.actions] == ["c2pa.opened", "c2pa.edited"]
    assert verdict.digital_source_type == DIGITAL_SOURCE_TYPE


def test_no_personal_data_unless_the_operator_turns_it_on(owner):
    data = _stored(make_image(owner))
    assert b"owner" not in data.split(b"IEND")[0].split(b"caBX", 1)[1][:20000]
    with override_settings(PROVENANCE_INCLUDE_CREATOR=True):
        data = _stored(make_image(owner, seed=7))
    with _reader(data) as reader:
        labels = {a["label"] for a in reader.get_active_manifest()["assertions"]}
    assert "stds.schema-org.CreativeWork" in labels


def test_a_signing_failure_stores_the_image_unsigned_with_a_note_and_a_metric(owner, monkeypatch):
    def broken():
        raise c2pa.C2paError("HSM unplugged")

    monkeypatch.setattr(manifest_module.signing, "native_signer", broken)
    before = manifest_module.SIGNING_FAILURES._value.get()
    job = make_job(owner)
    assert job.status == Job.Status.SUCCEEDED
    image = job.images.get()
    assert image.provenance == Image.Provenance.UNSIGNED
    assert "HSM unplugged" in image.provenance_note
    assert manifest_module.SIGNING_FAILURES._value.get() == before + 1
    data = _stored(image)
    assert TRAINED in png_read_xmp(data)  # still marked as AI-made
    assert provenance_read(data).state == "unsigned"


def test_c2pa_can_be_turned_off_and_xmp_stays(owner):
    with override_settings(PROVENANCE_C2PA=False):
        image = make_image(owner)
    assert image.provenance == Image.Provenance.OFF
    assert provenance_read(_stored(image)).state == "unsigned"
    assert TRAINED in png_read_xmp(_stored(image))


def test_the_development_certificate_is_made_once_per_install(settings, tmp_path):
    settings.PROVENANCE_DIR = str(tmp_path)
    signer_reset()
    try:
        first = signer_module.signer_config()
        signer_reset()
        second = signer_module.signer_config()
        assert first.chain == second.chain and first.origin == "development"
        assert oct((tmp_path / "dev-signer.pem").stat().st_mode & 0o777) == "0o600"
    finally:
        signer_reset()


def test_an_operator_certificate_from_the_environment_signs_and_its_root_makes_it_valid(
    settings, tmp_path, owner
):
    key, chain = signer_module._make_development_pair()
    root = chain[chain.index(b"-----BEGIN CERTIFICATE-----", 10) :]
    (tmp_path / "root.pem").write_bytes(root)
    settings.PROVENANCE_SIGNING_CERT_PEM = chain.decode()
    settings.PROVENANCE_SIGNING_KEY_PEM = key.decode()
    settings.PROVENANCE_TRUST_ANCHORS_FILE = str(tmp_path / "root.pem")
    signer_reset()
    verify_module.context_reset()
    try:
        assert signer_describe()["origin"] == "operator"
        verdict = provenance_read(_stored(make_image(owner)))
        assert verdict.state == "valid", verdict.problems
    finally:
        signer_reset()
        verify_module.context_reset()


def test_a_key_that_does_not_match_the_certificate_is_reported_and_the_job_still_succeeds(
    settings, owner
):
    key, _ = signer_module._make_development_pair()
    _, chain = signer_module._make_development_pair()
    settings.PROVENANCE_SIGNING_CERT_PEM = chain.decode()
    settings.PROVENANCE_SIGNING_KEY_PEM = key.decode()
    signer_reset()
    try:
        assert "does not belong" in signer_describe()["error"]
        job = make_job(owner)
        assert job.status == Job.Status.SUCCEEDED
        assert job.images.get().provenance == Image.Provenance.UNSIGNED
    finally:
        signer_reset()


# --- Downloads and share pages keep the manifest -------------------------------------------


def test_downloads_zip_and_share_links_keep_the_manifest(owner, owner_client, anonymous_client):
    image = make_image(owner)
    stored = _stored(image)
    download = b"".join(owner_client.get(reverse("image-file", args=[image.public_id])))
    assert download == stored
    share = services.share_create(user=owner, image=image)
    shared = b"".join(anonymous_client.get(reverse("share-file", args=[share.token])))
    assert shared == stored and provenance_read(shared).state == "untrusted"
    response = owner_client.post(
        reverse("gallery-bulk"), {"images": [str(image.public_id)], "action": "zip"}
    )
    archive = zipfile.ZipFile(io.BytesIO(b"".join(response.streaming_content)))
    png_name = next(name for name in archive.namelist() if name.endswith(".png"))
    assert provenance_read(archive.read(png_name)).state == "untrusted"


# --- The panel and the API -----------------------------------------------------------------


def test_the_image_page_shows_what_a_verifier_reads(owner, owner_client):
    image = make_image(owner)
    page = owner_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert "Content Credentials" in page and "Untrusted signer" in page
    assert "trainedAlgorithmicMedia" in page and "c2pa.created" in page


def test_a_tampered_file_reads_as_tampered_on_the_page_and_in_the_api(owner, owner_client):
    image = make_image(owner)
    tampered = _change_one_pixel(_stored(image))
    with default_storage.open(image.file.name, "wb") as handle:
        handle.write(tampered)
    page = owner_client.get(reverse("image-detail", args=[image.public_id])).content.decode()
    assert "Tampered" in page
    body = owner_client.get(f"/v1/images/{image.public_id}/provenance").json()
    assert body["state"] == "tampered"


@pytest.mark.parametrize(
    ("who", "visibility", "status"),
    [
        ("owner", "private", 200),
        ("teammate", "team", 200),
        ("teammate", "private", 404),
        ("outsider", "team", 404),
        ("outsider", "public", 200),
        ("staff", "private", 200),
    ],
)
def test_provenance_api_follows_who_may_see_the_image(
    request, owner, teammate, outsider, staff, client, who, visibility, status
):
    image = make_image(owner, visibility=visibility)
    user = {"owner": owner, "teammate": teammate, "outsider": outsider, "staff": staff}[who]
    response = client.get(f"/v1/images/{image.public_id}/provenance", **bearer(user))
    assert response.status_code == status
    if status == 200:
        body = response.json()
        assert body["state"] == "untrusted" and body["digital_source_type"] == TRAINED


def test_provenance_api_needs_a_key(owner, client):
    image = make_image(owner, visibility="public")
    assert client.get(f"/v1/images/{image.public_id}/provenance").status_code == 401
