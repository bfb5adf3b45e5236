"""The provider's PNG is kept when it verifies: same pixel data, our chunks in, its own out."""

import hashlib
import io
import struct
import zlib

import pytest
from PIL import Image, ImageCms, PngImagePlugin

from generation.imaging import (
    PNG_SIGNATURE,
    InvalidImage,
    decode,
    pixel_hash,
    process,
    read_parameters,
)


def _png(mode: str = "RGB", size=(96, 64), *, text: dict | None = None, **save) -> bytes:
    image = Image.linear_gradient("L").resize(size).convert(mode)
    info = PngImagePlugin.PngInfo()
    for key, value in (text or {}).items():
        info.add_text(key, value)
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info, **save)
    return buffer.getvalue()


def _chunks(data: bytes) -> list[tuple[bytes, bytes]]:
    out, position = [], len(PNG_SIGNATURE)
    while position < len(data):
        (length,) = struct.unpack(">I", data[position : position + 4])
        kind = data[position + 4 : position + 8]
        out.append((kind, data[position + 8 : position + 8 + length]))
        position += 12 + length
    return out


def _idat(data: bytes) -> bytes:
    return b"".join(body for kind, body in _chunks(data) if kind == b"IDAT")


def test_an_rgb_png_keeps_its_pixel_data_and_gets_our_parameters():
    provider = _png(text={"parameters": "the provider's", "Comment": "from the provider"})
    processed = process(provider, parameters={"prompt": "a fox", "seed": 7})
    assert processed.kept_provider_png
    assert _idat(processed.png) == _idat(provider)  # not re-compressed
    assert read_parameters(processed.png) == {"prompt": "a fox", "seed": 7}
    stored = Image.open(io.BytesIO(processed.png))
    assert stored.text == {
        "parameters": '{"prompt": "a fox", "seed": 7}',
        "Software": "Qwen Image Studio",
    }  # the provider's own text chunks are gone, as with re-encoding
    assert processed.sha256 == hashlib.sha256(processed.png).hexdigest()
    assert pixel_hash(stored) == processed.pixel_sha256 == pixel_hash(decode(provider))


def test_the_kept_png_holds_what_re_encoding_would_have_kept():
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    provider = _png(icc_profile=srgb, dpi=(300, 300))
    processed = process(provider, parameters={"seed": 1})
    kinds = [kind for kind, _ in _chunks(processed.png)]
    assert kinds[:2] == [b"IHDR", b"iCCP"] and kinds[-1] == b"IEND"
    assert b"pHYs" not in kinds  # dpi: re-encoding never wrote it either
    assert Image.open(io.BytesIO(processed.png)).info["icc_profile"] == srgb


def test_every_chunk_of_the_kept_png_verifies():
    processed = process(_png(), parameters={"prompt": "Füchse im Schnee 雪の狐"})
    assert read_parameters(processed.png) == {"prompt": "Füchse im Schnee 雪の狐"}
    kinds = {kind for kind, _ in _chunks(processed.png)}
    assert kinds <= {b"IHDR", b"iTXt", b"tEXt", b"IDAT", b"IEND"}
    image = Image.open(io.BytesIO(processed.png))
    image.verify()  # every CRC


@pytest.mark.parametrize(
    "provider",
    [
        _png("RGBA"),
        _png("P"),
        _png("L"),
        _png("I;16"),
    ],
    ids=["rgba", "palette", "grey", "16-bit"],
)
def test_other_pngs_are_decoded_and_re_encoded_as_rgb(provider):
    processed = process(provider, parameters={"seed": 2})
    assert not processed.kept_provider_png
    stored = Image.open(io.BytesIO(processed.png))
    assert stored.mode == "RGB" and read_parameters(processed.png) == {"seed": 2}


def test_a_png_whose_pixel_data_is_corrupt_is_refused():
    provider = bytearray(_png(size=(200, 150)))
    for kind, body in _chunks(bytes(provider)):
        if kind == b"IDAT":
            start = bytes(provider).index(body)
            provider[start + len(body) // 2] ^= 0xFF  # the CRC no longer matches
            break
    with pytest.raises(InvalidImage):
        process(bytes(provider), parameters={})


def test_a_png_with_a_forged_crc_but_broken_pixels_is_refused():
    data = _png(size=(200, 150))
    chunks = _chunks(data)
    out = [PNG_SIGNATURE]
    for kind, body in chunks:
        if kind == b"IDAT":
            body = zlib.compress(b"not the pixels")
        out.append(struct.pack(">I", len(body)) + kind + body)
        out.append(struct.pack(">I", zlib.crc32(kind + body)))
    with pytest.raises(InvalidImage):
        process(b"".join(out), parameters={})


def test_the_thumbnail_is_the_classifiers_preview():
    processed = process(_png(size=(1024, 768)), parameters={})
    thumb = Image.open(io.BytesIO(processed.thumbnail))
    assert thumb.format == "WEBP" and thumb.size == processed.preview.size == (384, 288)
