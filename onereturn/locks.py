"""The one-active-scheduler lock: a PostgreSQL session advisory lock held on a connection of its own, checked
before each job run and on every heartbeat, and taken again as a standby would when it is lost. (The other
advisory locks are transaction locks keyed by ``onereturn.db.advisory_key``: a store's figures, a build.)

The lock lives as long as its connection: a connection ended by the server (a failover, an idle reaper, an
operator's ``pg_terminate_backend``) takes the lock with it, and a standby takes it at once. A scheduler that
went on running jobs then was a second active scheduler; this one checks before every run instead.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError
from sqlmodel import Session

from onereturn.jobs import STOP, drain, holder_name, log
from onereturn.models import SchedulerHeartbeat

#: Any fixed number both processes agree on; it names the "one active scheduler" lock.
LOCK_KEY = 0x0E7E7A11
#: PostgreSQL's state for a lock not granted within lock_timeout.
_WAITED_OUT = "55P03"
#: Whether this session holds the lock: pg_locks names a bigint advisory key by its two halves, objsubid 1.
_HELD = text(
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND pid = pg_backend_pid() "
    "AND classid = :high AND objid = :low AND objsubid = 1 AND granted)"
)


class SchedulerLock:
    """The lock, its connection, and whether it is still held (SQLite needs none: one process has the file)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self._connection: Connection | None = None
        # The connection is used by the job threads (each checks before it runs) and the heartbeat alike.
        self._guard = threading.Lock()

    def take(self, *, wait: bool, stop: threading.Event | None = None, every: float = 1.0) -> bool:
        """Take the lock: at once or not at all, or (``wait``) waiting in the lock's queue, ``every`` seconds at a
        time, until ``stop`` is set."""
        if not self.postgres:
            return True
        stop = stop or threading.Event()
        if wait:
            log.info("waiting to become the active scheduler")
        while True:
            taken = self._try(every if wait else 0.0)
            if taken:
                return True
            if not wait or stop.is_set() or (taken is None and stop.wait(every)):
                return False

    def _try(self, seconds: float) -> bool | None:
        """Ask for the lock, waiting up to ``seconds`` in its queue; None when the store could not be asked."""
        with self._guard:
            self._close()
            try:
                # A session-level lock on an autocommit connection: holding it keeps no transaction open, so VACUUM
                # is never held back by the scheduler ("idle in transaction" for the life of the process).
                connection = self.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
            except Exception:
                log.warning("could not reach the store to ask for the scheduler lock", exc_info=True)
                return None
            try:
                if seconds:
                    # Waiting in the lock's queue (not asking now and then), so a standby that has waited takes the
                    # lock the moment it is free, ahead of a scheduler that has just lost it and asks again.
                    connection.execute(text(f"SET lock_timeout = {int(seconds * 1000)}"))
                    connection.execute(text("SELECT pg_advisory_lock(:k)"), {"k": LOCK_KEY})
                    connection.execute(text("SET lock_timeout = 0"))
                    taken = True
                else:
                    taken = bool(connection.execute(text("SELECT pg_try_advisory_lock(:k)"), {"k": LOCK_KEY}).scalar())
            except OperationalError as exc:
                connection.close()
                if getattr(exc.orig, "sqlstate", None) == _WAITED_OUT:
                    return False
                log.warning("could not ask for the scheduler lock", exc_info=True)
                return None
            if not taken:
                connection.close()
                return False
            self._connection = connection
            return True

    def held(self) -> bool:
        """Whether this process still holds the lock, asked on the lock's own connection (False if it is gone)."""
        if not self.postgres:
            return True
        with self._guard:
            return self._held()

    def _held(self) -> bool:
        if self._connection is None:
            return False
        try:
            found = self._connection.execute(_HELD, {"high": LOCK_KEY >> 32, "low": LOCK_KEY & 0xFFFFFFFF}).scalar()
        except Exception as exc:
            said = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            log.warning("the scheduler lock's connection is gone (%s): the lock is lost", said)
            return False
        return bool(found)

    def beat(self) -> bool:
        """Record a heartbeat, on the lock's own connection while it holds the lock; False (nothing written) if not."""
        with self._guard, self._bind() as bind:
            if bind is None:
                return False
            now = datetime.now(UTC)
            with Session(bind=bind) as session:
                beat = session.get(SchedulerHeartbeat, holder_name())
                if beat is None:
                    session.add(SchedulerHeartbeat(holder=holder_name(), active_since=now, beat_at=now))
                else:
                    beat.beat_at = now
                session.commit()
            return True

    @contextmanager
    def _bind(self) -> Iterator[Any]:
        if not self.postgres:
            yield self.engine
        elif self._held():
            # The write cannot outlive the lock: were the connection ended now, the write would fail with it.
            yield self._connection
        else:
            yield None

    def release(self) -> None:
        """Give the lock back (by closing its connection)."""
        with self._guard:
            self._close()

    def _close(self) -> None:
        if self._connection is not None:
            try:
                self._connection.close()
            except Exception:
                log.debug("closing the lost lock's connection failed", exc_info=True)
            self._connection = None


