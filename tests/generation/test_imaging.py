import io

import pytest
from PIL import Image

from generation.imaging import InvalidImage, decode, process, read_parameters
from tests.factories import png_bytes


def test_process_embeds_parameters_and_makes_a_webp_thumbnail():
    processed = process(png_bytes(640, 480), parameters={"prompt": "p", "seed": 3})
    assert read_parameters(processed.png) == {"prompt": "p", "seed": 3}
    thumb = Image.open(io.BytesIO(processed.thumbnail))
    assert thumb.format == "WEBP"
    assert max(thumb.size) <= 384
    assert (processed.width, processed.height) == (640, 480)
    assert len(processed.sha256) == 64


def test_jpeg_and_webp_are_accepted_and_stored_as_png():
    for fmt in ("JPEG", "WEBP"):
        processed = process(png_bytes(fmt=fmt), parameters={})
        assert Image.open(io.BytesIO(processed.png)).format == "PNG"


@pytest.mark.parametrize(
    "data",
    [b"", b"not an image", png_bytes()[:60], b"GIF89a" + b"\x00" * 100],
)
def test_garbage_and_truncated_images_are_refused(data):
    with pytest.raises(InvalidImage):
        decode(data)


def test_images_above_the_pixel_bound_are_refused():
    with pytest.raises(InvalidImage, match="too large"):
        decode(png_bytes(300, 300), max_pixels=200 * 200)


def test_decompression_bomb_is_refused_before_decoding():
    buffer = io.BytesIO()
    Image.new("L", (12000, 12000)).save(buffer, "PNG")  # ~150 kB that would decode to 144 MP
    with pytest.raises(InvalidImage):
        decode(buffer.getvalue())
