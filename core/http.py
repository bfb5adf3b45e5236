"""Request helpers shared by every app's views: content negotiation, safe redirects, 404s."""

import re
import uuid
from collections.abc import Callable
from typing import Annotated, TypeVar

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.http import Http404
from django.utils.http import url_has_allowed_host_and_scheme
from pydantic import BeforeValidator, Field

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


_UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def canonical_uuid(value):
    """A UUID in its canonical 8-4-4-4-12 spelling (JSON Schema's "uuid" format) only: no
    braces, URNs or hyphen-less forms, which Python's UUID() would also take."""
    if isinstance(value, uuid.UUID):
        return value
    if not isinstance(value, str) or not _UUID.match(value):
        raise ValueError("Use a UUID like 123e4567-e89b-12d3-a456-426614174000.")
    return uuid.UUID(value)


CanonicalUUID = Annotated[uuid.UUID, BeforeValidator(canonical_uuid)]


def json_integer(value):
    """A JSON Schema "integer": an int, or a number with no fraction (4602.0 is 4602); never
    a boolean or a string, which pydantic's lax mode would also take."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("Input should be an integer.")
    if isinstance(value, float):
        if not value.is_integer():
            raise ValueError("Input should be an integer.")
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(json_integer)]


def json_int(**constraints):
    """JsonInt with limits (ge, le …) that the OpenAPI document shows: the limits go before
    the validator, or pydantic would write them as unknown keywords."""
    return Annotated[int, Field(**constraints), BeforeValidator(json_integer)]
