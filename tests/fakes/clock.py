"""A monotonic clock the test moves by hand: collector schedules, token lifetimes and rate windows run
without waiting. Pass the instance where code takes `monotonic=` / `clock=`."""

from __future__ import annotations


class Ticker:
    def __init__(self, start: float = 1000.0) -> None:
        self.t = start

    def __call__(self) -> float:
        return self.t

    @property
    def now(self) -> float:
        return self.t

    @now.setter
    def now(self, value: float) -> None:
        self.t = value

    def advance(self, seconds: float) -> None:
        self.t += seconds
