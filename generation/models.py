"""Jobs (one generation request each), the images they produce, and their moderation."""

import re
import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models.functions import Lower


class Visibility(models.TextChoices):
    PRIVATE = "private", "Private"
    TEAM = "team", "Team"
    PUBLIC = "public", "Public"


# Visibilities a team's members see of each other's images, in the order the partial index
# image_team_shared states them (the gallery's team scope repeats its condition).
SHARED_VISIBILITIES = (Visibility.TEAM, Visibility.PUBLIC)
_CONSTANT = re.compile(r"^[a-z_]+$")


class InConstants(models.Lookup):
    """`field__in_constants=(...)`: IN with the values written into the SQL, not bound.

    SQLite uses a partial index only when the query states the index's condition term for
    term, and it cannot compare a bound parameter with the index's literal: with parameters
    the team scope sorted a whole team (270 ms at a million images) instead of walking
    image_team_shared (0.1 ms). Only for constants of the code (lower-case words).
    """

    lookup_name = "in_constants"

    def as_sql(self, compiler, connection):
        lhs, params = self.process_lhs(compiler, connection)
        values = [str(value) for value in self.rhs]
        if not values or not all(_CONSTANT.match(value) for value in values):
            raise ValueError("in_constants takes lower-case word constants only.")
        return f"{lhs} IN ({', '.join(repr(value) for value in values)})", params

    def get_prep_lookup(self):
        return self.rhs


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


# Models of the prompt, preset and consumer packages, registered with this app from here
# (consumers report themselves in generation/consumers, which imports nothing here).
from generation.consumers.models import Worker  # noqa: E402
from generation.presets.models import Preset, PresetVersion  # noqa: E402
from generation.prompts.models import TeamPromptSettings  # noqa: E402

__all__ = [
    "BlockedTerm",
    "Image",
    "Job",
    "ModerationDecision",
    "Preset",
    "PresetVersion",
    "Report",
    "TeamPromptSettings",
    "Visibility",
    "WebhookDelivery",
    "WebhookSecret",
    "Worker",
]
