"""Who holds a local device: one job at a time, and which pipelines stay loaded on it.

One `DeviceSlot` per device per process, shared by the text-to-image backend (local.py) and
the edit pipelines (local_edit.py): its lock runs one job at a time on the device, and before a
pipeline loads it asks the slot to make room. Unless the operator says both fit
(QWEN_IMAGE_LOCAL_KEEP_BOTH=yes), or the device has room for the newcomer beside what is
loaded ("auto", the default), the other pipeline is unloaded first, so a small GPU never holds
two ~58 GB models.

The same shape as the slot of the local backend's package on the localgpu branch
(generation/backends/local/device.py: `slot_for`, `DeviceSlot.lock`, `make_room`, `forget`,
`Resident.unload`): when both meet, this module gives way to that one.
"""

from __future__ import annotations

import logging
import threading
from typing import Protocol

from django.conf import settings

logger = logging.getLogger(__name__)


class Resident(Protocol):
    name: str

    def unload(self) -> None: ...


class DeviceSlot:
    def __init__(self, key: str) -> None:
        self.key = key
        self.lock = threading.Lock()  # held for the whole of one job on this device
        self._residents: list[Resident] = []

    @property
    def residents(self) -> list[Resident]:
        return list(self._residents)

    def make_room(self, newcomer: Resident, *, fits: bool | None = None) -> None:
        """Unload every other resident before `newcomer` loads, unless they may stay: the
        operator said so (KEEP_BOTH=yes), or "auto" and `fits` (the caller measured that the
        newcomer fits beside them). Call it holding `lock`."""
        policy = (settings.QWEN_IMAGE_LOCAL_KEEP_BOTH or "auto").strip().lower()
        keep = policy in ("yes", "true", "1") or (policy == "auto" and bool(fits))
        if not keep:
            for other in [r for r in self._residents if r is not newcomer]:
                logger.info(
                    "unloading %s from %s to make room for %s", other.name, self.key, newcomer.name
                )
                other.unload()
                self.forget(other)
        if newcomer not in self._residents:
            self._residents.append(newcomer)

    def forget(self, resident: Resident) -> None:
        if resident in self._residents:
            self._residents.remove(resident)


_slots: dict[str, DeviceSlot] = {}
_slots_lock = threading.Lock()


def slot_for(device: object) -> DeviceSlot:
    """The process-wide slot of a device: "cuda:0", "cpu", or "" (the setting left empty)."""
    key = str(device or "") or "default"
    with _slots_lock:
        if key not in _slots:
            _slots[key] = DeviceSlot(key)
        return _slots[key]
