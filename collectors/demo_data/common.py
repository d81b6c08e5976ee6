"""Small helpers shared by the writers: weighted choice and reply delays."""
from __future__ import annotations

import random
from datetime import timedelta

GAP_SECONDS = {"qq": (15, 900), "wechat": (240, 6 * 3600), "weibo": (90, 4 * 3600),
               "board": (3600, 40 * 3600)}


def weighted(rng: random.Random, table: dict[str, float]) -> str:
    return rng.choices(list(table), weights=list(table.values()))[0]


def gap(rng: random.Random, channel: str) -> timedelta:
    """Delay before a reply: mostly quick, sometimes long (log-uniform)."""
    low, high = GAP_SECONDS[channel]
    return timedelta(seconds=int(low * (high / low) ** rng.random()))
