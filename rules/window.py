"""`EventWindow`: the posts of the last `timeframe`, by event time (ElastAlert's EventWindow).

Events are kept sorted by time, so a late post lands in its place; anything older than the
newest event minus the timeframe falls out. A post counts once, however often it is added.
"""
from __future__ import annotations

import bisect
from datetime import datetime, timedelta

from rules.model import Event


class EventWindow:
    def __init__(self, timeframe: timedelta) -> None:
        self.timeframe = timeframe
        self._events: list[Event] = []
        self._ids: set[int] = set()

    def add(self, event: Event) -> bool:
        """Add a post; False if it was already there or falls outside the window."""
        if event.post_id in self._ids:
            return False
        pos = bisect.bisect_right(self._events, (event.at, event.post_id), key=lambda e: (e.at, e.post_id))
        self._events.insert(pos, event)
        self._ids.add(event.post_id)
        self.expire(self._events[-1].at)
        return event.post_id in self._ids

    def expire(self, now: datetime) -> None:
        """Drop events at or before `now - timeframe` (the window spans less than `timeframe`)."""
        cutoff = now - self.timeframe
        drop = 0
        while drop < len(self._events) and self._events[drop].at <= cutoff:
            self._ids.discard(self._events[drop].post_id)
            drop += 1
        if drop:
            del self._events[:drop]

    @property
    def events(self) -> list[Event]:
        """A copy, oldest first."""
        return list(self._events)

    @property
    def newest(self) -> datetime | None:
        return self._events[-1].at if self._events else None

    def __len__(self) -> int:
        return len(self._events)

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._ids
