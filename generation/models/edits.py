"""An edit job's stored inputs: its source images and mask."""

import uuid

from django.db import models

from generation.models.images import Image
from generation.models.jobs import Job


class EditInput(models.Model):
    """One stored input of an edit job: a source image (role image, position 0 is the one
    edited) or its mask. The file is the job's own normalised copy, so a retry or a reseed works
    from the same pixels whatever happens to the gallery image it was picked from; only the job's
    worker reads it (see generation.edits.access for who may see a source)."""

    class Role(models.TextChoices):
        IMAGE = "image", "Source image"
        MASK = "mask", "Mask"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="edit_inputs")
    role = models.CharField(max_length=8, choices=Role.choices, default=Role.IMAGE)
    position = models.PositiveSmallIntegerField(default=0)
    # The gallery image it was picked from; None for an upload (or when that image is deleted).
    source_image = models.ForeignKey(
        Image, null=True, blank=True, on_delete=models.SET_NULL, related_name="edit_uses"
    )
    file = models.FileField(max_length=300)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    byte_size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["job", "role", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["job", "role", "position"], name="edit_input_unique_position"
            ),
            models.CheckConstraint(
                condition=models.Q(role__in=["image", "mask"]), name="edit_input_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_role_display()} {self.position} of job {self.job_id}"
