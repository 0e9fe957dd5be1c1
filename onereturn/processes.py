"""What the service's own helper processes (upload processes, the build process) share: they work in the
background of the API process that started them and never outlive it."""

from __future__ import annotations

import os
import signal
import threading
import time

#: How much lower than the API's a helper process's CPU priority is (nice(2): 10 gives it about a tenth of a
#: core's share against a busy API process; none of it is lost when the cores are idle).
NICENESS = 10


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
