"""Job webhooks: a user's signing secret and each event's delivery with its retries."""

import uuid

from django.conf import settings
from django.db import models

from generation.models.jobs import Job


class WebhookSecret(models.Model):
    """The key a user's webhook receivers verify signatures with (shown via the API)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="webhook_secret"
    )
    secret = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Webhook secret of {self.user}"


class WebhookDelivery(models.Model):
    """One event (job.succeeded / job.failed / job.canceled) POSTed to a job's webhook_url,
    with its retries."""

    class Event(models.TextChoices):
        SUCCEEDED = "job.succeeded", "job.succeeded"
        FAILED = "job.failed", "job.failed"
        CANCELED = "job.canceled", "job.canceled"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        SUCCEEDED = "succeeded", "Delivered"
        FAILED = "failed", "Failed"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    job = models.ForeignKey(Job, on_delete=models.CASCADE, related_name="webhook_deliveries")
    event = models.CharField(max_length=32, choices=Event.choices)
    url = models.URLField(max_length=2000)
    payload = models.JSONField(help_text="The event body; signed afresh on every attempt.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(null=True, blank=True)
    last_error = models.CharField(max_length=500, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "succeeded", "failed"]),
                name="webhook_delivery_status_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["status", "next_attempt_at"], name="webhook_delivery_due"),
        ]

    def __str__(self) -> str:
        return f"{self.event} for job {self.job_id} ({self.status})"
