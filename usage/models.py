"""The usage ledger: prices, limits, reservations, one entry per unit of backend work, alerts.

usage/ knows no job model: a job is referred to by its public id (`job_ref`, a UUID), which is
how generation hands work to it (generation -> usage is the allowed direction). Money is kept
as integer millionths of the currency (micros), so sums are exact on SQLite and PostgreSQL.
"""

import secrets
import uuid
from decimal import Decimal

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q


def micros(amount: Decimal | int | float | None) -> int:
    """An amount of money (Decimal) as integer millionths, rounded half up."""
    if amount is None:
        return 0
    return int((Decimal(amount) * 1_000_000).quantize(Decimal(1), rounding="ROUND_HALF_UP"))


def amount(value_micros: int | None) -> Decimal:
    """Integer millionths back to a Decimal amount with six places."""
    return (Decimal(value_micros or 0) / 1_000_000).quantize(Decimal("0.000001"))


class Price(models.Model):
    """What one unit of work costs on a backend and model: per image, per megapixel and per step.

    A unit (one upstream call, one local image) costs
    per_image + per_megapixel × megapixels + per_step × steps. An empty `model` is the price of
    every model of that backend without a row of its own.
    """

    backend = models.CharField(max_length=16, help_text="remote, local or demo.")
    model = models.CharField(
        max_length=100, blank=True, help_text="Empty: any model of this backend."
    )
    per_image = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    per_megapixel = models.DecimalField(max_digits=12, decimal_places=6, default=Decimal(0))
    per_step = models.DecimalField(
        max_digits=12, decimal_places=6, default=Decimal(0), help_text="Per inference step."
    )
    note = models.CharField(max_length=300, blank=True, help_text="Where the price comes from.")
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["backend", "model"]
        constraints = [
            models.UniqueConstraint(fields=["backend", "model"], name="price_unique_backend_model"),
            models.CheckConstraint(
                condition=Q(per_image__gte=0) & Q(per_megapixel__gte=0) & Q(per_step__gte=0),
                name="price_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.backend}/{self.model or '*'}"


class Period(models.TextChoices):
    DAY = "day", "Day (UTC)"
    MONTH = "month", "Month (UTC)"


class Limit(models.Model):
    """The limits of one user, one team (all its members' work together) or one API key.

    Exactly one of user, team and api_key is set. Empty fields mean "no limit of this kind
    here". A user's images per day and concurrent jobs stay on their profile (with the team's
    per-member default and the site default behind it); a user's row holds their budget.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="usage_limit",
    )
    team = models.OneToOneField(
        "accounts.Team", null=True, blank=True, on_delete=models.CASCADE, related_name="usage_limit"
    )
    api_key = models.OneToOneField(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="usage_limit",
    )
    images_per_day = models.PositiveIntegerField(
        null=True, blank=True, help_text="Images per UTC day, all of this scope's work together."
    )
    concurrent_jobs = models.PositiveIntegerField(
        null=True, blank=True, help_text="Jobs queued or running (and synchronous waits) at once."
    )
    budget = models.DecimalField(
        max_digits=12,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="Hard cap on the cost per period; submissions that would pass it are refused.",
    )
    budget_period = models.CharField(max_length=8, choices=Period.choices, default=Period.MONTH)
    soft_threshold_percent = models.PositiveSmallIntegerField(
        default=80, help_text="Warn (e-mail and webhook) when this share of the budget is spent."
    )
    alert_webhook_url = models.URLField(
        max_length=2000,
        blank=True,
        help_text="Receives budget.threshold events (hosts allowed by WEBHOOK_ALLOWED_HOSTS).",
    )
    alert_webhook_secret = models.CharField(
        max_length=80, blank=True, editable=False, help_text="Signs the alert webhooks."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(user__isnull=False, team__isnull=True, api_key__isnull=True)
                    | Q(user__isnull=True, team__isnull=False, api_key__isnull=True)
                    | Q(user__isnull=True, team__isnull=True, api_key__isnull=False)
                ),
                name="limit_exactly_one_scope",
            ),
            models.CheckConstraint(
                condition=Q(soft_threshold_percent__gte=1) & Q(soft_threshold_percent__lte=100),
                name="limit_threshold_percent_range",
            ),
            models.CheckConstraint(
                condition=Q(budget__isnull=True) | Q(budget__gte=0), name="limit_budget_positive"
            ),
            models.CheckConstraint(
                condition=Q(budget_period__in=["day", "month"]), name="limit_budget_period_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Limits of {self.scope_label}"

    def save(self, *args, **kwargs) -> None:
        if not self.alert_webhook_secret:
            self.alert_webhook_secret = "whsec_" + secrets.token_urlsafe(32)
        super().save(*args, **kwargs)

    @property
    def scope(self) -> str:
        return "user" if self.user_id else "team" if self.team_id else "api_key"

    @property
    def scope_label(self) -> str:
        if self.user_id:
            return f"user {self.user}"
        if self.team_id:
            return f"team {self.team}"
        return f"API key {self.api_key}"

    def clean(self) -> None:
        if self.user_id and (self.images_per_day is not None or self.concurrent_jobs is not None):
            raise ValidationError(
                "A user's images per day and concurrent jobs are set on their profile."
            )


# What the limits check reads of an open hold (usage.quotas.scope_usage).
HOLD_COLUMNS = ["expires_at", "images", "images_started", "unit_micros"]


class Reservation(models.Model):
    """What an active job (or a synchronous API wait) holds: a concurrency slot, and the images
    and money it is expected to spend until its work is recorded in the ledger.

    Opened in the transaction that checks the limits (so the check and the hold are one act);
    closed when the job ends or the wait returns. A wait carries an expiry so a web process
    killed mid-wait does not hold a slot for ever.
    """

    class Kind(models.TextChoices):
        JOB = "job", "Job"
        WAIT = "wait", "Synchronous wait"

    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.JOB)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        on_delete=models.SET_NULL,
        related_name="usage_reservations",
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, on_delete=models.SET_NULL, related_name="usage_reservations"
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey", null=True, on_delete=models.SET_NULL, related_name="usage_reservations"
    )
    job_ref = models.UUIDField(help_text="Public id of the job.")
    images = models.PositiveIntegerField(default=0)
    # Units of work started against it; images - images_started are still pending.
    images_started = models.PositiveIntegerField(default=0)
    unit_micros = models.BigIntegerField(default=0, help_text="Estimated cost of one image.")
    estimated = models.BooleanField(
        default=False, help_text="Carried over from before the ledger existed."
    )
    opened_at = models.DateTimeField()
    first_started_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, blank=True, help_text="How the job ended.")

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=["job", "wait"]), name="reservation_kind_valid"
            ),
            models.UniqueConstraint(
                fields=["job_ref"],
                condition=Q(kind="job", closed_at__isnull=True),
                name="reservation_one_open_per_job",
            ),
        ]
        indexes = [
            # The limits check reads open holds per scope: these partial indexes hold every
            # column it needs (covering), so the planner takes them over the page indexes.
            models.Index(
                fields=["user", *HOLD_COLUMNS],
                condition=Q(closed_at__isnull=True),
                name="reservation_open_user",
            ),
            models.Index(
                fields=["team", *HOLD_COLUMNS],
                condition=Q(closed_at__isnull=True, team__isnull=False),
                name="reservation_open_team",
            ),
            models.Index(
                fields=["api_key", *HOLD_COLUMNS],
                condition=Q(closed_at__isnull=True, api_key__isnull=False),
                name="reservation_open_key",
            ),
            # The usage pages (jobs per period); open holds by job use the unique index above.
            models.Index(fields=["user", "opened_at"], name="reservation_user_opened"),
            models.Index(fields=["team", "opened_at"], name="reservation_team_opened"),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} reservation for {self.job_ref}"


class EntryKind(models.TextChoices):
    WORK = "work", "Work"
    CORRECTION = "correction", "Correction"
    STORAGE = "storage", "Storage"


class EntryStatus(models.TextChoices):
    STARTED = "started", "Started (in flight)"
    SUCCEEDED = "succeeded", "Succeeded"
    FAILED = "failed", "Failed after the work was done"
    REJECTED = "rejected", "Refused by the provider (not billed)"
    CANCELED = "canceled", "Canceled after the work started"
    NOT_SENT = "not_sent", "Never reached the provider"
    LOST = "lost", "Outcome unknown (worker lost)"
    RECORDED = "recorded", "Recorded (corrections, storage)"


class LedgerEntry(models.Model):
    """One unit of backend work (one upstream call, one local image), a correction or a
    storage change. Written when the work starts, settled when it ends; never deleted.
    """

    Kind = EntryKind
    Status = EntryStatus

    # Work in these states was (or may have been) done and billed: it counts against quotas.
    COUNTED = (Status.STARTED, Status.SUCCEEDED, Status.FAILED, Status.CANCELED, Status.LOST)
    # These reached the provider (what a provider's own request log would show).
    REACHED_PROVIDER = (*COUNTED, Status.REJECTED)

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    kind = models.CharField(max_length=12, choices=Kind.choices, default=Kind.WORK)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ledger_entries",
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ledger_entries",
    )
    api_key = models.ForeignKey(
        "accounts.ApiKey",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="ledger_entries",
    )
    job_ref = models.UUIDField(null=True, blank=True, help_text="Public id of the job.")
    attempt = models.PositiveIntegerField(default=0)
    index = models.PositiveSmallIntegerField(default=0, help_text="Image index in the job.")
    backend = models.CharField(max_length=16, blank=True)
    model = models.CharField(max_length=100, blank=True)
    width = models.PositiveIntegerField(default=0)
    height = models.PositiveIntegerField(default=0)
    steps = models.PositiveIntegerField(default=0)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.STARTED)
    error_code = models.CharField(max_length=64, blank=True)
    counted = models.BooleanField(default=True, help_text="Counts against quotas.")
    cost_micros = models.BigIntegerField(default=0, help_text="Millionths of the currency.")
    estimated = models.BooleanField(
        default=True, help_text="The cost is an estimate (in flight, lost, or carried over)."
    )
    storage_bytes = models.BigIntegerField(
        default=0, help_text="Storage entries: bytes added (+) or freed (-)."
    )
    reason = models.TextField(blank=True)
    corrects = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    started_at = models.DateTimeField(db_index=True)
    settled_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        verbose_name_plural = "ledger entries"
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=EntryKind.values), name="ledger_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=EntryStatus.values), name="ledger_status_valid"
            ),
            models.UniqueConstraint(
                fields=["job_ref", "attempt", "index"],
                condition=Q(kind="work"),
                name="ledger_one_entry_per_unit",
            ),
            models.CheckConstraint(
                condition=~Q(kind="correction") | ~Q(reason=""),
                name="ledger_correction_has_reason",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "started_at"], name="ledger_user_started"),
            models.Index(fields=["team", "started_at"], name="ledger_team_started"),
            models.Index(fields=["api_key", "started_at"], name="ledger_key_started"),
            models.Index(fields=["job_ref", "attempt"], name="ledger_job"),
            models.Index(
                fields=["started_at"],
                condition=Q(status="started"),
                name="ledger_in_flight",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.public_id} ({self.status})"

    @property
    def megapixels(self) -> float:
        return self.width * self.height / 1_000_000

    @property
    def cost(self) -> Decimal:
        return amount(self.cost_micros)


class BudgetAlert(models.Model):
    """A budget threshold crossed in one period: recorded once, then e-mailed and posted."""

    class Level(models.TextChoices):
        SOFT = "soft", "Soft threshold"
        CAP = "cap", "Budget spent"

    limit = models.ForeignKey(Limit, on_delete=models.CASCADE, related_name="alerts")
    level = models.CharField(max_length=8, choices=Level.choices)
    period_start = models.DateTimeField()
    spent_micros = models.BigIntegerField()
    budget_micros = models.BigIntegerField()
    created_at = models.DateTimeField(auto_now_add=True)
    emailed_at = models.DateTimeField(null=True, blank=True)
    webhook_status = models.CharField(max_length=200, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["limit", "level", "period_start"], name="budget_alert_once_per_period"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_level_display()} of {self.limit.scope_label}"
