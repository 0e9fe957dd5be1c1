"""A process's memory: the allocator polars uses (jemalloc) gives freed memory back within 100 ms, and the
collector is kept off what a process makes as it starts (held off while it imports, frozen once it has started).

By default jemalloc keeps freed pages for seconds before returning them, so a request that builds
and drops several large frames in a row holds all of them in resident memory at its peak. Set
before polars is first loaded (the command line, cli/__init__.py, imports this module first); an operator's own
``_RJEM_MALLOC_CONF`` wins.
"""

from __future__ import annotations

import ctypes
import gc
import os
from collections.abc import Iterator
from contextlib import contextmanager

#: Return freed pages within 100 ms, so peaks are close to what is live. Returned at once (0), every
#: frame polars frees and the next one it makes cost the kernel a fresh page each: a million-figure
#: upload took 6.2 s against 5.3 s at 100 ms, for a peak 27 MiB higher (860 MiB against 833).
#: (``./run`` exports the same setting for every command: measured, a setting made here alone did
#: not reach the allocator of a served process.)
JEMALLOC_CONF = "dirty_decay_ms:100,muzzy_decay_ms:0"

os.environ.setdefault("_RJEM_MALLOC_CONF", JEMALLOC_CONF)


def release_memory() -> None:
    """Hand the C heap's free pages back to the system (glibc keeps them after a large request otherwise)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:  # not glibc: nothing to trim
        return
    libc.malloc_trim(0)


@contextmanager
def collector_off() -> Iterator[None]:
    """Hold the collector off for a block that makes many objects that outlive it and no garbage.

    Such a block is a process importing what it runs with, or a parsed XML tree (an element holds no reference back
    to its parent, so the tree makes no cycle to collect). The collector, running as the objects were made, walked
    them all again each time. Measured (user and system CPU, mean of seven): importing the API 2.52 s against 2.00 s
    held off, an upload process's imports 1.54 s against 1.18 s; a CIN census of 10,000 children parsed in a process
    that has imported the service, 0.56-0.62 s against 0.11 s. It runs again, as it did, once the block ends; what
    the block left that is garbage is collected then. Threads share the switch: a block holds it off for the
    others too, and the block that found it on turns it back on as it ends, another block running or not.
    """
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def freeze_startup_heap() -> None:
    """Move what a process made as it started into the collector's permanent generation, never scanned again.

    Every full collection walks each tracked object: the modules, the ORM's mappings and the catalogue
    read at the start made a return's build, whose frames and cells set off three full collections,
    spend 0.39 s of 1.8 s in them (0.04 s frozen). Called once the process has started; what it
    makes afterwards is collected as before.
    """
    gc.collect()
    gc.freeze()


def thaw_startup_heap() -> None:
    """Give what :func:`freeze_startup_heap` froze back to the collector, and collect, as a process stops.

    A frozen object is never collected. The pools and queues a process made as it started hold
    named semaphores, which multiprocessing unlinks when they are collected or at exit; but
    ``serve`` ends by the signal it was sent (uvicorn raises it again once shut down), which runs no
    exit handlers, so whatever was still frozen in a reference cycle was left for the resource
    tracker to report as leaked.
    """
    gc.unfreeze()
    gc.collect()
