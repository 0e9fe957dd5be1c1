"""What the service's own helper processes (upload processes, the build process) share: they work in the
background of the API process that started them and never outlive it. The build process's executor, its setup
and its store are here too: the scheduler runs its rebuild job in it (``scheduler.py``)."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import queue
import signal
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from onereturn import db

log = logging.getLogger("scheduler")


def stop_on_signals(stop: Callable[[], None]) -> None:
    """Call ``stop`` once SIGTERM or SIGINT arrives, from a thread of its own rather than in the signal handler."""
    # A handler runs in the main thread between any two of its steps, also inside an Event's wait or set with the
    # Event's lock held: a handler that set the Event itself waited for that lock for ever (a scheduler sent SIGTERM
    # just as it began to wait never stopped). A SimpleQueue's put takes no lock a handler can find held.
    asked: queue.SimpleQueue[int] = queue.SimpleQueue()

    def stopper() -> None:
        signum = asked.get()
        log.info("stopping: %s received", signal.Signals(signum).name)
        stop()

    threading.Thread(target=stopper, name="stop-on-signal", daemon=True).start()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda signum, _frame: asked.put(signum))


def in_background(parent: int, busy: threading.Event | None = None, *, niceness: int) -> None:
    """Make this process a helper of ``parent``: signals left to the parent, a priority ``niceness`` below its
    own, and an exit once the parent is gone (after the work in hand when ``busy`` is set)."""
    # A Ctrl-C or SIGTERM sent to the process group is the parent's to act on; it stops its helpers itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    os.nice(niceness)
    threading.Thread(target=_outlive, args=(parent, busy), name="helper-parent", daemon=True).start()


def _outlive(parent: int, busy: threading.Event | None) -> None:
    # A pool's worker holds both ends of its own task queue, so it never sees the parent's end close.
    while True:
        time.sleep(1)
        if os.getppid() != parent and not (busy is not None and busy.is_set()):
            os._exit(0)


def build_process_started(parent: int, log_json: bool, niceness: int, preload: tuple[str, ...], slot: Any) -> None:
    """Set up the build process: the API's kind of log lines, a priority ``niceness`` lower, an exit when the API is
    gone, the ``preload`` modules read, and its process id in ``slot`` for the API process to stop it by."""
    from onereturn.logs import configure_logging
    from onereturn.memory import collector_off, freeze_startup_heap

    slot.value = os.getpid()
    configure_logging(as_json=log_json)
    # A build cut off by the API's end is rolled back with its connection; the next scheduler builds it again.
    in_background(parent, niceness=niceness)
    # The build path imported now, so the collector's full passes during builds skip it (and the first build
    # does not pay for the imports).
    with collector_off():
        for name in preload:
            importlib.import_module(name)
    freeze_startup_heap()


#: The build process's engines, by URL (one store, opened once for the life of the process).
_build_engines: dict[str, Engine] = {}


def builds_engine(url: str) -> Engine:
    """The build process's engine on the store at ``url``, made on first use."""
    engine = _build_engines.get(url)
    if engine is None:
        engine = _build_engines[url] = db.make_engine(url, threads=1)
    return engine


def build_executor(log_json: bool, niceness: int, preload: tuple[str, ...]) -> Any:
    """An APScheduler executor of one process of its own for the rebuild job, spawned at a priority ``niceness``
    lower with the ``preload`` modules read, whose shutdown stops that process at once, whatever it is building."""
    from concurrent.futures.process import BrokenProcessPool

    from apscheduler.executors.pool import ProcessPoolExecutor

    # Spawned, not forked: the API process runs threads (polars' among them) that a fork would copy mid-work.
    spawn = multiprocessing.get_context("spawn")
    slot = spawn.Value("i", 0, lock=False)

    class BuildExecutor(ProcessPoolExecutor):  # type: ignore[misc]  # apscheduler ships no types
        stopping = False

        def processes(self) -> list[multiprocessing.process.BaseProcess]:
            """The build process, while it runs (none before the first build)."""
            return [p for p in multiprocessing.active_children() if slot.value and p.pid == slot.value]

        def start(self, scheduler: Any, alias: str) -> None:
            super().start(scheduler, alias)
            # The one name of APScheduler's this relies on: its executor logs a job that ended in an error on the
            # logger "apscheduler.executors.<alias>" (tests/test_scheduler.py fails if that changes).
            self.said = logging.getLogger(f"apscheduler.executors.{alias}")
            self.said.addFilter(self.cut_off)

        def cut_off(self, record: logging.LogRecord) -> bool:
            """Say a build stopped with the service in a line of its own, not as an error with a traceback."""
            if self.stopping and record.exc_info and isinstance(record.exc_info[1], BrokenProcessPool):
                log.info("the build in hand was stopped with the service; the next start builds it again")
                return False
            return True

        def shutdown(self, wait: bool = True) -> None:
            # Waiting for the build in hand kept `serve` from stopping for over a minute on a busy host, where
            # the build process's lower priority gives it little of the cores. A build cut off is rolled back
            # with its connection and its return stays stale, so the next scheduler builds it again. A result is
            # one write of a few hundred bytes, so a kill never leaves half of one in the queue the pool reads.
            self.stopping = True
            for process in self.processes():
                process.kill()
            super().shutdown(wait)
            if wait:
                # The build's end is said by now: the pool's own thread reports it before its shutdown returns.
                self.said.removeFilter(self.cut_off)

    start = {"initializer": build_process_started, "initargs": (os.getpid(), log_json, niceness, preload, slot)}
    return BuildExecutor(1, pool_kwargs={"mp_context": spawn, **start})
