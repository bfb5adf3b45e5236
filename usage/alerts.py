"""Budget alerts: when a scope's spend crosses its soft threshold or its whole budget, tell the
people who answer for it (team owners and admins; the user for their own or their key's
budget) by e-mail, and post a signed `budget.threshold` event to the scope's webhook.

Each crossing is recorded once per period (a unique row), in the transaction that caused it;
sending happens after commit, in the queue (usage.signals.budget_alert_ready → usage.tasks).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time

import httpx
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from accounts.models import Membership
from accounts.services import MANAGER_ROLES
from core.webhook_urls import WebhookUrlRejected, webhook_url_check
from usage import signals
from usage.models import BudgetAlert, Limit, amount
from usage.periods import period_start
from usage.prices import money
from usage.quotas import ScopeUsage, limit_scope, scope_usage

logger = logging.getLogger("qwen.usage.alerts")

EVENT = "budget.threshold"
USER_AGENT = "QwenImageStudio-Webhooks/1.0"


def _levels(limit_budget: int, threshold_percent: int) -> list[tuple[str, int]]:
    return [
        (BudgetAlert.Level.SOFT, limit_budget * threshold_percent // 100),
        (BudgetAlert.Level.CAP, limit_budget),
    ]


def _record(*, limit: Limit, spent: int, budget: int, threshold: int, started) -> list[int]:
    """Record each level `spent` has reached this period and not yet been told of."""
    created = []
    if budget <= 0:
        return created
    for level, reached_at in _levels(budget, threshold):
        if spent < reached_at:
            continue
        if BudgetAlert.objects.filter(limit=limit, level=level, period_start=started).exists():
            continue
        try:
            with transaction.atomic():  # a savepoint: a racing worker may have recorded it
                alert = BudgetAlert.objects.create(
                    limit=limit,
                    level=level,
                    period_start=started,
                    spent_micros=spent,
                    budget_micros=budget,
                )
        except IntegrityError:
            continue
        created.append(alert.pk)
        transaction.on_commit(
            lambda pk=alert.pk: signals.budget_alert_ready.send(sender=BudgetAlert, alert_pk=pk)
        )
    return created


def budget_alerts_after(usages: list[ScopeUsage], *, added_micros: int) -> list[int]:
    """Alerts for the scopes a new reservation of `added_micros` pushes over a threshold."""
    created = []
    for usage in usages:
        scope = usage.scope
        if scope.limit is None or scope.budget_micros is None or not added_micros:
            continue
        created += _record(
            limit=scope.limit,
            spent=usage.spent_micros + added_micros,
            budget=scope.budget_micros,
            threshold=scope.soft_threshold_percent,
            started=usage.period_start,
        )
    return created


def budget_alerts_check(
    *, user_id: int | None, team_id: int | None, api_key_id: int | None
) -> list[int]:
    """Alerts for the budgets of these scopes, from what they have spent now (after settling
    work that cost more than was reserved, or a correction)."""
    wanted = Q(pk__in=[])
    for name, value in (("user_id", user_id), ("team_id", team_id), ("api_key_id", api_key_id)):
        if value is not None:
            wanted |= Q(**{name: value})
    created = []
    rows = Limit.objects.filter(wanted, budget__isnull=False).select_related(
        "user", "team", "api_key"
    )
    for limit in rows:
        scope = limit_scope(limit)
        usage = scope_usage(scope)
        created += _record(
            limit=limit,
            spent=usage.spent_micros,
            budget=scope.budget_micros,
            threshold=scope.soft_threshold_percent,
            started=period_start(limit.budget_period, usage.now),
        )
    return created


# --- Sending --------------------------------------------------------------------------------


def _recipients(limit: Limit) -> list[str]:
    if limit.team_id:
        emails = Membership.objects.filter(
            team_id=limit.team_id, role__in=MANAGER_ROLES, user__is_active=True
        ).values_list("user__email", flat=True)
    else:
        user = limit.user if limit.user_id else limit.api_key.user
        emails = [user.email] if user.is_active else []
    return sorted({email for email in emails if email})


def _usage_url(limit: Limit) -> str:
    path = reverse("team-usage", args=[limit.team.public_id]) if limit.team_id else reverse("usage")
    return settings.SITE_URL + path


def alert_payload(alert: BudgetAlert) -> dict:
    limit = alert.limit
    scope = {"kind": limit.scope}
    if limit.team_id:
        scope.update(id=str(limit.team.public_id), name=limit.team.name)
    elif limit.api_key_id:
        scope.update(id=str(limit.api_key.public_id), name=limit.api_key.name)
    else:
        scope.update(name=limit.user.get_username())
    return {
        "event": EVENT,
        "level": alert.level,
        "scope": scope,
        "budget": {
            "amount": float(amount(alert.budget_micros)),
            "currency": settings.USAGE_CURRENCY,
            "period": limit.budget_period,
            "period_start": alert.period_start.isoformat(),
            "soft_threshold_percent": limit.soft_threshold_percent,
        },
        "spent": float(amount(alert.spent_micros)),
        "percent": round(100 * alert.spent_micros / max(1, alert.budget_micros), 1),
        "created_at": alert.created_at.isoformat(),
        "usage_url": _usage_url(limit),
    }


def signature(*, secret: str, timestamp: int, body: bytes) -> str:
    """Same scheme as the job webhooks: v1=<hex HMAC-SHA256 of "<timestamp>.<body>">."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return "v1=" + mac.hexdigest()


