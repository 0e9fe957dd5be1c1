"""Audit events of read calls written in batches by one thread, so a pull never waits for a write.

On SQLite every write waits for the one writer (an upload storing thousands of figures holds it for a
while); writing a pull's audit event in the request made pulls queue behind uploads. A read changes
nothing, so its event is queued here instead and written within ``interval`` seconds, many to a
transaction. Calls that change something keep recording in their own transaction (all or nothing).
"""

from __future__ import annotations

import logging
import queue
import threading
from typing import Any

from sqlalchemy import Engine
from sqlmodel import Session

from onereturn import audittrail

log = logging.getLogger(__name__)

#: Events kept for a later attempt while the store refuses them, at most; beyond, the oldest are logged and dropped.
BACKLOG = 100_000


class AuditBatcher:
    """Queue audit events and write them in batches from one thread; ``flush`` writes what is queued now."""

    def __init__(self, engine: Engine, *, interval: float = 0.25, batch: int = 1000) -> None:
        self.engine = engine
        self.interval = interval
        self.batch = batch
        self._queue: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self._pending: list[dict[str, Any]] = []
        self._write = threading.Lock()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="audit-batcher", daemon=True)
        self._thread.start()

    def put(self, values: dict[str, Any]) -> None:
        """Queue one event (the arguments of ``audittrail.record``, its instant included)."""
        self._queue.put(values)

    def flush(self) -> None:
        """Write every event queued so far (readers of the audit trail call this first)."""
        with self._write:
            while True:
                try:
                    self._pending.append(self._queue.get_nowait())
                except queue.Empty:
                    break
            if not self._pending:
                return
            start = 0
            try:
                for start in range(0, len(self._pending), self.batch):
                    with Session(self.engine) as session:
                        audittrail.record_many(session, self._pending[start : start + self.batch])
                        session.commit()
                self._pending.clear()
            except Exception:
                # The store is busy or away: keep the events for the next round rather than lose them.
                del self._pending[:start]
                if len(self._pending) > BACKLOG:
                    dropped = self._pending[: len(self._pending) - BACKLOG]
                    del self._pending[: len(dropped)]
                    log.error("dropped %d audit events the store would not take: %s", len(dropped), dropped[:3])
                log.exception("could not write %d audit events; trying again", len(self._pending))

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.flush()

    def close(self) -> None:
        """Stop the thread and write what is left."""
        self._stop.set()
        self._thread.join(timeout=10)
        self.flush()
