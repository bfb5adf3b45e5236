"""An edit job's own copies of its inputs: EditInput rows and files under edits/<job>/.

Written by job_create inside its transaction (a rollback deletes them), read by the worker,
reused by a reseed of the edit. The files go when their rows go, on every delete path
(generation.retention.files).
"""

import contextlib
import hashlib

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from generation.edits.sources import EditInputError, Picture, PreparedEdit
from generation.models import EditInput, Job
from generation.selectors import images_visible_to


class EditInputsMissing(Exception):
    """A stored input is gone or altered: the edit cannot run as it was asked."""


def edit_inputs_store(*, job: Job, prepared: PreparedEdit) -> list[EditInput]:
    """Write the job's inputs (files, then rows), inside job_create's transaction; a failure
    here removes the files written so far. (A rollback of an outer transaction after this
    returns leaves orphan files under edits/, which nothing serves.)"""
    entries = [(EditInput.Role.IMAGE, i, p) for i, p in enumerate(prepared.images)]
    if prepared.mask is not None:
        entries.append((EditInput.Role.MASK, 0, prepared.mask))
    written: list[str] = []
    rows = []
    try:
        for role, position, picture in entries:
            name = default_storage.save(
                f"edits/{job.public_id}/{role}-{position}.png", ContentFile(picture.png)
            )
            written.append(name)
            rows.append(
                EditInput(
                    job=job,
                    role=role,
                    position=position,
                    source_image=picture.source_image,
                    file=name,
                    width=picture.width,
                    height=picture.height,
                    byte_size=len(picture.png),
                    sha256=picture.sha256,
                )
            )
        EditInput.objects.bulk_create(rows)
    except BaseException:
        _delete_files(written)
        raise
    return rows


def _read(row: EditInput) -> bytes:
    try:
        with default_storage.open(row.file.name, "rb") as handle:
            data = handle.read()
    except FileNotFoundError:
        raise EditInputsMissing(f"The {row.get_role_display().lower()} file is missing.") from None
    if hashlib.sha256(data).hexdigest() != row.sha256:
        raise EditInputsMissing(f"The {row.get_role_display().lower()} file was altered.")
    return data


def edit_inputs_of(job: Job) -> tuple[list[EditInput], EditInput | None]:
    rows = list(job.edit_inputs.order_by("role", "position"))
    images = [row for row in rows if row.role == EditInput.Role.IMAGE]
    mask = next((row for row in rows if row.role == EditInput.Role.MASK), None)
    return images, mask


def edit_inputs_read(job: Job) -> tuple[list[bytes], bytes | None]:
    """The stored bytes of the job's sources and mask, checked against their hashes."""
    images, mask = edit_inputs_of(job)
    if not images:
        raise EditInputsMissing("The edit has no stored source images.")
    return [_read(row) for row in images], _read(mask) if mask is not None else None


def edit_inputs_reuse(*, user, job: Job) -> PreparedEdit:
    """The inputs of an earlier edit, for a reseed by `user`: only what they may see now. A
    gallery source must still be visible to them (a member who left their team loses its
    images, even for their own edits); an upload is reused by the edit's owner and staff only."""
    images, mask = edit_inputs_of(job)
    own = job.user_id == user.pk or user.is_staff
    visible = set(
        images_visible_to(user)
        .filter(pk__in=[row.source_image_id for row in images if row.source_image_id])
        .values_list("pk", flat=True)
    )
    pictures = []
    for index, row in enumerate(images):
        allowed = row.source_image_id in visible if row.source_image_id else own
        if not allowed:
            raise EditInputError(
                "This edit was made from images you cannot see: open the image and use Edit "
                "to start your own.",
                param=f"image[{index}]",
                code="sources_not_visible",
            )
        try:
            data = _read(row)
        except EditInputsMissing as exc:
            raise EditInputError(str(exc), param=f"image[{index}]") from None
        pictures.append(
            Picture(
                png=data,
                width=row.width,
                height=row.height,
                sha256=row.sha256,
                source_image=row.source_image if row.source_image_id else None,
            )
        )
    mask_picture = None
    if mask is not None:
        try:
            data = _read(mask)
        except EditInputsMissing as exc:
            raise EditInputError(str(exc), param="mask") from None
        mask_picture = Picture(png=data, width=mask.width, height=mask.height, sha256=mask.sha256)
    strength = (job.edit or {}).get("strength", 1.0)
    return PreparedEdit(images=pictures, mask=mask_picture, strength=strength)


def _delete_files(names: list[str]) -> None:
    for name in names:
        with contextlib.suppress(Exception):  # best effort: never hide the error handled
            default_storage.delete(name)
