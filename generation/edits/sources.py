"""Edit inputs from untrusted uploads or gallery picks, validated and normalised.

Every source becomes an RGB PNG without metadata (EXIF orientation applied first, alpha laid on
white), no larger than the portal's side limit; a mask becomes a grey PNG of the first source's
size, white where the edit may change pixels. Uploads are checked like upstream images: a
format allowlist, a byte cap before decoding, a pixel bound before decoding (decompression
bombs refused), then verified and decoded.
"""

import base64
import binascii
import hashlib
import io
import re
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass

from django.conf import settings
from django.core.files.storage import default_storage
from PIL import Image as PILImage
from PIL import ImageOps

from generation.edit_params import EditParams, EditSource
from generation.imaging import ALLOWED_FORMATS
from generation.models import Image
from generation.selectors import images_visible_to

MIN_SOURCE_SIDE = 16
_DATA_URI = re.compile(r"^data:image/[a-z0-9.+-]+;base64,", re.IGNORECASE)


class EditInputError(ValueError):
    """An input that cannot be edited: `param` names it (images[1], mask), `code` says why."""

    def __init__(self, message: str, *, param: str, code: str = "invalid_image") -> None:
        super().__init__(message)
        self.message = message
        self.param = param
        self.code = code


@dataclass(frozen=True)
class Picture:
    """A normalised input: PNG bytes, size, hash, and the gallery image it came from."""

    png: bytes
    width: int
    height: int
    sha256: str
    source_image: Image | None = None

    def ref(self) -> EditSource:
        image = str(self.source_image.public_id) if self.source_image is not None else None
        return EditSource(sha256=self.sha256, width=self.width, height=self.height, image=image)


@dataclass(frozen=True)
class PreparedEdit:
    """The checked inputs of one edit, ready to be stored with its job."""

    images: list[Picture]
    mask: Picture | None = None
    strength: float = 1.0

    def params(self) -> EditParams:
        return EditParams(
            images=[picture.ref() for picture in self.images],
            mask=self.mask.ref() if self.mask is not None else None,
            strength=self.strength,
        )


# --- Decoding -------------------------------------------------------------------------------


def _open(data: bytes, *, param: str) -> PILImage.Image:
    limit = settings.EDIT_MAX_UPLOAD_BYTES
    if not data:
        raise EditInputError("The file is empty.", param=param)
    if len(data) > limit:
        raise EditInputError(
            f"The file is larger than {limit / 2**20:.0f} MiB.", param=param, code="image_too_large"
        )
    max_pixels = settings.EDIT_MAX_INPUT_PIXELS
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", PILImage.DecompressionBombWarning)
            probe = PILImage.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            if probe.width * probe.height > max_pixels:
                raise EditInputError(
                    f"The image is too large ({probe.width}×{probe.height} pixels; at most "
                    f"{max_pixels:,} pixels).",
                    param=param,
                    code="image_too_large",
                )
            probe.verify()
            image = PILImage.open(io.BytesIO(data), formats=ALLOWED_FORMATS)
            image.load()
    except EditInputError:
        raise
    except (PILImage.DecompressionBombError, PILImage.DecompressionBombWarning):
        raise EditInputError(
            "The image is too large to decode safely.", param=param, code="image_too_large"
        ) from None
    except PILImage.UnidentifiedImageError:
        raise EditInputError(
            "Not a PNG, JPEG or WebP image.", param=param, code="unsupported_image"
        ) from None
    except Exception as exc:  # Pillow raises many types for corrupt input
        raise EditInputError(
            f"The image could not be read ({type(exc).__name__}).", param=param
        ) from None
    if min(image.size) < MIN_SOURCE_SIDE:
        raise EditInputError(
            f"The image is too small: at least {MIN_SOURCE_SIDE} pixels on each side.",
            param=param,
        )
    return image


def _png(image: PILImage.Image) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, "PNG", compress_level=3)
    return buffer.getvalue()


def _fit(size: tuple[int, int]) -> tuple[int, int]:
    """The size a source is stored at: within GENERATION_MAX_SIDE, same aspect."""
    width, height = size
    high = settings.GENERATION_MAX_SIDE
    scale = min(1.0, high / max(width, height))
    return max(1, round(width * scale)), max(1, round(height * scale))


def normalise_source(data: bytes, *, param: str, source_image: Image | None = None) -> Picture:
    image = _open(data, param=param)
    image = ImageOps.exif_transpose(image)
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        flat = PILImage.new("RGB", rgba.size, (255, 255, 255))
        flat.paste(rgba, mask=rgba.getchannel("A"))
        image = flat
    else:
        image = image.convert("RGB")
    fitted = _fit(image.size)
    if fitted != image.size:
        image = image.resize(fitted, PILImage.Resampling.LANCZOS)
    png = _png(image)
    return Picture(
        png=png,
        width=image.width,
        height=image.height,
        sha256=hashlib.sha256(png).hexdigest(),
        source_image=source_image,
    )