def acquire_lock(engine: Engine, *, wait: bool, stop: threading.Event | None = None) -> SchedulerLock | None:
    """Take the one-active-scheduler lock (waiting for it until ``stop``, with ``wait``); None if not taken."""
    lock = SchedulerLock(engine)
    return lock if lock.take(wait=wait, stop=stop) else None


class Keeper:
    """Keeps a scheduler to its lock: asked before each job run, it stops every run once the lock is lost, lets the
    jobs in hand end within ``drain_seconds``, then takes the lock again as a standby would and ``resume``s."""

    def __init__(
        self,
        lock: SchedulerLock,
        scheduler: Any,
        *,
        drain_seconds: float,
        signalled: threading.Event,
        resume: Callable[[], None],
    ) -> None:
        self.lock, self.scheduler, self.drain_seconds = lock, scheduler, drain_seconds
        self.signalled, self.resume = signalled, resume
        self._guard = threading.Lock()
        self._standing_by: threading.Thread | None = None
        #: Cleared from the moment the lock is found lost until it is held again.
        self._active = threading.Event()
        self._active.set()

    def check(self) -> bool:
        """Whether a job may run now: the lock is held and no take-over is under way."""
        if not self._active.is_set():
            return False
        if self.lock.held():
            return True
        self.lost()
        return False

    def lost(self) -> None:
        """Stop every run at once and stand by for the lock (once, however many jobs found it lost)."""
        with self._guard:
            if self._standing_by is not None:
                return
            # Cleared before the runs are stopped, so a job asking meanwhile is refused.
            self._active.clear()
            self._standing_by = threading.Thread(target=self._stand_by, name="scheduler-standby", daemon=True)
        log.warning("%s lost the scheduler lock: it runs no job until it holds the lock again", holder_name())
        self._standing_by.start()

    def _stand_by(self) -> None:
        try:
            self.scheduler.pause()
            # The flag a stop sets: the jobs in hand end at their next check (a rebuild after its return in hand).
            STOP.set()
            left = drain(self.drain_seconds)
            if left:
                log.warning(
                    "job(s) still running after %.0f s without the lock: %s", self.drain_seconds, ", ".join(left)
                )
            while not self.signalled.is_set():
                self.lock.release()
                try:
                    if not self.lock.take(wait=True, stop=self.signalled):
                        return
                    STOP.clear()
                    self._active.set()
                    self.resume()
                    log.info("%s is the active scheduler again", holder_name())
                    return
                except Exception:
                    # The store is still out of reach: stand by again, the runs still stopped.
                    self._active.clear()
                    STOP.set()
                    log.warning("taking the scheduler back failed; standing by again", exc_info=True)
                    self.signalled.wait(1.0)
        finally:
            with self._guard:
                self._standing_by = None
