"""Preset (the name, who owns it, who may use it, how often it was used) and its versions (the
settings; a change makes a new version, so a job names exactly what it ran with)."""

import uuid

from django.conf import settings
from django.db import models


class Preset(models.Model):
    class Status(models.TextChoices):
        APPROVED = "approved", "Approved"
        PENDING = "pending", "Waiting for a team admin"

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="presets"
    )
    # Set: shared with that team's members once a team owner or admin approves it.
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="presets"
    )
    name = models.CharField(max_length=80)
    description = models.CharField(max_length=300, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.APPROVED)
    approved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The version new jobs use; older versions stay for the jobs that ran with them.
    current = models.ForeignKey(
        "generation.PresetVersion",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    use_count = models.PositiveIntegerField(default=0)
    last_used_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(status__in=["approved", "pending"]), name="preset_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["user", "name"], name="preset_user_name"),
            models.Index(fields=["team", "status", "name"], name="preset_team_status_name"),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_team(self) -> bool:
        return self.team_id is not None


class PresetVersion(models.Model):
    """One version's settings. Empty fields are not set by the preset: the request's own value
    or the portal's default applies."""

    preset = models.ForeignKey(Preset, on_delete=models.CASCADE, related_name="versions")
    number = models.PositiveIntegerField()
    size = models.CharField(max_length=32, blank=True, help_text='Preset name, "WxH" or "auto".')
    num_inference_steps = models.PositiveIntegerField(null=True, blank=True)
    guidance_scale = models.FloatField(null=True, blank=True)
    negative_prompt = models.TextField(blank=True)
    acceleration = models.CharField(max_length=8, blank=True)
    prompt_template = models.TextField(
        default="{prompt}", help_text="The prompt sent, with {prompt} standing for yours."
    )
    enhance = models.BooleanField(null=True, blank=True, help_text="Empty: the request decides.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["preset", "-number"]
        constraints = [
            models.UniqueConstraint(fields=["preset", "number"], name="preset_version_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.preset.name} v{self.number}"

    def values(self) -> dict:
        """The settings this version sets, under GenerationParams' names (plus the template)."""
        values: dict = {"prompt_template": self.prompt_template or "{prompt}"}
        for name in ("size", "negative_prompt", "acceleration"):
            if getattr(self, name):
                values[name] = getattr(self, name)
        for name in ("num_inference_steps", "guidance_scale", "enhance"):
            if getattr(self, name) is not None:
                values[name] = getattr(self, name)
        return values
