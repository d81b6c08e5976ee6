"""`new_term`: a term (an NLP keyword of the posts) rarely or never seen before, rising fast —
at least `threshold` posts with it in the last `timeframe`, at most `max_before` in the `reference`
period before that (ElastAlert's new_term, with a rate). Catches a new subject early: a building's
name after an accident, a new policy's nickname, a name nobody mentioned last week.

Nothing fires until the rule has seen `reference` of history (on a fresh store every term is new).
One match per term while it stays busy; realert de-duplicates alerts per term (the `key`).
"""
from __future__ import annotations

import bisect
import heapq
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rules.model import Event, Item, Match, RuleSpec
from rules.templates import WINDOW_FIELDS, window_fields
from rules.types.base import DURATION_SCHEMA, RuleType

_MIN_TERM = 2  # characters: single characters are no subject


class NewTermRule(RuleType):
    type_name = "new_term"
    title_zh = "新词（此前少见的词快速增多）"
    actions = ("flag", "alert")
    options_schema = {
        "timeframe": DURATION_SCHEMA,
        "reference": DURATION_SCHEMA,
        "threshold": {"type": "integer", "minimum": 2, "default": 5},
        "max_before": {"type": "integer", "minimum": 0, "default": 0},
        "ignore": {"type": "array", "items": {"type": "string"}, "default": []},
    }
    required_options = ("timeframe", "reference")
    template_fields = WINDOW_FIELDS

    def __init__(self, rule: RuleSpec, tz: ZoneInfo) -> None:
        super().__init__(rule, tz)
        o = rule.options
        self.current: timedelta = o["timeframe"]
        self.reference: timedelta = o["reference"]
        self.threshold: int = o["threshold"]
        self.max_before: int = o["max_before"]
        self.ignore = set(o["ignore"])
        self.seen: dict[str, list[tuple[datetime, int]]] = {}  # term -> (time, post id), in time order
        self.events: dict[int, Event] = {}
        self.first: datetime | None = None
        self.busy: set[str] = set()  # terms reported and still above the threshold
        # (a term's oldest time, term), so `expire` visits only the terms with something to drop; a term
        # always has an entry for its current oldest time (stale entries are skipped when popped)
        self._heads: list[tuple[datetime, str]] = []
        self._held = 0  # (time, post id) entries in `seen`, for the clean-up of `events`

    @property
    def timeframe(self) -> timedelta:
        return self.current + self.reference

    def add(self, item: Item) -> None:
        at = item.at
        self.first = at if self.first is None else min(self.first, at)
        pid = item.post.id or 0
        terms = {k for k in item.analysis.keywords if len(k) >= _MIN_TERM and k not in self.ignore}
        if not terms:
            return
        self.events[pid] = item.event
        history_full = at - self.first >= self.reference
        for term in terms:
            times = self.seen.setdefault(term, [])
            if not times or at < times[0][0]:  # a new oldest time (a new term, or a late post)
                heapq.heappush(self._heads, (at, term))
            if times and times[-1][0] > at:  # a late post: keep the order
                times.append((at, pid))
                times.sort()
            else:
                times.append((at, pid))
            self._held += 1
            # counted by binary search on time (the list is in time order), not by a pass over it
            recent_from = bisect.bisect_right(times, at - self.current, key=_time)
            if len(times) - recent_from < self.threshold:
                self.busy.discard(term)
                continue
            if not history_full or term in self.busy:
                continue
            before = recent_from - bisect.bisect_right(times, at - self.timeframe, key=_time)
            if before > self.max_before:
                continue
            recent = [p for _, p in times[recent_from:]]
            self.busy.add(term)
            events = [self.events[p] for p in recent if p in self.events]
            self._pending.append(Match(rule=self.rule, trigger=item, at=at, events=events, key=term,
                                       flag_post_ids=[p for p in recent if p]))

    def describe(self, match: Match) -> dict[str, Any]:
        return window_fields(match, self.current, self.tz)

    def expire(self, now: datetime) -> None:
        cutoff = now - self.timeframe
        heads = self._heads
        while heads and heads[0][0] <= cutoff:
            oldest, term = heapq.heappop(heads)
            times = self.seen.get(term)
            if not times or times[0][0] != oldest:
                continue  # a stale entry: the term's current oldest time has its own
            drop = bisect.bisect_right(times, cutoff, key=_time)
            del times[:drop]
            self._held -= drop
            if times:
                heapq.heappush(heads, (times[0][0], term))
            else:
                del self.seen[term]
                self.busy.discard(term)
        if len(self.events) > 4 * self._held + 1000:
            live = {p for t in self.seen.values() for _, p in t}
            self.events = {p: e for p, e in self.events.items() if p in live}


def _time(entry: tuple[datetime, int]) -> datetime:
    return entry[0]
