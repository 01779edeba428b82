"""One waitset thread per participant: Cyclone events reach the event loop without listeners.

Python listeners run on Cyclone's threads and must take the GIL *while Cyclone holds the
entity's listener lock*; a loop thread that holds the GIL and writes to a local reader
(which invokes that reader's listener) then waits for that lock: a deadlock. So readers are
attached to a waitset instead, waited on by a thread calling Cyclone through ctypes (which
releases the GIL). When a reader triggers, the thread *takes* the triggering status flags
(``dds_take_status``: edge-triggered from then on) and hands them to the reader's callback,
which only schedules work on the loop.
"""

from __future__ import annotations

import ctypes as ct
import itertools
import logging
import threading
from collections.abc import Callable

from cyclonedds.internal import DDS

__all__ = ["WaitsetThread", "dll"]

log = logging.getLogger(__name__)

dll = DDS._dll_handle
dll.dds_create_waitset.restype = ct.c_int32
dll.dds_create_waitset.argtypes = [ct.c_int32]
dll.dds_waitset_attach.restype = ct.c_int32
dll.dds_waitset_attach.argtypes = [ct.c_int32, ct.c_int32, ct.c_ssize_t]
dll.dds_waitset_detach.restype = ct.c_int32
dll.dds_waitset_detach.argtypes = [ct.c_int32, ct.c_int32]
dll.dds_waitset_wait.restype = ct.c_int32
dll.dds_waitset_wait.argtypes = [ct.c_int32, ct.POINTER(ct.c_ssize_t), ct.c_size_t, ct.c_int64]
dll.dds_waitset_set_trigger.restype = ct.c_int32
dll.dds_waitset_set_trigger.argtypes = [ct.c_int32, ct.c_bool]
dll.dds_take_status.restype = ct.c_int32
dll.dds_take_status.argtypes = [ct.c_int32, ct.POINTER(ct.c_uint32), ct.c_uint32]
dll.dds_set_status_mask.restype = ct.c_int32
dll.dds_set_status_mask.argtypes = [ct.c_int32, ct.c_uint32]
dll.dds_delete.restype = ct.c_int32
dll.dds_delete.argtypes = [ct.c_int32]

#: Called on the waitset thread with the status flags taken from the entity.
StatusHandler = Callable[[int], None]

_WAIT_NS = 1_000_000_000
_SLOTS = 64


class WaitsetThread:
    """Waits on the attached readers of one participant and dispatches their events."""

    def __init__(self, participant: int, name: str = "rfos-dds-waitset") -> None:
        self._ws = dll.dds_create_waitset(participant)
        if self._ws < 0:
            raise RuntimeError(f"dds_create_waitset failed ({self._ws})")
        self._handlers: dict[int, tuple[int, int, StatusHandler]] = {}  #: key -> (entity, mask, handler)
        self._keys = itertools.count(1)
        self._closing = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()

    def attach(self, entity: int, mask: int, handler: StatusHandler) -> int:
        """Deliver ``entity``'s ``mask`` status changes to ``handler``; returns a key for :meth:`detach`."""
        key = next(self._keys)
        self._handlers[key] = (entity, mask, handler)
        dll.dds_set_status_mask(entity, mask)
        ret = dll.dds_waitset_attach(self._ws, entity, key)
        if ret < 0:
            del self._handlers[key]
            raise RuntimeError(f"dds_waitset_attach failed ({ret})")
        return key

    def detach(self, key: int) -> None:
        """Stop dispatching for ``key`` (call before deleting the entity)."""
        entry = self._handlers.pop(key, None)
        if entry is not None:
            dll.dds_waitset_detach(self._ws, entry[0])

    def close(self) -> None:
        """Stop the thread and delete the waitset; idempotent."""
        if self._closing:
            return
        self._closing = True
        dll.dds_waitset_set_trigger(self._ws, True)
        self._thread.join(5)
        dll.dds_delete(self._ws)

    def _stopped(self) -> bool:
        return self._closing

    def _run(self) -> None:
        triggered = (ct.c_ssize_t * _SLOTS)()
        status = ct.c_uint32()
        while True:
            count = dll.dds_waitset_wait(self._ws, triggered, _SLOTS, _WAIT_NS)
            if self._stopped():
                return
            if count < 0:
                log.error("dds_waitset_wait failed (%d); waitset thread stops", count)
                return
            for i in range(min(count, _SLOTS)):
                entry = self._handlers.get(triggered[i])
                if entry is None:
                    continue
                entity, mask, handler = entry
                status.value = 0
                if dll.dds_take_status(entity, ct.byref(status), mask) < 0 or not status.value:
                    continue
                try:
                    handler(status.value)
                except Exception:
                    log.exception("DDS status handler failed")
