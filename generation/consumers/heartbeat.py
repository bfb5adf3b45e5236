"""A consumer says what it serves when it starts, then every HEARTBEAT seconds that it lives.

One heartbeat thread per process and queue; it writes its row and closes its database
connection each time (a thread's connection is its own). A consumer that stopped cleanly
says so; one that was killed simply stops beating and counts as gone after ALIVE_FOR.
"""

import logging
import os
import socket
import threading

from django.conf import settings
from django.db import close_old_connections, connection
from django.utils import timezone

from generation.consumers.models import Worker
from generation.queues import backends_of

logger = logging.getLogger(__name__)


def alive_for() -> float:
    """Seconds after its last beat that a consumer still counts as alive."""
    return 3 * settings.WORKER_HEARTBEAT_SECONDS + 5


class Heartbeat:
    def __init__(self, *, queue: str, device: str = "", state: str, note: str = "") -> None:
        self.queue = queue
        self.name = f"{socket.gethostname()}:{os.getpid()}:{queue}"
        self.fields = {
            "hostname": socket.gethostname()[:200],
            "pid": os.getpid(),
            "queue": queue,
            "backends": ",".join(backends_of(queue)),
            "device": device[:200],
            "state": state,
            "note": note,
        }
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> "Heartbeat":
        now = timezone.now()
        Worker.objects.update_or_create(
            name=self.name, defaults={**self.fields, "started_at": now, "last_seen_at": now}
        )
        logger.info(
            "consumer %s serves %s (%s)", self.name, self.fields["backends"], self.fields["state"]
        )
        self._thread = threading.Thread(
            target=self._run, name=f"heartbeat-{self.queue}", daemon=True
        )
        self._thread.start()
        return self

    def update(self, *, state: str, note: str | None = None) -> None:
        self.fields["state"] = state
        if note is not None:
            self.fields["note"] = note
        self._write()

    def stop(self) -> None:
        self._stop.set()
        self.fields["state"] = Worker.State.STOPPED
        self._write()

    def _write(self) -> None:
        now = timezone.now()
        try:
            updated = Worker.objects.filter(name=self.name).update(**self.fields, last_seen_at=now)
            if not updated:  # the row went (deleted in the admin, a restored database): again
                Worker.objects.create(
                    name=self.name, **self.fields, started_at=now, last_seen_at=now
                )
        except Exception:  # a database hiccup must not stop the consumer; the next beat retries
            logger.exception("consumer heartbeat failed")

    def _run(self) -> None:
        while not self._stop.wait(settings.WORKER_HEARTBEAT_SECONDS):
            close_old_connections()
            self._write()
            connection.close()  # this thread's own connection, not the workers'


_started: dict[str, Heartbeat] = {}
_lock = threading.Lock()


def heartbeat_once(*, queue: str, device: str = "", state: str = Worker.State.READY) -> Heartbeat:
    """Start this process's heartbeat for `queue` unless it runs already (Huey calls its
    startup hooks once per worker thread)."""
    with _lock:
        beat = _started.get(queue)
        if beat is None or beat.fields["pid"] != os.getpid():
            beat = _started[queue] = Heartbeat(queue=queue, device=device, state=state).start()
        return beat


def heartbeat_stop(*, queue: str) -> None:
    with _lock:
        beat = _started.pop(queue, None)
    if beat is not None:
        beat.stop()
