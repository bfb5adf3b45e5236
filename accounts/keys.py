"""API keys: a recognisable prefix plus 256 bits of randomness; only a SHA-256 hash is stored."""

import hashlib
import secrets

from django.db import transaction
from django.utils import timezone

from accounts.models import ApiKey

KEY_PREFIX = "qis_"
_LAST_USED_RESOLUTION_SECONDS = 60


def _hash(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def api_key_create(*, user, name: str = "default") -> tuple[ApiKey, str]:
    """Create a key; the clear secret is returned once and never stored."""
    secret = KEY_PREFIX + secrets.token_urlsafe(32)
    with transaction.atomic():
        key = ApiKey.objects.create(
            user=user,
            name=(name or "default")[:100],
            prefix=secret[: len(KEY_PREFIX) + 6],
            hashed_key=_hash(secret),
        )
    return key, secret


def api_key_authenticate(*, secret: str) -> ApiKey | None:
    """The live key for a presented secret, or None (unknown, revoked, or inactive user)."""
    if not secret or not secret.startswith(KEY_PREFIX) or len(secret) > 200:
        return None
    try:
        key = ApiKey.objects.select_related("user").get(
            hashed_key=_hash(secret), revoked_at__isnull=True
        )
    except ApiKey.DoesNotExist:
        return None
    if not key.user.is_active:
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > (
        _LAST_USED_RESOLUTION_SECONDS
    ):
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key


def api_key_revoke(*, key: ApiKey) -> ApiKey:
    if key.revoked_at is None:
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
    return key
