"""Slow down guessing: after a few failed keys from one client address, refuse its failing tries for a while.

The count is kept in memory, per process: with several API workers each counts on its own, so
an address gets up to ``failures`` tries per worker and window. That is enough to make guessing
a 256-bit key hopeless while letting a person who mistyped a key try again a minute later.

Only the failing tries are refused: a valid key from the same address (a council's shared address, a
proxy) is let through, held only by its own throttle (:class:`KeyPace`), so one person's mistyped key
never locks out everyone behind the address. A guess that happened to be right would get through too,
but against a 256-bit key no guess is.
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable

#: How long a failing try from an address that is held back waits before its refusal: a script that ignores
#: Retry-After gets one refusal per half second per connection, not as many as the server can answer.
HELD_DELAY = 0.5


class KeyThrottle:
    """Count failed keys per client address over a sliding window."""

    def __init__(
        self,
        failures: int = 5,
        window: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 100_000,
    ) -> None:
        self.failures = failures
        self.window = window
        self.clock = clock
        self.max_clients = max_clients
        self._seen: OrderedDict[str, deque[float]] = OrderedDict()
        self._noted: dict[str, float] = {}
        self._lock = threading.Lock()

    def _recent(self, client: str, now: float) -> deque[float]:
        times = self._seen.get(client)
        if times is None:
            return deque()
        while times and times[0] <= now - self.window:
            times.popleft()
        if not times:
            del self._seen[client]
        return times

    def retry_after(self, client: str) -> int:
        """Return how many seconds the client must wait before its next try (0: it may try now)."""
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            if len(times) < self.failures:
                return 0
            return max(1, math.ceil(times[-self.failures] + self.window - now))

    def first_refusal(self, client: str) -> bool:
        """Say whether this is the first refusal of the client's current hold (only that one is audited)."""
        with self._lock:
            times = self._seen.get(client)
            if not times or len(times) < self.failures:
                return True
            start = times[-self.failures]
            if self._noted.get(client) == start:
                return False
            self._noted[client] = start
            if len(self._noted) > self.max_clients:
                self._noted.pop(next(iter(self._noted)))
            return True

    def failed(self, client: str) -> None:
        """Count one failed key from the client."""
        with self._lock:
            now = self.clock()
            times = self._recent(client, now)
            times.append(now)
            self._seen[client] = times
            self._seen.move_to_end(client)
            # Bounded memory: a flood of addresses forgets the longest quiet ones first.
            while len(self._seen) > self.max_clients:
                self._seen.popitem(last=False)


class KeyPace:
    """Count each valid key's requests over a sliding window; past ``limit`` the key waits (its own throttle only).

    Generous on purpose: a person, a council's scheduled pull or a regulator's client never comes near it (the
    benchmarks' busiest key made about 130 requests a second); a runaway loop is told to slow down.
    """

    def __init__(
        self,
        limit: int = 3000,
        window: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
        max_keys: int = 100_000,
    ) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self.max_keys = max_keys
        self._seen: OrderedDict[int, deque[float]] = OrderedDict()
        self._lock = threading.Lock()

    def admit(self, key_id: int) -> int:
        """Count one request of the key; return 0 to let it through, else the seconds it must wait (not counted)."""
        with self._lock:
            now = self.clock()
            times = self._seen.get(key_id) or deque()
            while times and times[0] <= now - self.window:
                times.popleft()
            if len(times) >= self.limit:
                return max(1, math.ceil(times[-self.limit] + self.window - now))
            times.append(now)
            self._seen[key_id] = times
            self._seen.move_to_end(key_id)
            while len(self._seen) > self.max_keys:
                self._seen.popitem(last=False)
            return 0
