"""ZIP downloads streamed in bounded memory: one chunk of one file in flight at a time."""

import io
import json
import re
import zipfile
from collections.abc import Iterator

from django.conf import settings

from gallery.selectors import image_params
from generation.files import ImageWithheld, image_open
from generation.models import Image

CHUNK = 64 * 1024


class ArchiveTooLarge(Exception):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def archive_check(images: list[Image]) -> None:
    """Refuse before streaming starts: past this point a failure would cut the file short."""
    if not images:
        raise ArchiveTooLarge("Select at least one image you can see.")
    limit = settings.GALLERY_ZIP_MAX_IMAGES
    if len(images) > limit:
        raise ArchiveTooLarge(f"A download holds at most {limit} images; {len(images)} chosen.")
    total = sum(image.byte_size for image in images)
    if total > settings.GALLERY_ZIP_MAX_BYTES:
        mib = settings.GALLERY_ZIP_MAX_BYTES // (1024 * 1024)
        raise ArchiveTooLarge(
            f"A download holds at most {mib} MiB; the chosen images are "
            f"{total / (1024 * 1024):.0f} MiB."
        )


class _Sink(io.RawIOBase):
    """A write-only, unseekable buffer that zipfile writes into and we drain after each write.

    zipfile sees tell() but no seek(), so it writes data descriptors instead of seeking back.
    """

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._position = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        data = bytes(data)
        self._chunks.append(data)
        self._position += len(data)
        return len(data)

    def tell(self) -> int:
        return self._position

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def _slug(text: str, length: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:length].rstrip("-") or "image"


def archive_name(image: Image, position: int) -> str:
    return f"{position:03d}-{_slug(image.job.prompt)}-seed{image.seed}.png"


def archive_stream(images: list[Image], *, viewer) -> Iterator[bytes]:
    """The ZIP of the images' original PNGs plus a manifest.json of their parameters.

    Each file passes the gate (generation.files) as it is written: an image rejected while
    the download streams is left out, not sent.
    """
    sink = _Sink()
    manifest = []
    # PNGs are already compressed: store them.
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for position, image in enumerate(images, start=1):
            name = archive_name(image, position)
            info = zipfile.ZipInfo(name, date_time=image.created_at.timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            info.file_size = image.byte_size
            try:
                source = image_open(image, "file", viewer=viewer)
            except ImageWithheld:
                continue
            with (
                source,
                archive.open(info, mode="w", force_zip64=image.byte_size > 2**31) as target,
            ):
                while chunk := source.read(CHUNK):
                    target.write(chunk)
                    if data := sink.drain():
                        yield data
            manifest.append(
                {
                    "file": name,
                    "id": str(image.public_id),
                    "width": image.width,
                    "height": image.height,
                    "sha256": image.sha256,
                    "params": image_params(image),
                }
            )
            if data := sink.drain():
                yield data
        archive.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
    yield sink.drain()
