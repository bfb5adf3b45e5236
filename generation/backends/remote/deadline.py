"""The wall-clock budget of one remote call, shared by its request and its image downloads
(httpx's read timeout applies per chunk, so a trickling answer needs its own deadline)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import httpx

from generation.backends.remote.errors import budget_spent


class Deadline:
    """A call's wall-clock budget, shared by its request and its downloads."""

    def __init__(
        self,
        seconds: float,
        stop: threading.Event,
        *,
        connect_timeout: float,
        read_timeout: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.seconds = seconds
        self.stop = stop
        self.connect_timeout = connect_timeout
        self.read_timeout = read_timeout
        self.clock = clock
        self.expires = clock() + seconds

    def remaining(self) -> float:
        return self.expires - self.clock()

    def check(self) -> None:
        if self.stop.is_set():
            raise Stopped()
        if self.remaining() <= 0:
            raise budget_spent(self.seconds)

    def timeout(self) -> httpx.Timeout:
        """The client's timeouts, none longer than what is left of the budget."""
        left = max(0.001, self.remaining())
        return httpx.Timeout(
            connect=min(self.connect_timeout, left),
            read=min(self.read_timeout, left),
            write=min(self.connect_timeout, left),
            pool=min(self.connect_timeout, left),
        )


class Stopped(Exception):
    """Another image of the same job failed, or the job was canceled: stop this call."""
