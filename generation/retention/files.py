"""Files go with their rows: whatever deletes an Image (a service, the purge, the admin, a
user's or a job's cascade, a queryset delete) removes its PNG and thumbnail after commit, and
whatever deletes an EditInput (a job's purge or permanent delete, a cascade) its stored copy
of an edit's source or mask."""

import contextlib
import logging

from django.core.files.storage import default_storage
from django.db import transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver

from generation.models import EditInput, Image

logger = logging.getLogger("generation.retention")


def storage_delete(names: list[str]) -> None:
    """Best effort: a missing file is already gone; a storage fault is logged, and the
    storage audit finds what it left."""
    for name in names:
        if not name:
            continue
        try:
            default_storage.delete(name)
        except Exception as error:  # S3 or disk faults must not undo a committed delete
            logger.warning("retention: could not delete %s (%s)", name, error)


@receiver(post_delete, sender=Image, dispatch_uid="retention-image-files")
def _image_files_go_with_row(sender, instance: Image, **kwargs) -> None:
    names = [instance.file.name, instance.thumbnail.name]
    with contextlib.suppress(Exception):
        transaction.on_commit(lambda: storage_delete(names))


@receiver(post_delete, sender=EditInput, dispatch_uid="retention-edit-input-files")
def _edit_input_file_goes_with_row(sender, instance: EditInput, **kwargs) -> None:
    # After commit: a rolled-back delete keeps its file.
    names = [instance.file.name]
    with contextlib.suppress(Exception):
        transaction.on_commit(lambda: storage_delete(names))
