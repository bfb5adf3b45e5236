"""Edit inputs are checked like upstream images and normalised before anything stores them."""

import io

import pytest
from PIL import Image as PILImage
from pydantic import ValidationError

from generation.edit_params import EditParams, EditSource, edit_auto_size
from generation.edits.sources import EditInputError, edit_prepare, normalise_mask, normalise_source
from generation.params import GenerationParams
from tests.edits.helpers import box_mask, photo
from tests.factories import make_image
from tests.fakes.endpoint import bomb_png


def photo_black() -> bytes:
    buffer = io.BytesIO()
    PILImage.new("L", (256, 256), 0).save(buffer, "PNG")
    return buffer.getvalue()


def _refused(data: bytes, code: str | None = None) -> EditInputError:
    with pytest.raises(EditInputError) as raised:
        normalise_source(data, param="image[0]")
    if code:
        assert raised.value.code == code, raised.value.message
    assert raised.value.param == "image[0]"
    return raised.value


def test_png_jpeg_and_webp_are_accepted_and_stored_as_plain_rgb_png():
    for fmt in ("PNG", "JPEG", "WEBP"):
        picture = normalise_source(photo(300, 200, fmt=fmt), param="image")
        stored = PILImage.open(io.BytesIO(picture.png))
        assert (stored.format, stored.mode, stored.size) == ("PNG", "RGB", (300, 200))
        assert picture.width == 300 and picture.height == 200 and len(picture.sha256) == 64


def test_gif_and_garbage_are_refused_by_format():
    buffer = io.BytesIO()
    PILImage.new("RGB", (64, 64)).save(buffer, "GIF")
    assert _refused(buffer.getvalue(), "unsupported_image")
    assert _refused(b"not an image at all", "unsupported_image")
    assert _refused(b"", "invalid_image")


