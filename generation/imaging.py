"""Image codec: decode untrusted bytes safely, re-encode PNG with parameters, make thumbnails."""

import hashlib
import io
import json
import warnings
from dataclasses import dataclass

from django.conf import settings
from PIL import Image, PngImagePlugin

ALLOWED_FORMATS = ["PNG", "JPEG", "WEBP"]


class InvalidImage(ValueError):
    """The bytes are not an image we accept (wrong format, truncated, too large)."""


@dataclass
class ProcessedImage:
    png: bytes
    thumbnail: bytes
    width: int
    height: int
    sha256: str
    pixel_sha256: str
    pil: Image.Image


def decode(data: bytes, *, max_pixels: int | None = None) -> Image.Image:
    """Open only PNG/JPEG/WebP, refuse decompression bombs, verify, then fully decode as RGB."""
    max_pixels = max_pixels or settings.QWEN_IMAGE_MAX_PIXELS
    if not data:
        raise InvalidImage("The backend returned an empty image.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            probe = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            if probe.width * probe.height > max_pixels:
                raise InvalidImage(
                    f"The image is too large ({probe.width}×{probe.height} pixels; "
                    f"at most {max_pixels})."
                )
            probe.verify()
            image = Image.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            image.load()
    except InvalidImage:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise InvalidImage("The image is too large to decode safely.") from exc
    except Exception as exc:  # Pillow raises many types for corrupt input
        raise InvalidImage(f"The backend returned an unreadable image ({exc}).") from exc
    return image.convert("RGB")


def pixel_hash(image: Image.Image) -> str:
    return hashlib.sha256(image.convert("RGB").tobytes()).hexdigest()


def encode_png(image: Image.Image, *, parameters: dict) -> bytes:
    info = PngImagePlugin.PngInfo()
    info.add_text("parameters", json.dumps(parameters, sort_keys=True, ensure_ascii=False))
    info.add_text("Software", "Qwen Image Studio")
    buffer = io.BytesIO()
    image.save(buffer, "PNG", pnginfo=info, optimize=False, compress_level=1)
    return buffer.getvalue()


def make_thumbnail(image: Image.Image, *, size: int | None = None) -> bytes:
    size = size or settings.GENERATION_THUMBNAIL_SIZE
    thumb = image.copy()
    thumb.thumbnail((size, size), Image.Resampling.LANCZOS)
    buffer = io.BytesIO()
    thumb.save(buffer, "WEBP", quality=80, method=4)
    return buffer.getvalue()


def process(data: bytes, *, parameters: dict) -> ProcessedImage:
    image = decode(data)
    png = encode_png(image, parameters=parameters)
    return ProcessedImage(
        png=png,
        thumbnail=make_thumbnail(image),
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(png).hexdigest(),
        pixel_sha256=pixel_hash(image),
        pil=image,
    )


DELIVERY_FORMATS = {"png": "image/png", "jpeg": "image/jpeg", "webp": "image/webp"}


def encode_delivery(png: bytes, *, fmt: str, compression: int | None = None) -> bytes:
    """A stored PNG in the format an API caller asked for (`output_format`); `compression` is
    OpenAI's output_compression, 0-100 (JPEG/WebP quality, default 100). PNG is returned as
    stored, with its parameters."""
    if fmt == "png":
        return png
    quality = 100 if compression is None else max(0, min(100, int(compression)))
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        rgb = image.convert("RGB")
    buffer = io.BytesIO()
    if fmt == "jpeg":
        rgb.save(buffer, "JPEG", quality=quality, optimize=False)
    elif fmt == "webp":
        rgb.save(buffer, "WEBP", quality=quality, method=4)
    else:
        raise ValueError(f"Unknown delivery format {fmt!r}.")
    return buffer.getvalue()


def read_parameters(png: bytes) -> dict:
    """The parameters embedded in a PNG we wrote."""
    with Image.open(io.BytesIO(png), formats=["PNG"]) as image:
        return json.loads(image.text.get("parameters", "{}"))
