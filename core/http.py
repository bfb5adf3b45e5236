"""Request helpers shared by every app's views: content negotiation, safe redirects, 404s."""

from collections.abc import Callable
from typing import TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404
from django.utils.http import url_has_allowed_host_and_scheme

T = TypeVar("T")


def wants_json(request) -> bool:
    """The caller asked for JSON (fetch from the page's script) rather than a redirect."""
    return "application/json" in request.headers.get("Accept", "")


def safe_next(request, default: str) -> str:
    """The `next` target of a form or link when it stays on this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def get_or_404(lookup: Callable[[], T], message: str = "Not found.") -> T:
    """Run a scoped selector; a missing object (or a malformed id) is a 404, never a 403."""
    try:
        return lookup()
    except (ObjectDoesNotExist, ValidationError, ValueError):
        raise Http404(message) from None


class Gone(Exception):
    """Something that existed and is gone for good (a revoked or expired share link): a 410
    page saying why (config.middleware.GoneMiddleware renders it). `reason` is a short word
    the page keys on ("revoked", "expired"), `message` a sentence for people."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message
