"""`EventWindow`: the posts of the last `timeframe`, by event time (ElastAlert's EventWindow).

Events are kept sorted by time, so a late post lands in its place; anything older than the
newest event minus the timeframe falls out. A post counts once, however often it is added.

Counting is incremental: adding or expiring a post costs a binary search and an insertion, and
`count_after(t)` is a binary search, so a rule asks "how many in the last hour" without copying the
window (`events` copies it, for the posts a match reports). `TallyWindow` also keeps how many posts
each author and each channel has in the window, updated as posts come and go.
"""
from __future__ import annotations

import bisect
from collections import Counter
from datetime import datetime, timedelta

from rules.model import Event


def _order(e: Event) -> tuple[datetime, int]:
    return (e.at, e.post_id)


def _at(e: Event) -> datetime:
    return e.at


class EventWindow:
    def __init__(self, timeframe: timedelta) -> None:
        self.timeframe = timeframe
        self._events: list[Event] = []
        self._ids: set[int] = set()

    def add(self, event: Event) -> bool:
        """Add a post; False if it was already there or falls outside the window."""
        if event.post_id in self._ids:
            return False
        events = self._events
        if not events or _order(events[-1]) <= (event.at, event.post_id):
            events.append(event)  # the usual case: the newest post
        else:
            events.insert(bisect.bisect_right(events, (event.at, event.post_id), key=_order), event)
        self._ids.add(event.post_id)
        self._added(event)
        self.expire(events[-1].at)
        return event.post_id in self._ids

    def expire(self, now: datetime) -> None:
        """Drop events at or before `now - timeframe` (the window spans less than `timeframe`)."""
        events = self._events
        if not events or events[0].at > now - self.timeframe:
            return
        drop = bisect.bisect_right(events, now - self.timeframe, key=_at)
        for e in events[:drop]:
            self._ids.discard(e.post_id)
            self._removed(e)
        del events[:drop]

    def count_after(self, t: datetime) -> int:
        """How many events are later than `t`."""
        return len(self._events) - bisect.bisect_right(self._events, t, key=_at)

    def events_after(self, t: datetime) -> list[Event]:
        """The events later than `t`, oldest first (a copy)."""
        return self._events[bisect.bisect_right(self._events, t, key=_at):]

    def _added(self, event: Event) -> None:
        """Hook: `event` joined the window."""

    def _removed(self, event: Event) -> None:
        """Hook: `event` left the window."""

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


class TallyWindow(EventWindow):
    """An EventWindow that also counts its posts per author and per channel."""

    def __init__(self, timeframe: timedelta) -> None:
        super().__init__(timeframe)
        self.authors: Counter[str] = Counter()
        self.channels: Counter[str] = Counter()

    def _added(self, event: Event) -> None:
        self.authors[event.author] += 1
        self.channels[event.channel] += 1

    def _removed(self, event: Event) -> None:
        for tally, value in ((self.authors, event.author), (self.channels, event.channel)):
            tally[value] -= 1
            if not tally[value]:
                del tally[value]
