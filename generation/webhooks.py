"""Job webhooks: allowed hosts, signed `job.succeeded` / `job.failed` / `job.canceled` POSTs,
deliveries, retries.

Each request carries:
  X-Studio-Event: job.succeeded | job.failed | job.canceled
  X-Studio-Delivery: <delivery id>   (the same on every retry of one event: de-duplicate on it)
  X-Studio-Timestamp: <unix seconds>
  X-Studio-Signature: v1=<hex HMAC-SHA256 of "<timestamp>.<raw body>" keyed by your secret>
The secret is per user: GET /v1/webhooks/secret shows it, POST /v1/webhooks/secret/rotate
replaces it.
"""

import datetime as dt
import hashlib
import hmac
import json
import logging
import secrets
import time
import uuid

import httpx
from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.dispatch import receiver
from django.utils import timezone

from core.webhook_urls import WebhookUrlRejected, webhook_url_check
from generation import metrics, signals
from generation.models import Job, WebhookDelivery, WebhookSecret
from generation.presenters import job_payload
from generation.signed_urls import image_signed_urls

logger = logging.getLogger("qwen.webhooks")

EVENT_HEADER = "X-Studio-Event"
DELIVERY_HEADER = "X-Studio-Delivery"
TIMESTAMP_HEADER = "X-Studio-Timestamp"
SIGNATURE_HEADER = "X-Studio-Signature"
SECRET_PREFIX = "whsec_"
USER_AGENT = "QwenImageStudio-Webhooks/1.0"


# Where webhooks may go: core.webhook_urls (the one rule, shared with usage's budget alerts).


# --- Secrets and signatures -----------------------------------------------------------------


def webhook_secret_for(*, user) -> str:
    secret, _ = WebhookSecret.objects.get_or_create(
        user=user, defaults={"secret": SECRET_PREFIX + secrets.token_urlsafe(32)}
    )
    return secret.secret


def webhook_secret_rotate(*, user) -> str:
    value = SECRET_PREFIX + secrets.token_urlsafe(32)
    WebhookSecret.objects.update_or_create(user=user, defaults={"secret": value})
    return value


def webhook_signature(*, secret: str, timestamp: int, body: bytes) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def webhook_signature_verify(
    *, secret: str, timestamp: str, body: bytes, signature: str, tolerance: int = 300
) -> bool:
    """What a receiver does: recompute, compare in constant time, refuse stale timestamps."""
    try:
        stamp = int(timestamp)
    except (TypeError, ValueError):
        return False
    if abs(time.time() - stamp) > tolerance:
        return False
    expected = webhook_signature(secret=secret, timestamp=stamp, body=body)
    return hmac.compare_digest(expected, signature)


# --- Deliveries -----------------------------------------------------------------------------


def webhook_job_finished(*, job_pk: int) -> WebhookDelivery | None:
    """Record the event for a finished job with a webhook_url and send it after commit."""
    job = Job.objects.select_related("user").filter(pk=job_pk).first()
    if job is None or not job.webhook_url:
        return None
    events = {
        Job.Status.SUCCEEDED: WebhookDelivery.Event.SUCCEEDED,
        Job.Status.FAILED: WebhookDelivery.Event.FAILED,
        Job.Status.CANCELED: WebhookDelivery.Event.CANCELED,
    }
    if job.status not in events:
        return None
    delivery_id = uuid.uuid4()
    payload = {
        "id": str(delivery_id),
        "type": events[job.status],
        "created": int(time.time()),
        # URLs for the job's owner: they stop if the owner loses sight of an image.
        "data": {
            "job": job_payload(
                job, urls=lambda image, request: image_signed_urls(image, holder=job.user)
            )
        },
    }
    delivery = WebhookDelivery.objects.create(
        public_id=delivery_id,
        job=job,
        event=events[job.status],
        url=job.webhook_url,
        payload=payload,
        next_attempt_at=timezone.now(),
    )
    transaction.on_commit(lambda: _enqueue(delivery.pk))
    return delivery


@receiver(signals.job_finished, dispatch_uid="webhooks-job-finished")
def _job_finished(sender, job_pk: int, **kwargs) -> None:
    try:
        webhook_job_finished(job_pk=job_pk)
    except Exception:  # a failing webhook never undoes the job's result
        logger.exception("event=hook_failed hook=webhook job_pk=%s", job_pk)


def _enqueue(delivery_pk: int, delay: float = 0) -> None:
    signals.webhook_ready.send(sender=WebhookDelivery, delivery_pk=delivery_pk, delay=delay)


def _backoff(attempt: int) -> float:
    delay = settings.WEBHOOK_RETRY_BASE_DELAY * (2 ** max(0, attempt - 1))
    return min(delay, settings.WEBHOOK_RETRY_MAX_DELAY)


