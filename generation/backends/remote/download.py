"""The download guard: where an image URL may be fetched from, and how much of it is read.

Image URLs are fetched only from allowed origins (the API base's own origin plus
QWEN_IMAGE_DOWNLOAD_ORIGINS, exact scheme, host and port); any other URL, a private, loopback
or link-local address above all, is refused without connecting. Redirects are followed by hand,
each hop checked again, at most MAX_REDIRECTS of them. Every body, the generation call's JSON
included, is read under a byte cap and the call's deadline, as it arrives.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpx

from generation.backends.base import BackendError
from generation.backends.remote.deadline import Deadline
from generation.backends.remote.errors import refused, too_large, transport_errors

MAX_REDIRECTS = 3
IMAGE_TYPES = ("image/", "application/octet-stream", "binary/octet-stream")


@dataclass(frozen=True)
class Origin:
    scheme: str
    host: str
    port: int

    def __str__(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{self.scheme}://{host}:{self.port}"


def origin_of(url: str) -> Origin | None:
    """scheme, lower-cased host and explicit port of an http(s) URL; None if it has none."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return None
    return Origin(scheme, parts.hostname.lower(), port or (443 if scheme == "https" else 80))


def _literal_ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        return None


def _is_internal(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


class DownloadGuard:
    """The allowed origins and the byte cap of one backend."""

    def __init__(
        self, *, api_origin: Origin | None, allowed_origins: set[Origin], max_bytes: int
    ) -> None:
        self.api_origin = api_origin
        self.allowed_origins = allowed_origins
        self.max_bytes = max_bytes

    def check(self, url: str) -> Origin:
        """The URL's origin if we may fetch it; BackendError(download_refused) otherwise."""
        origin = origin_of(url)
        if origin is None:
            raise refused("The image service sent an image address that is not http(s).")
        if urlsplit(url).username is not None:
            raise refused("The image service sent an image address with credentials in it.")
        if origin in self.allowed_origins:
            return origin
        ip = _literal_ip(origin.host)
        if ip is not None and _is_internal(ip):
            raise refused(
                f"The image service sent an image address on a private or local network "
                f"({origin}); refused."
            )
        raise refused(
            f"The image service sent an image address outside the allowed origins ({origin}). "
            "An operator can allow it with QWEN_IMAGE_DOWNLOAD_ORIGINS."
        )

    def fetch(self, client: httpx.Client, url: str, deadline: Deadline, *, api_key: str) -> bytes:
        """The image at `url`, each redirect hop checked like the first address."""
        for _hop in range(MAX_REDIRECTS + 1):
            origin = self.check(url)
            headers = {"Accept": "image/*"}
            if origin == self.api_origin:  # the key goes to the API's own origin only
                headers["Authorization"] = f"Bearer {api_key}"
            deadline.check()
            with (
                transport_errors(what="the image download"),
                client.stream("GET", url, headers=headers, timeout=deadline.timeout()) as response,
            ):
                if response.is_redirect:
                    location = response.headers.get("location", "")
                    url = urljoin(url, location)
                    continue
                if response.status_code != 200:
                    raise BackendError(
                        f"Downloading the image failed with HTTP {response.status_code}.",
                        code="download_failed",
                        retryable=True,
                        status=response.status_code,
                    )
                content_type = response.headers.get("content-type", "").lower()
                if content_type and not content_type.startswith(IMAGE_TYPES):
                    raise BackendError(
                        "The image address answered with "
                        f"{content_type.split(';')[0]} instead of an image.",
                        code="download_failed",
                        retryable=True,
                    )
                return self.read(response, deadline, limit=self.max_bytes)
        raise refused(f"The image address redirected more than {MAX_REDIRECTS} times.")

    def read(
        self, response: httpx.Response, deadline: Deadline, *, limit: int, truncate: bool = False
    ) -> bytes:
        """The body, streamed under the byte cap and the call's deadline (`truncate`: keep the
        first `limit` bytes instead of refusing a longer body)."""
        declared = response.headers.get("content-length")
        if not truncate and declared and declared.isdigit() and int(declared) > limit:
            raise too_large(self.max_bytes)
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():  # as they arrive: a chunk size would buffer
            deadline.check()
            size += len(chunk)
            if size > limit:
                if truncate:
                    chunks.append(chunk[: limit - (size - len(chunk))])
                    break
                raise too_large(self.max_bytes)
            chunks.append(chunk)
        deadline.check()
        return b"".join(chunks)
