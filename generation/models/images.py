"""The images a job produces, with their moderation state and provenance."""

import uuid

from django.conf import settings
from django.db import models

from generation.models.jobs import Job
from generation.models.visibility import SHARED_VISIBILITIES, InConstants, Visibility


class Provenance(models.TextChoices):
    SIGNED = "signed", "Signed"
    UNSIGNED = "unsigned", "Unsigned (signing failed)"
    OFF = "off", "Off"


class Image(models.Model):
    Provenance = Provenance

    class Moderation(models.TextChoices):
        CLEAR = "clear", "Clear"
        FLAGGED = "flagged", "Flagged"
        REPORTED = "reported", "Reported"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    # States in which an image may be shown to anyone but its owner and staff.
    SHOWABLE = (Moderation.CLEAR, Moderation.APPROVED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="images")
    index = models.PositiveSmallIntegerField()
    # Denormalised from the job so the gallery's indexes cover its queries.
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="images"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="images"
    )
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    seed = models.BigIntegerField()
    # Named by the runner: images/<job public id>/<index>.png and .thumb.webp.
    file = models.FileField(max_length=300)
    thumbnail = models.FileField(max_length=300)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    byte_size = models.PositiveIntegerField()
    sha256 = models.CharField(max_length=64)
    pixel_sha256 = models.CharField(
        max_length=64, blank=True, help_text="Hash of the decoded RGB pixels, for reproducibility."
    )
    revised_prompt = models.TextField(blank=True)
    provider_nsfw = models.BooleanField(
        null=True, blank=True, help_text="The provider's own safety signal (has_nsfw_concepts)."
    )
    safety_score = models.FloatField(
        null=True, blank=True, help_text="The local classifier's NSFW score, 0 (safe) to 1."
    )
    safety_note = models.CharField(
        max_length=500, blank=True, help_text="Why the safety checker held the image, if it did."
    )
    moderation_state = models.CharField(
        max_length=10, choices=Moderation.choices, default=Moderation.CLEAR
    )
    # Set while the image waits for a moderator (held by the checker, reported); the queue
    # lists by it, oldest first. A staff decision clears it.
    review_requested_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    thumbnail_byte_size = models.PositiveIntegerField(default=0)

    # Provenance (generation.provenance): "signed" (C2PA manifest in the file), "unsigned"
    # (signing failed: the note says why), "off" (turned off), "" (stored before provenance).
    provenance = models.CharField(max_length=10, choices=Provenance.choices, blank=True)
    provenance_note = models.CharField(max_length=500, blank=True)

    # In the trash since (hidden everywhere; purged TRASH_DAYS later).
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["job", "index"], name="image_unique_job_index"),
            models.CheckConstraint(
                condition=models.Q(
                    moderation_state__in=["clear", "flagged", "reported", "approved", "rejected"]
                ),
                name="image_moderation_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(visibility__in=["private", "team", "public"]),
                name="image_visibility_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="image_user_created"),
            # The team scope lists a team's shared images (team or public): a partial index
            # walks only those, in page order; the gallery repeats its condition term for term
            # (gallery.selectors.images.SHARED), which SQLite needs to use it.
            models.Index(
                fields=["team", "-created_at", "-id"],
                condition=models.Q(visibility__in=SHARED_VISIBILITIES),
                name="image_team_shared",
            ),
            models.Index(
                fields=["visibility", "-created_at", "-id"], name="image_visibility_created"
            ),
            models.Index(fields=["moderation_state"], name="image_moderation"),
            models.Index(
                fields=["review_requested_at", "id"],
                condition=models.Q(review_requested_at__isnull=False),
                name="image_review_requested",
            ),
            models.Index(
                fields=["user", "-deleted_at", "-id"],
                condition=models.Q(deleted_at__isnull=False),
                name="image_trashed",
            ),
        ]

    def __str__(self) -> str:
        return f"Image {self.public_id}"

    @property
    def is_showable(self) -> bool:
        return self.moderation_state in self.SHOWABLE

    @property
    def stored_bytes(self) -> int:
        return self.byte_size + self.thumbnail_byte_size


Image._meta.get_field("visibility").register_lookup(InConstants)
