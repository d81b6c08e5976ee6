"""Login throttling: backoff per (name, address) and per address, never a hard lock of an account.

Two rules, both in memory for one process:

- per name *and* client address: `free_failures` tries in a row may fail without delay; after that
  the pair must wait `base_delay` seconds before its next try, and each further failure doubles
  the wait, up to `max_delay`. A successful login clears the pair; so do `forget_after` seconds
  without a failure.
- per client address, whatever the name: once the address has failed `ip_free_failures` times
  within `ip_window` seconds (one address trying many names), the same backoff applies to every
  try from it, until `forget_after` seconds pass without a failure.

Neither rule looks at the name alone, so nobody can lock an account for people at other addresses
(the old per-name lock let anyone lock out the admin by typing wrong passwords for "admin").
"""
from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from typing import Callable

Key = tuple[str, ...]  # ("pair", name, address) | ("ip", address)


@dataclass
class _Entry:
    count: int = 0  # pair: failures since it was last cleared; ip: failures since backoff began
    last: float = 0.0  # time of the latest failure
    locked_until: float = 0.0
    reported: float = 0.0  # the locked_until already audited (one audit row per wait)
    recent: deque[float] = field(default_factory=deque)  # ip only: failures within ip_window


@dataclass
class LoginThrottle:
    """Thread-safe; `clock` is monotonic seconds (a test passes its own); at most `max_keys`
    entries are kept (beyond that, forgotten entries and then the least recently failed go)."""

    free_failures: int = 5
    base_delay: float = 30.0
    max_delay: float = 15 * 60
    forget_after: float = 60 * 60
    ip_free_failures: int = 30
    ip_window: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 10_000
    _entries: dict[Key, _Entry] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    # ---- the interface used by the login view
    def locked_for(self, username: str, ip: str) -> float:
        """Seconds until this name may be tried again from this address (0: it may now)."""
        now = self.clock()
        with self._lock:
            return max([0.0] + [e.locked_until - now for e in self._live(username, ip)])

    def first_refusal(self, username: str, ip: str) -> bool:
        """True the first time a try is refused during the current wait (to audit it once)."""
        now = self.clock()
        new = False
        with self._lock:
            for entry in self._live(username, ip):
                if entry.locked_until > now and entry.reported != entry.locked_until:
                    entry.reported = entry.locked_until
                    new = True
        return new

    def failure(self, username: str, ip: str) -> None:
        now = self.clock()
        keys = self._keys(username, ip)
        with self._lock:
            self._make_room(now, sum(k not in self._entries for k in keys))
            for key in keys:
                entry = self._entries.pop(key, None) or _Entry()  # (re-)inserted last: most recent
                self._entries[key] = entry
                if now - entry.last >= self.forget_after:
                    entry.count = 0
                entry.last = now
                if key[0] == "pair":
                    entry.count += 1
                    over = entry.count - self.free_failures
                else:
                    entry.recent.append(now)
                    while now - entry.recent[0] >= self.ip_window or len(entry.recent) > self.ip_free_failures:
                        entry.recent.popleft()
                    if entry.count or len(entry.recent) >= self.ip_free_failures:
                        entry.count += 1
                    over = entry.count - 1
                if over >= 0:
                    entry.locked_until = max(entry.locked_until, now + self.delay(over))

    def success(self, username: str, ip: str) -> None:
        """Clears the pair only: signing in to one's own account must not reset an address's count."""
        with self._lock:
            self._entries.pop(self._keys(username, ip)[0], None)

    def delay(self, over: int) -> float:
        """The wait after a failure `over` places past the free ones (0: the first one that costs)."""
        return float(min(self.max_delay, self.base_delay * 2 ** min(over, 32)))

    # ---- internals (called with the lock held)
    @staticmethod
    def _keys(username: str, ip: str) -> list[Key]:
        return [("pair", username.strip().lower(), ip), ("ip", ip)]

    def _live(self, username: str, ip: str) -> list[_Entry]:
        return [self._entries[k] for k in self._keys(username, ip) if k in self._entries]

    def _make_room(self, now: float, needed: int) -> None:
        if len(self._entries) + needed <= self.max_keys:
            return
        self._entries = {k: e for k, e in self._entries.items()
                         if e.locked_until > now or now - e.last < self.forget_after}
        excess = len(self._entries) + needed - self.max_keys
        if excess <= 0:
            return
        # Still full: drop the least recently failed entries, those not making anyone wait first.
        waiting = [k for k, e in self._entries.items() if e.locked_until > now]
        idle = [k for k, e in self._entries.items() if e.locked_until <= now]
        for key in (idle + waiting)[:excess]:
            del self._entries[key]
