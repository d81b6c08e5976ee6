"""Login throttling: too many failed tries lock the account (and, with a higher bar, the address)."""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Callable

Key = tuple[str, str]  # ("user", name) | ("ip", address)


@dataclass
class LoginThrottle:
    """In-memory counters for one process. After `max_user_failures` failed logins for one name
    within `window` seconds, that name is locked for `lockout` seconds; the same for one client
    address with `max_ip_failures`. A successful login clears the name's counter only."""

    max_user_failures: int = 5
    max_ip_failures: int = 20
    window: float = 15 * 60
    lockout: float = 15 * 60
    clock: Callable[[], float] = time.monotonic
    max_keys: int = 10_000  # memory bound: old entries are dropped beyond this
    _failures: dict[Key, list[float]] = field(default_factory=dict, repr=False)
    _locked_until: dict[Key, float] = field(default_factory=dict, repr=False)
    _reported: set[Key] = field(default_factory=set, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def _keys(self, username: str, ip: str) -> list[tuple[Key, int]]:
        return [(("user", username.lower()), self.max_user_failures), (("ip", ip), self.max_ip_failures)]

    def locked_for(self, username: str, ip: str) -> float:
        """Seconds until this name/address may try again (0 when not locked)."""
        now = self.clock()
        with self._lock:
            waits = [self._locked_until.get(k, 0.0) - now for k, _ in self._keys(username, ip)]
        return max(0.0, *waits)

    def failure(self, username: str, ip: str) -> None:
        now = self.clock()
        with self._lock:
            self._prune(now)
            for key, limit in self._keys(username, ip):
                recent = [t for t in self._failures.get(key, []) if now - t < self.window]
                recent.append(now)
                self._failures[key] = recent
                if len(recent) >= limit:
                    self._locked_until[key] = now + self.lockout
                    self._failures[key] = []
                    self._reported.discard(key)

    def first_refusal(self, username: str, ip: str) -> bool:
        """True the first time a try is refused during the current lock (to audit it once)."""
        now = self.clock()
        with self._lock:
            locked = [k for k, _ in self._keys(username, ip) if self._locked_until.get(k, 0.0) > now]
            new = [k for k in locked if k not in self._reported]
            self._reported.update(new)
            return bool(new)

    def success(self, username: str, ip: str) -> None:
        key = ("user", username.lower())
        with self._lock:
            self._failures.pop(key, None)
            self._locked_until.pop(key, None)
            self._reported.discard(key)

    def _prune(self, now: float) -> None:
        if len(self._failures) + len(self._locked_until) <= self.max_keys:
            return
        self._locked_until = {k: t for k, t in self._locked_until.items() if t > now}
        self._reported &= set(self._locked_until)
        self._failures = {k: v for k, v in self._failures.items() if v and now - v[-1] < self.window}
