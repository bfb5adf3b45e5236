"""Which hosts outgoing webhooks may reach: the WEBHOOK_ALLOWED_HOSTS rules, for every app.

(generation/webhooks.py holds the same rules for job webhooks; this copy lets usage/ check its
budget-alert webhooks without importing generation.)
"""

from urllib.parse import urlsplit

from django.conf import settings


class HostNotAllowed(ValueError):
    pass


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


def webhook_url_allowed(url: str) -> str:
    """The URL if WEBHOOK_ALLOWED_HOSTS permits it, else HostNotAllowed with the reason."""
    url = (url or "").strip()
    if len(url) > 2000:
        raise HostNotAllowed("The URL is too long (at most 2000 characters).")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise HostNotAllowed("Not a valid URL.") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HostNotAllowed("Use an http:// or https:// URL.")
    if parts.username or parts.password:
        raise HostNotAllowed("The URL must not contain credentials.")
    if not host_allowed(parts.hostname, port, settings.WEBHOOK_ALLOWED_HOSTS):
        if not settings.WEBHOOK_ALLOWED_HOSTS:
            raise HostNotAllowed("Webhooks are disabled here (WEBHOOK_ALLOWED_HOSTS is empty).")
        raise HostNotAllowed(
            f"Host {parts.hostname!r} is not in WEBHOOK_ALLOWED_HOSTS; ask an operator to add it."
        )
    return url
