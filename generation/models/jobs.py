"""Jobs: one generation (or edit) request each."""

import uuid

from django.conf import settings
from django.db import models

from generation.models.visibility import Visibility


class Job(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CANCELED = "canceled", "Canceled"

    class Acceleration(models.TextChoices):
        NONE = "none", "None"
        REGULAR = "regular", "Regular"
        HIGH = "high", "High"

    class Source(models.TextChoices):
        WEB = "web", "Web"
        API = "api", "API"
        CLI = "cli", "Command line"

    class Enhancement(models.TextChoices):
        NONE = "", "Not asked"
        ENHANCED = "enhanced", "Enhanced"
        ACCEPTED = "accepted", "Revision accepted before submitting"
        EDITED = "edited", "Revision edited before submitting"
        FALLBACK = "fallback", "Original prompt used"

    ACTIVE = (Status.QUEUED, Status.RUNNING)
    FINISHED = (Status.SUCCEEDED, Status.FAILED, Status.CANCELED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="jobs"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="jobs"
    )
    source = models.CharField(max_length=8, choices=Source.choices, default=Source.WEB)
    backend = models.CharField(max_length=16)
    model = models.CharField(max_length=100)

    # Request parameters: everything needed to reproduce the job.
    prompt = models.TextField()
    negative_prompt = models.TextField(default=" ", blank=True)
    size_preset = models.CharField(max_length=32, blank=True)
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()
    num_inference_steps = models.PositiveIntegerField(default=30)
    guidance_scale = models.FloatField(default=2.5)
    seed = models.BigIntegerField(help_text="Seed of the first image; image i uses seed + i.")
    acceleration = models.CharField(
        max_length=8, choices=Acceleration.choices, default=Acceleration.NONE
    )
    enable_safety_checker = models.BooleanField(default=True)
    n = models.PositiveSmallIntegerField(default=1)
    # Prompt enhancement: `prompt` is what was asked for, `revised_prompt` (when not blank) what
    # was drawn. `enhance` asks the worker to revise it before the backend call.
    revised_prompt = models.TextField(blank=True)
    enhance = models.BooleanField(default=False)
    enhancement = models.CharField(
        max_length=10, choices=Enhancement.choices, default=Enhancement.NONE, blank=True
    )
    enhancement_note = models.CharField(max_length=500, blank=True)
    # size "auto": chosen from the prompt's aspect, chosen again from the revision.
    size_auto = models.BooleanField(default=False)
    preset = models.ForeignKey(
        "generation.PresetVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="jobs",
    )
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    parent_image = models.ForeignKey(
        "generation.Image", null=True, blank=True, on_delete=models.SET_NULL, related_name="reseeds"
    )
    # An edit's sources in API spelling (generation.params.EditParams); null for a generation.
    # The files themselves are its EditInput rows.
    edit = models.JSONField(null=True, blank=True)

    # Lifecycle.
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.QUEUED)
    progress = models.FloatField(default=0.0)
    attempts = models.PositiveIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    cancel_requested = models.BooleanField(default=False)
    error_code = models.CharField(max_length=64, blank=True)
    error_message = models.TextField(blank=True)
    # While running: indexes of images already stored (files written, not yet rows) and not
    # held by the safety checker; the pages show their thumbnails before the job ends.
    ready_images = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    enqueued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    # API extras: idempotent submission and completion webhooks.
    idempotency_key = models.CharField(max_length=200, blank=True)
    request_hash = models.CharField(max_length=64, blank=True)
    webhook_url = models.URLField(max_length=2000, blank=True)
    # Delivery, not drawing: the format API answers hand the images out in (stored files stay
    # PNG), and OpenAI's `user` (the caller's end user), kept for auditing.
    output_format = models.CharField(max_length=4, default="png")
    output_compression = models.PositiveSmallIntegerField(null=True, blank=True)
    end_user = models.CharField(max_length=256, blank=True)

    # In the trash since (hidden everywhere; purged TRASH_DAYS later). Its images go with it,
    # stamped with the same moment, so a restore brings back exactly those.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(
                    status__in=["queued", "running", "succeeded", "failed", "canceled"]
                ),
                name="job_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(acceleration__in=["none", "regular", "high"]),
                name="job_acceleration_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(progress__gte=0) & models.Q(progress__lte=1),
                name="job_progress_range",
            ),
            models.CheckConstraint(
                condition=models.Q(output_format__in=["png", "jpeg", "webp"]),
                name="job_output_format_valid",
            ),
            models.UniqueConstraint(
                fields=["user", "idempotency_key"],
                condition=~models.Q(idempotency_key=""),
                name="job_unique_idempotency_key",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "-created_at", "-id"], name="job_user_created"),
            # Quota checks count a user's active jobs on every submission: without this they
            # walk the user's whole history (bench/submit.py).
            models.Index(fields=["user", "status"], name="job_user_status"),
            models.Index(fields=["status", "lease_expires_at"], name="job_status_lease"),
            models.Index(
                fields=["deleted_at", "id"],
                condition=models.Q(deleted_at__isnull=False),
                name="job_trashed",
            ),
        ]

    def __str__(self) -> str:
        return f"Job {self.public_id} ({self.status})"

    @property
    def is_active(self) -> bool:
        return self.status in self.ACTIVE

    @property
    def duration_seconds(self) -> float | None:
        if self.started_at and self.finished_at:
            return (self.finished_at - self.started_at).total_seconds()
        return None

    @property
    def wait_seconds(self) -> float | None:
        if self.started_at:
            return (self.started_at - self.created_at).total_seconds()
        return None