def webhook_deliver(*, delivery_id: int) -> WebhookDelivery | None:
    """One attempt: claim the delivery, POST the signed event, record the outcome, and
    schedule the next attempt with exponential backoff until WEBHOOK_MAX_ATTEMPTS."""
    now = timezone.now()
    lease = now + dt.timedelta(seconds=settings.WEBHOOK_TIMEOUT_SECONDS + 30)
    claimed = WebhookDelivery.objects.filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now),
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        pk=delivery_id,
        status=WebhookDelivery.Status.PENDING,
        attempts__lt=settings.WEBHOOK_MAX_ATTEMPTS,  # the cap holds whatever happened before
    ).update(attempts=F("attempts") + 1, lease_expires_at=lease, last_attempt_at=now)
    if claimed != 1:
        return None
    delivery = WebhookDelivery.objects.select_related("job__user").get(pk=delivery_id)
    status_code, error, permanent = _post(delivery)
    now = timezone.now()
    fields = {"last_status_code": status_code, "last_error": error[:500], "lease_expires_at": None}
    if status_code is not None and 200 <= status_code < 300:
        fields.update(status=WebhookDelivery.Status.SUCCEEDED, delivered_at=now, last_error="")
        delay = None
    elif permanent or delivery.attempts >= settings.WEBHOOK_MAX_ATTEMPTS:
        fields.update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None)
        delay = None
    else:
        delay = _backoff(delivery.attempts)
        fields.update(next_attempt_at=now + dt.timedelta(seconds=delay))
    WebhookDelivery.objects.filter(pk=delivery.pk).update(**fields)
    delivery.refresh_from_db()
    logger.info(
        "event=webhook delivery=%s job=%s attempt=%s status=%s outcome=%s",
        delivery.public_id,
        delivery.job.public_id,
        delivery.attempts,
        status_code,
        delivery.status,
    )
    if delay is not None:
        transaction.on_commit(lambda: _enqueue(delivery.pk, delay=delay))
    metrics.webhook_attempt_observed(status_code=status_code, outcome=delivery.status)
    return delivery


def _post(delivery: WebhookDelivery) -> tuple[int | None, str, bool]:
    """(HTTP status or None, error, permanent). Never raises: whatever goes wrong is the
    attempt's outcome, so a delivery cannot stay leased and pending for ever."""
    try:
        webhook_url_check(delivery.url)  # the allow-list may have shrunk since submission
    except WebhookUrlRejected as exc:
        return None, str(exc), False
    try:
        status, error = _send(delivery)
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:500], False
    except Exception as exc:  # a URL httpx cannot use, a bug: not worth retrying
        logger.warning("event=webhook_error delivery=%s error=%s", delivery.public_id, exc)
        return None, f"{type(exc).__name__}: {exc}"[:500], True
    return status, error, False


def _send(delivery: WebhookDelivery) -> tuple[int, str]:
    body = json.dumps(delivery.payload, separators=(",", ":"), sort_keys=True).encode()
    timestamp = int(time.time())
    secret = webhook_secret_for(user=delivery.job.user)
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        EVENT_HEADER: delivery.event,
        DELIVERY_HEADER: str(delivery.public_id),
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: webhook_signature(secret=secret, timestamp=timestamp, body=body),
    }
    timeout = httpx.Timeout(settings.WEBHOOK_TIMEOUT_SECONDS)
    # No redirects: a receiver must not bounce us to a host the allow-list does not name.
    with (
        httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False) as client,
        client.stream("POST", delivery.url, content=body, headers=headers) as response,
    ):
        status = response.status_code
    return status, "" if 200 <= status < 300 else f"Receiver answered HTTP {status}."


def webhook_deliveries_requeue_due() -> int:
    """Re-send pending deliveries whose scheduled retry was lost (Huey is at-most-once)."""
    now = timezone.now()
    # Past the cap (a crash between attempts in older releases could leave some): failed.
    WebhookDelivery.objects.filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now),
        status=WebhookDelivery.Status.PENDING,
        attempts__gte=settings.WEBHOOK_MAX_ATTEMPTS,
    ).update(status=WebhookDelivery.Status.FAILED, next_attempt_at=None, lease_expires_at=None)
    grace = now - dt.timedelta(seconds=60)
    due = WebhookDelivery.objects.filter(
        Q(lease_expires_at__isnull=True) | Q(lease_expires_at__lt=now),
        status=WebhookDelivery.Status.PENDING,
        next_attempt_at__lte=grace,
    ).values_list("pk", flat=True)[:500]
    count = 0
    for pk in due:
        _enqueue(pk)
        count += 1
    return count
