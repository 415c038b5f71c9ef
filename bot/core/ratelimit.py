"""A per-key sliding-window limit (reviews and hub posts per member): at most ``limit`` events in any
``window`` seconds. In memory: a restart forgets it, which errs on the side of the member."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable, Hashable


class SlidingWindow:
    def __init__(self, limit: int, window: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.limit = limit
        self.window = window
        self.clock = clock
        self._events: dict[Hashable, deque[float]] = {}

    def hit(self, key: Hashable) -> float:
        """Count one event for ``key`` and return 0, or return how many seconds to wait (counting
        nothing) when ``key`` has had ``limit`` events in the window already."""
        now = self.clock()
        events = self._events.setdefault(key, deque())
        while events and now - events[0] >= self.window:
            events.popleft()
        if len(events) >= self.limit:
            return self.window - (now - events[0])
        events.append(now)
        if len(self._events) > 10_000:  # forget members whose windows have all passed
            self._events = {k: v for k, v in self._events.items() if v and now - v[-1] < self.window}
        return 0.0
