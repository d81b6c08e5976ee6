"""Sliding-window rate limits, one set per key (a client, a user), for outgoing and incoming requests."""
from __future__ import annotations

import threading
from collections import deque
from typing import Callable, Iterable


class SlidingWindow:
    """At most `limit` events in any `period` seconds. `wait()` says how long until one more fits."""

    def __init__(self, limit: int, period: float, clock: Callable[[], float]) -> None:
        self.limit, self.period, self.clock = limit, period, clock
        self.events: deque[float] = deque()

    def _trim(self, now: float) -> None:
        while self.events and now - self.events[0] >= self.period:
            self.events.popleft()

    def wait(self) -> float:
        now = self.clock()
        self._trim(now)
        if len(self.events) < self.limit:
            return 0.0
        return max(self.events[0] + self.period - now, 0.001)

    def add(self) -> None:
        self.events.append(self.clock())


class KeyedLimits:
    """Several sliding windows (e.g. per second and per minute), one set per key. Thread-safe."""

    def __init__(self, limits: Iterable[tuple[int, float]], clock: Callable[[], float]) -> None:
        self.limits, self.clock = tuple(limits), clock
        self._windows: dict[str, list[SlidingWindow]] = {}
        self._lock = threading.Lock()

    def _for(self, key: str) -> list[SlidingWindow]:
        if key not in self._windows:
            if len(self._windows) > 10_000:  # forget idle keys
                self._windows = {k: w for k, w in self._windows.items() if any(x.wait() or x.events for x in w)}
            self._windows[key] = [SlidingWindow(n, p, self.clock) for n, p in self.limits]
        return self._windows[key]

    def wait(self, key: str = "") -> float:
        """Seconds until one more request fits (0: now)."""
        with self._lock:
            return max(w.wait() for w in self._for(key))

    def record(self, key: str = "") -> None:
        with self._lock:
            for w in self._for(key):
                w.add()

    def release(self, key: str = "") -> None:
        """Forget the last recorded request (it never reached its destination)."""
        with self._lock:
            for w in self._for(key):
                if w.events:
                    w.events.pop()

    def admit(self, key: str = "") -> float:
        """Record one request if it fits and return 0, else return the seconds to wait (nothing recorded)."""
        with self._lock:
            windows = self._for(key)
            wait = max(w.wait() for w in windows)
            if wait <= 0:
                for w in windows:
                    w.add()
            return wait
