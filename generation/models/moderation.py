"""Moderation: the decisions' audit log, user reports and the prompt blocklist."""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower

from generation.models.images import Image


class ModerationDecision(models.Model):
    """The audit log: one row per moderation decision (who, when, from, to, why).

    Written only by generation.moderation.image_moderate. Rows outlive the image (the
    public id is kept) and the actor (None also means the system, e.g. auto-hide).
    """

    class Via(models.TextChoices):
        ADMIN = "admin", "Django admin"
        QUEUE = "queue", "Moderation queue"
        REPORTS = "reports", "Reports (automatic)"
        SYSTEM = "system", "System"

    image = models.ForeignKey(
        Image,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moderation_decisions",
    )
    image_public_id = models.UUIDField(db_index=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="moderation_decisions",
    )
    via = models.CharField(max_length=8, choices=Via.choices, default=Via.SYSTEM)
    at = models.DateTimeField(auto_now_add=True)
    from_state = models.CharField(max_length=10, choices=Image.Moderation.choices)
    to_state = models.CharField(max_length=10, choices=Image.Moderation.choices)
    note = models.TextField(blank=True)

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [models.Index(fields=["image", "-at"], name="decision_image_at")]

    def __str__(self) -> str:
        who = self.actor.get_username() if self.actor_id and self.actor else "system"
        return f"{self.from_state} → {self.to_state} by {who}"


class Report(models.Model):
    """Someone's complaint about an image; open reports feed the moderation queue."""

    class Reason(models.TextChoices):
        SEXUAL = "sexual", "Sexual or nude content"
        VIOLENCE = "violence", "Violence or gore"
        HATE = "hate", "Hate or harassment"
        ILLEGAL = "illegal", "Illegal content"
        RIGHTS = "rights", "Copyright, trademark or likeness"
        OTHER = "other", "Something else"

    image = models.ForeignKey(Image, on_delete=models.CASCADE, related_name="reports")
    # None for anonymous reporters (share pages); they are told apart by reporter_key, a keyed
    # hash of their address, never the address itself.
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="image_reports",
    )
    reporter_key = models.CharField(max_length=64, blank=True)
    reason = models.CharField(max_length=10, choices=Reason.choices)
    note = models.TextField(blank=True, max_length=1000)
    created_at = models.DateTimeField(auto_now_add=True)
    resolved = models.BooleanField(default=False)
    resolved_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["image", "reporter"],
                condition=models.Q(reporter__isnull=False),
                name="report_once_per_user",
            ),
            models.UniqueConstraint(
                fields=["image", "reporter_key"],
                condition=models.Q(reporter__isnull=True) & ~models.Q(reporter_key=""),
                name="report_once_per_anonymous",
            ),
            models.CheckConstraint(
                condition=models.Q(
                    reason__in=["sexual", "violence", "hate", "illegal", "rights", "other"]
                ),
                name="report_reason_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["image", "resolved"], name="report_image_open"),
            models.Index(fields=["reporter", "-created_at"], name="report_reporter_created"),
            models.Index(fields=["reporter_key", "-created_at"], name="report_key_created"),
        ]

    def __str__(self) -> str:
        return f"{self.get_reason_display()} on {self.image_id}"


class BlockedTerm(models.Model):
    """A word, phrase or pattern that prompts may not contain (checked at submit time)."""

    class Kind(models.TextChoices):
        WORD = "word", "Whole word or phrase"
        PATTERN = "pattern", "Regular expression"

    term = models.CharField(
        max_length=200,
        help_text=(
            "A word or phrase, matched as whole words and case-insensitively (a phrase matches "
            "whatever spacing the prompt uses); or a Python regular expression, also "
            "case-insensitive."
        ),
    )
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.WORD)
    active = models.BooleanField(default=True)
    note = models.CharField(max_length=300, blank=True, help_text="Why it is blocked (staff only).")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["term", "id"]
        constraints = [
            models.UniqueConstraint(Lower("term"), "kind", name="blocked_term_unique"),
            models.CheckConstraint(
                condition=models.Q(kind__in=["word", "pattern"]), name="blocked_term_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return self.term

    def clean(self) -> None:
        self.term = (self.term or "").strip()
        if not self.term:
            raise ValidationError({"term": "Give a word, phrase or pattern."})
        if self.kind == self.Kind.PATTERN:
            try:
                compiled = re.compile(self.term)
            except re.error as exc:
                raise ValidationError({"term": f"Not a valid regular expression: {exc}."}) from None
            if compiled.match(""):
                raise ValidationError({"term": "This pattern matches an empty prompt."})