def _subject(alert: BudgetAlert, payload: dict) -> str:
    who = payload["scope"].get("name", "")
    what = {"team": f"Team {who}", "api_key": f"API key {who}", "user": "Your account"}[
        payload["scope"]["kind"]
    ]
    if alert.level == BudgetAlert.Level.CAP:
        return f"{what} has used its whole budget"
    return f"{what} has used {payload['percent']:g}% of its budget"


def alert_send(*, alert_pk: int) -> BudgetAlert | None:
    """E-mail the people responsible and post the webhook; safe to run twice (what was sent is
    recorded on the alert)."""
    alert = (
        BudgetAlert.objects.select_related("limit__team", "limit__user", "limit__api_key__user")
        .filter(pk=alert_pk)
        .first()
    )
    if alert is None:
        return None
    limit = alert.limit
    payload = alert_payload(alert)
    if alert.emailed_at is None:
        recipients = _recipients(limit)
        if recipients:
            period = "today" if limit.budget_period == "day" else "this month"
            body = (
                f"{_subject(alert, payload)}: {money(amount(alert.spent_micros))} of "
                f"{money(amount(alert.budget_micros))} {period}.\n\n"
                + (
                    "New submissions that would pass the budget are refused until the period "
                    "starts again.\n\n"
                    if alert.level == BudgetAlert.Level.CAP
                    else ""
                )
                + f"Usage and costs: {payload['usage_url']}\n"
            )
            send_mail(_subject(alert, payload), body, None, recipients)
        BudgetAlert.objects.filter(pk=alert.pk).update(emailed_at=timezone.now())
    if limit.alert_webhook_url and not alert.webhook_status.startswith("delivered"):
        status = _post(limit, payload)
        BudgetAlert.objects.filter(pk=alert.pk).update(webhook_status=status[:200])
        if not status.startswith(("delivered", "refused")):
            raise AlertNotDelivered(status)
    return alert


class AlertNotDelivered(Exception):
    """The webhook did not answer 2xx: the task retries."""


def _post(limit: Limit, payload: dict) -> str:
    try:
        url = webhook_url_check(limit.alert_webhook_url)
    except WebhookUrlRejected as exc:
        return f"refused: {exc}"
    body = json.dumps(payload, separators=(",", ":")).encode()
    stamp = int(time.time())
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Studio-Event": EVENT,
        "X-Studio-Timestamp": str(stamp),
        "X-Studio-Signature": signature(
            secret=limit.alert_webhook_secret, timestamp=stamp, body=body
        ),
    }
    try:
        response = httpx.post(
            url,
            content=body,
            headers=headers,
            timeout=settings.WEBHOOK_TIMEOUT_SECONDS,
            follow_redirects=False,
        )
    except httpx.HTTPError as exc:
        logger.warning("budget alert webhook failed: %s", type(exc).__name__)
        return f"error: {type(exc).__name__}"
    if 200 <= response.status_code < 300:
        return f"delivered: HTTP {response.status_code}"
    return f"error: HTTP {response.status_code}"