def normalise_mask(data: bytes, *, first: Picture, param: str = "mask") -> Picture:
    """White = edit here. A mask with transparency follows OpenAI (transparent = edit here);
    an opaque one follows diffusers (white = edit here)."""
    image = _open(data, param=param)
    grey = None
    if image.mode in ("RGBA", "LA", "PA") or (image.mode == "P" and "transparency" in image.info):
        alpha = image.convert("RGBA").getchannel("A")
        if alpha.getextrema()[0] < 128:  # some transparency: it is the mask
            grey = alpha.point(lambda value: 255 if value < 128 else 0)
    if grey is None:  # opaque: white is the area to edit
        grey = image.convert("L").point(lambda value: 255 if value >= 128 else 0)
    if grey.size != (first.width, first.height):
        ratio = (grey.width / grey.height) / (first.width / first.height)
        if not 0.99 <= ratio <= 1.01:
            raise EditInputError(
                f"The mask is {grey.width}×{grey.height}; it must have the size (or at least the "
                f"aspect) of the first image, {first.width}×{first.height}.",
                param=param,
                code="mask_size_mismatch",
            )
        grey = grey.resize((first.width, first.height), PILImage.Resampling.NEAREST)
    if grey.getextrema()[1] == 0:
        raise EditInputError(
            "The mask marks nothing to edit (paint or leave transparent the area to change).",
            param=param,
            code="mask_empty",
        )
    png = _png(grey.convert("L"))
    return Picture(
        png=png, width=grey.width, height=grey.height, sha256=hashlib.sha256(png).hexdigest()
    )


# --- Where inputs come from -----------------------------------------------------------------


def image_for_editing(*, user, public_id, param: str) -> Image:
    """A gallery image the user may see and that may be edited (not held for review)."""
    try:
        image = images_visible_to(user).get(public_id=public_id)
    except (Image.DoesNotExist, ValueError, TypeError):
        raise EditInputError("No such image.", param=param, code="image_not_found") from None
    if not image.is_showable:
        raise EditInputError(
            "This image is held for review and cannot be edited until a moderator approves it.",
            param=param,
            code="image_held",
        )
    return image


def picture_from_image(*, user, public_id, param: str) -> Picture:
    image = image_for_editing(user=user, public_id=public_id, param=param)
    try:
        with default_storage.open(image.file.name, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise EditInputError("The image's file is missing.", param=param) from None
    return normalise_source(data, param=param, source_image=image)


def decode_base64_image(value: str, *, param: str) -> bytes:
    """A data URI or bare base64 (as the API's JSON form sends uploads)."""
    encoded = _DATA_URI.sub("", value.strip(), count=1)
    if len(encoded) > (settings.EDIT_MAX_UPLOAD_BYTES + 2) // 3 * 4 + 4:
        raise EditInputError(
            f"The file is larger than {settings.EDIT_MAX_UPLOAD_BYTES / 2**20:.0f} MiB.",
            param=param,
            code="image_too_large",
        )
    try:
        return base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise EditInputError(
            "Give an image id of ours, a data URI or base64 image data.", param=param
        ) from None


def _as_uuid(value: str) -> uuid.UUID | None:
    try:
        return uuid.UUID(value.strip())
    except (ValueError, AttributeError):
        return None


def picture_from(*, user, value: "bytes | str | uuid.UUID", param: str) -> Picture:
    """An upload (bytes, a data URI or base64) or one of our image ids."""
    if isinstance(value, bytes):
        return normalise_source(value, param=param)
    if isinstance(value, uuid.UUID):
        return picture_from_image(user=user, public_id=value, param=param)
    image_id = _as_uuid(value)
    if image_id is not None:
        return picture_from_image(user=user, public_id=image_id, param=param)
    return normalise_source(decode_base64_image(value, param=param), param=param)


def edit_prepare(
    *,
    user,
    images: Sequence["bytes | str | uuid.UUID"],
    mask: "bytes | str | None" = None,
    strength: float | None = None,
    param: str = "image",
) -> PreparedEdit:
    """Check and normalise an edit's inputs. EditInputError names the first bad one."""
    limit = settings.EDIT_MAX_IMAGES
    if not images:
        raise EditInputError("Give at least one image to edit.", param=param, code="missing_image")
    if len(images) > limit:
        raise EditInputError(
            f"An edit takes at most {limit} images (the first is edited, the others are "
            "references).",
            param=param,
            code="too_many_images",
        )
    pictures = [
        picture_from(user=user, value=value, param=f"{param}[{index}]")
        for index, value in enumerate(images)
    ]
    mask_picture = None
    if mask is not None and mask != b"" and mask != "":
        data = mask if isinstance(mask, bytes) else decode_base64_image(mask, param="mask")
        mask_picture = normalise_mask(data, first=pictures[0])
    return PreparedEdit(
        images=pictures, mask=mask_picture, strength=1.0 if strength is None else strength
    )
