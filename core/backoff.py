"""Retry delays for the outboxes (alerts, platform write-backs, report mail)."""
from __future__ import annotations

import random
from datetime import timedelta


def backoff(failures: int, base: timedelta, cap: timedelta, rng: random.Random) -> timedelta:
    """Delay after the `failures`-th failure in a row (1, 2, …): base·2^(n-1), capped, with jitter
    in the upper half so that many failing deliveries do not retry in lockstep."""
    delay = min(cap, base * (2 ** min(max(failures - 1, 0), 30)))
    return delay / 2 + delay / 2 * rng.random()
