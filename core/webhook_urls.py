"""Where outgoing webhooks may go: the WEBHOOK_ALLOWED_HOSTS rule, one for every app (job
webhooks in generation/webhooks.py, budget alerts in usage/alerts.py and its admin form).

The URL is parsed by httpx, the client that sends to it, so what is checked is what is used.
"""

import re

import httpx
from django.conf import settings


class WebhookUrlRejected(ValueError):
    pass


# --- Where webhooks may go ------------------------------------------------------------------


_PORT = r"(?:[1-9][0-9]{0,3}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5])"
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_PATH = r"(?:/[A-Za-z0-9._~!$&'()*+,;=:@/%-]*)?(?:\?[A-Za-z0-9._~!$&'()*+,;=:@/?%-]*)?"


def webhook_url_pattern() -> str:
    """The whole rule for a webhook_url as one regular expression (the OpenAPI document
    states it; webhook_url_check enforces it): http or https, a host WEBHOOK_ALLOWED_HOSTS
    names (lower case), the port an entry names (else any valid one), a path and query of
    plain URL characters; no credentials, spaces, control characters or fragment. Empty
    when webhooks are off."""
    hosts = []
    for entry in settings.WEBHOOK_ALLOWED_HOSTS:
        entry = entry.strip().lower()
        if not entry:
            continue
        host, _, port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        if host.startswith("*."):
            name = rf"(?:{_LABEL}\.)+{re.escape(host[2:])}"
        else:
            name = re.escape(host)
        hosts.append(name + (rf":{re.escape(port)}" if port else rf"(?::{_PORT})?"))
    if not hosts:
        return ""
    return rf"^https?://(?:{'|'.join(hosts)}){_PATH}$"


def webhook_url_check(url: str) -> str:
    """The URL if WEBHOOK_ALLOWED_HOSTS permits it, else WebhookUrlRejected with the reason.

    First the documented rule (webhook_url_pattern), then the URL is parsed by httpx, the
    client that will send to it, so that what is checked here is what is used: anything
    httpx refuses (control characters, bad ports …) or would read differently from another
    parser is refused at submission, never at delivery.
    """
    url = url or ""
    if len(url) > 2000:
        raise WebhookUrlRejected("webhook_url is too long (at most 2000 characters).")
    if any(ch.isspace() or not ch.isprintable() for ch in url):
        raise WebhookUrlRejected("webhook_url must not contain spaces or control characters.")
    try:
        parts = httpx.URL(url)
        port = parts.port
        httpx.Request("POST", parts)
    except (httpx.InvalidURL, ValueError, TypeError, UnicodeError):
        raise WebhookUrlRejected("webhook_url is not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.host:
        raise WebhookUrlRejected("webhook_url must be an http:// or https:// URL.")
    if parts.userinfo:
        raise WebhookUrlRejected("webhook_url must not contain credentials.")
    if port is not None and not 0 < port < 65536:
        raise WebhookUrlRejected("webhook_url has an invalid port.")
    if not host_allowed(parts.host, port, settings.WEBHOOK_ALLOWED_HOSTS):
        if not settings.WEBHOOK_ALLOWED_HOSTS:
            raise WebhookUrlRejected(
                "Webhooks are disabled on this portal (WEBHOOK_ALLOWED_HOSTS is empty)."
            )
        raise WebhookUrlRejected(
            f"Host {parts.host!r} is not allowed for webhooks; ask an operator to add it "
            "to WEBHOOK_ALLOWED_HOSTS."
        )
    if not re.fullmatch(webhook_url_pattern(), url):
        raise WebhookUrlRejected(
            "webhook_url must be an http(s) URL on a host WEBHOOK_ALLOWED_HOSTS names (in "
            "lower case), without credentials or fragment, its path and query in plain URL "
            "characters."
        )
    return url


def host_allowed(hostname: str, port: int | None, allowed: list[str]) -> bool:
    """Entries: "host", "host:port" (that port only) or "*.domain" (its subdomains)."""
    hostname = hostname.lower().rstrip(".")
    for entry in allowed:
        entry = entry.strip().lower()
        host, _, entry_port = entry.rpartition(":") if _has_port(entry) else (entry, "", "")
        host = host.strip("[]")
        if entry_port and str(port or "") != entry_port:
            continue
        if host.startswith("*.") and hostname.endswith(host[1:]):
            return True
        if host == hostname:
            return True
    return False


def _has_port(entry: str) -> bool:
    if entry.startswith("["):  # [::1]:8000
        return "]:" in entry
    return entry.count(":") == 1