def test_truncated_files_are_refused():
    data = photo()
    assert _refused(data[: len(data) // 2])


def test_decompression_bombs_and_oversized_files_are_refused_before_decoding(settings):
    assert "too large" in _refused(bomb_png(), "image_too_large").message
    settings.EDIT_MAX_UPLOAD_BYTES = 1000
    assert "larger than" in _refused(photo(), "image_too_large").message


def test_pixel_bound_is_checked_from_the_header(settings):
    settings.EDIT_MAX_INPUT_PIXELS = 100 * 100
    assert "too large" in _refused(photo(200, 200), "image_too_large").message


def test_tiny_images_are_refused():
    assert "too small" in _refused(photo(8, 64)).message


def test_large_sources_are_scaled_to_the_side_limit(settings):
    settings.GENERATION_MAX_SIDE = 512
    picture = normalise_source(photo(1024, 256), param="image")
    assert (picture.width, picture.height) == (512, 128)


def test_exif_orientation_is_applied_and_metadata_dropped():
    image = PILImage.new("RGB", (80, 40), (10, 200, 10))
    exif = PILImage.Exif()
    exif[0x0112] = 6  # rotate 90° clockwise to display
    exif[0x010F] = "Camera maker"
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", exif=exif)
    picture = normalise_source(buffer.getvalue(), param="image")
    stored = PILImage.open(io.BytesIO(picture.png))
    assert stored.size == (40, 80)
    assert not stored.info.get("exif") and not stored.getexif()


def test_transparency_is_laid_on_white():
    image = PILImage.new("RGBA", (32, 32), (255, 0, 0, 0))
    buffer = io.BytesIO()
    image.save(buffer, "PNG")
    picture = normalise_source(buffer.getvalue(), param="image")
    assert PILImage.open(io.BytesIO(picture.png)).getpixel((5, 5)) == (255, 255, 255)


def test_mask_spellings_openai_alpha_and_white_on_black_mean_the_same():
    first = normalise_source(photo(), param="image")
    grey = normalise_mask(box_mask(), first=first)
    alpha = normalise_mask(box_mask(alpha=True), first=first)
    assert grey.sha256 == alpha.sha256
    mask = PILImage.open(io.BytesIO(grey.png))
    assert mask.mode == "L" and mask.getpixel((100, 100)) == 255 and mask.getpixel((5, 5)) == 0


def test_masks_of_the_same_aspect_are_fitted_others_refused():
    first = normalise_source(photo(256, 256), param="image")
    assert normalise_mask(box_mask(512, 512, box=(0, 0, 100, 100)), first=first).width == 256
    with pytest.raises(EditInputError) as raised:
        normalise_mask(box_mask(256, 128, box=(0, 0, 10, 10)), first=first)
    assert raised.value.code == "mask_size_mismatch" and raised.value.param == "mask"


def test_a_mask_that_marks_nothing_is_refused():
    first = normalise_source(photo(), param="image")
    with pytest.raises(EditInputError) as raised:
        normalise_mask(photo_black(), first=first)
    assert raised.value.code == "mask_empty"


@pytest.mark.django_db
def test_one_to_three_images_and_each_refusal_names_its_input(owner):
    with pytest.raises(EditInputError) as none:
        edit_prepare(user=owner, images=[])
    assert none.value.code == "missing_image"
    with pytest.raises(EditInputError) as many:
        edit_prepare(user=owner, images=[photo()] * 4)
    assert many.value.code == "too_many_images"
    with pytest.raises(EditInputError) as second:
        edit_prepare(user=owner, images=[photo(), b"junk"])
    assert second.value.param == "image[1]"
    prepared = edit_prepare(user=owner, images=[photo(seed=1), photo(seed=2), photo(seed=3)])
    assert len(prepared.params().images) == 3


@pytest.mark.django_db
def test_gallery_picks_by_id_and_data_uris_are_sources_too(owner):
    import base64

    image = make_image(owner)
    prepared = edit_prepare(
        user=owner,
        images=[
            str(image.public_id),
            "data:image/png;base64," + base64.b64encode(photo()).decode(),
        ],
    )
    first, second = prepared.params().images
    assert first.image == str(image.public_id) and second.image is None
    assert (first.width, first.height) == (image.width, image.height)


# --- The parameter set --------------------------------------------------------------------


def _ref(width=256, height=256, char="a") -> dict:
    return {"sha256": char * 64, "width": width, "height": height}


def test_edit_params_take_one_to_three_images_and_a_mask_of_the_first_ones_size():
    EditParams(images=[_ref()], mask=_ref(char="b"))
    with pytest.raises(ValidationError):
        EditParams(images=[])
    with pytest.raises(ValidationError):
        EditParams(images=[_ref()] * 4)
    with pytest.raises(ValidationError):
        EditParams(images=[_ref()], mask=_ref(128, 128))
    with pytest.raises(ValidationError):
        EditParams(images=[_ref()], strength=0)
    with pytest.raises(ValidationError):
        EditSource(sha256="nothex", width=1, height=1)


def test_size_auto_keeps_the_first_sources_size_within_the_limits(settings):
    assert edit_auto_size(800, 600) == (800, 608)
    assert edit_auto_size(64, 48) == (336, 256)  # up to the minimum side
    assert edit_auto_size(4000, 1000) == (2048, 512)  # down to the side limit
    settings.EDIT_AUTO_MAX_PIXELS = 1024 * 1024
    assert edit_auto_size(2000, 2000) == (1024, 1024)
    edit = {"images": [_ref(640, 480)]}
    assert GenerationParams(prompt="x", edit=edit).width == 640
    assert GenerationParams(prompt="x", edit=edit, size="auto").height == 480
    assert (GenerationParams(prompt="x", edit=edit, size="512x512").width) == 512


def test_edit_params_travel_through_the_api_spelling_and_the_job_row():
    params = GenerationParams(prompt="x", edit={"images": [_ref()], "strength": 0.5})
    assert params.as_api()["edit"] == {"images": [_ref()], "mask": None, "strength": 0.5}
    assert params.job_fields()["edit"]["strength"] == 0.5
    assert "edit" not in GenerationParams(prompt="x").as_api()
    assert "edit" not in params.form_initial()
