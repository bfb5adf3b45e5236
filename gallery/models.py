"""Favorites, collections and share links: what people do with images after they exist."""

import uuid

from django.conf import settings
from django.db import models
from django.utils import timezone

from generation.models import Visibility


class Favorite(models.Model):
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="favorites"
    )
    image = models.ForeignKey(
        "generation.Image", on_delete=models.CASCADE, related_name="favorites"
    )
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["user", "image"], name="favorite_unique_user_image"),
        ]
        indexes = [
            # The favorites scope lists by when the star was given.
            models.Index(fields=["user", "-created_at", "-id"], name="favorite_user_created"),
        ]

    def __str__(self) -> str:
        return f"{self.user} ★ {self.image_id}"


class Collection(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="collections"
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="collections",
    )
    name = models.CharField(max_length=100)
    visibility = models.CharField(
        max_length=8, choices=Visibility.choices, default=Visibility.PRIVATE
    )
    cover = models.ForeignKey(
        "generation.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    # In the trash since: hidden, its links stop; its images stay where they are.
    deleted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(visibility__in=["private", "team", "public"]),
                name="collection_visibility_valid",
            ),
        ]
        indexes = [
            models.Index(fields=["user", "name"], name="collection_user_name"),
            models.Index(fields=["team", "visibility"], name="collection_team_visibility"),
            models.Index(fields=["visibility"], name="collection_visibility"),
        ]

    def __str__(self) -> str:
        return self.name


class CollectionItem(models.Model):
    collection = models.ForeignKey(Collection, on_delete=models.CASCADE, related_name="items")
    image = models.ForeignKey(
        "generation.Image", on_delete=models.CASCADE, related_name="collection_items"
    )
    added_at = models.DateTimeField(default=timezone.now)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["collection", "image"], name="collection_item_unique_image"
            ),
        ]
        indexes = [
            # A collection lists by when each image was added.
            models.Index(fields=["collection", "-added_at", "-id"], name="collection_item_added"),
        ]

    def __str__(self) -> str:
        return f"{self.image_id} in {self.collection_id}"


class ShareLink(models.Model):
    """An unguessable link to one image or one collection that works without an account."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    token = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="share_links"
    )
    image = models.ForeignKey(
        "generation.Image",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="share_links",
    )
    collection = models.ForeignKey(
        Collection,
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="share_links",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    view_count = models.PositiveIntegerField(default=0)
    last_viewed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=(
                    models.Q(image__isnull=False, collection__isnull=True)
                    | models.Q(image__isnull=True, collection__isnull=False)
                ),
                name="share_link_one_target",
            ),
        ]

    def __str__(self) -> str:
        return f"Share {self.public_id}"

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None

    @property
    def is_expired(self) -> bool:
        return self.expires_at is not None and self.expires_at <= timezone.now()

    @property
    def is_active(self) -> bool:
        return not self.is_revoked and not self.is_expired
