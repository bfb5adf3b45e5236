"""Teams, memberships, per-user profile (current team, quota overrides) and API keys."""

import uuid

from django.conf import settings
from django.db import models


class Team(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    name = models.CharField(max_length=100)
    created_at = models.DateTimeField(auto_now_add=True)
    # Quota overrides for every member of the team; empty means the settings' default.
    images_per_day = models.PositiveIntegerField(null=True, blank=True)
    concurrent_jobs = models.PositiveIntegerField(null=True, blank=True)
    # Retention (docs/retention.md). Empty means the site default; 0 means keep forever /
    # unlimited. Team owners and admins set the retention; staff set the storage quota.
    retention_image_days = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Images older than this go to the trash unless starred or in a collection.",
    )
    storage_quota_bytes = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Bytes of images (PNG + thumbnail) the team may keep."
    )
    # A staff legal hold: nothing of the team's is purged while it is set.
    legal_hold_since = models.DateTimeField(null=True, blank=True)
    legal_hold_note = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    class Role(models.TextChoices):
        OWNER = "owner", "Owner"
        ADMIN = "admin", "Admin"
        MEMBER = "member", "Member"

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="memberships")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships"
    )
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.MEMBER)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="membership_unique_team_user"),
            models.CheckConstraint(
                condition=models.Q(role__in=["owner", "admin", "member"]),
                name="membership_role_valid",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team} ({self.role})"


class Profile(models.Model):
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="profile"
    )
    current_team = models.ForeignKey(Team, null=True, blank=True, on_delete=models.SET_NULL)
    show_sensitive = models.BooleanField(
        default=False, help_text="Show flagged images unblurred to their owner."
    )
    images_per_day = models.PositiveIntegerField(null=True, blank=True)
    concurrent_jobs = models.PositiveIntegerField(null=True, blank=True)
    # A staff legal hold on the user: nothing of theirs is purged while it is set.
    legal_hold_since = models.DateTimeField(null=True, blank=True)
    legal_hold_note = models.CharField(max_length=500, blank=True)

    def __str__(self) -> str:
        return f"Profile of {self.user}"


class ApiKey(models.Model):
    """A machine credential acting as its user. Only a hash of the secret is stored."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys"
    )
    name = models.CharField(max_length=100, default="default")
    prefix = models.CharField(max_length=16, db_index=True)
    hashed_key = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"


class TeamInvite(models.Model):
    """A link that lets whoever holds it join a team: unguessable, expiring, revocable."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="invites")
    # The token is kept so admins can copy the link again; it only grants joining this team
    # with `role`, and dies at `expires_at`, on revoke, or after one use when single_use.
    token = models.CharField(max_length=64, unique=True)
    role = models.CharField(
        max_length=10,
        choices=[(Membership.Role.ADMIN, "Admin"), (Membership.Role.MEMBER, "Member")],
        default=Membership.Role.MEMBER,
    )
    single_use = models.BooleanField(default=True)
    use_count = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(role__in=["admin", "member"]), name="invite_role_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"Invite to {self.team} ({self.role})"

    def is_usable(self, now) -> bool:
        """Not revoked, expired or used up. Whether its creator may still grant its role is
        a question for accounts.selectors.invite_creator_may_grant_q (it needs a query)."""
        return (
            self.revoked_at is None
            and self.expires_at > now
            and not (self.single_use and self.use_count > 0)
        )


class TeamRemoval(models.Model):
    """Someone an owner or admin removed from a team, and when.

    Invite links made before the removal do not let them back in (they may have seen them
    while they were a manager); a link made afterwards is a deliberate re-invitation.
    """

    team = models.ForeignKey(Team, on_delete=models.CASCADE, related_name="removals")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="team_removals"
    )
    removed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    removed_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-removed_at", "-id"]
        indexes = [models.Index(fields=["team", "user", "-removed_at"], name="removal_team_user")]

    def __str__(self) -> str:
        return f"{self.user} removed from {self.team}"
