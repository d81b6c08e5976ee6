"""`spike`: the matching posts of the last `timeframe` outnumber the baseline — the average per
`timeframe` over the `reference` period just before it — by `spike_height` times (ElastAlert's
SpikeRule, against a longer baseline). Counted per query_key value.

`threshold_cur` is the least count that can fire; `threshold_ref` the least baseline count for the
comparison to be trusted. Without `floor`, nothing fires until the rule has seen the key for the
whole `timeframe + reference` (a new channel should not "spike" on its third post). With `floor` (a
count per `timeframe`), a rule works from day one: while less than the full reference has been seen,
the baseline is the rate of the history there is, scaled to one window, but never below `floor` — so
a new deployment, or a topic never discussed before, spikes when the current window holds at least
`spike_height × floor` (and `threshold_cur`) posts. While a spike lasts every new post is reported,
so one surge is one case (kind `surge`) that grows; realert keeps it to one alert per window.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rules.model import Item, Match, RuleSpec
from rules.templates import WINDOW_FIELDS, window_fields
from rules.types.base import DURATION_SCHEMA, RuleType
from rules.window import EventWindow

SPIKE_FIELDS = {
    **WINDOW_FIELDS,
    "baseline": ("基线：此前每个窗口的平均帖子数（保留一位小数）", 2.5),
    "ratio": ("当前窗口是基线的多少倍（保留一位小数）", 4.0),
}


class SpikeRule(RuleType):
    type_name = "spike"
    title_zh = "突增（当前窗口比此前基线高出数倍）"
    actions = ("alert", "case")
    options_schema = {
        "timeframe": DURATION_SCHEMA,
        "reference": DURATION_SCHEMA,
        "spike_height": {"type": "number", "exclusiveMinimum": 1},
        "threshold_cur": {"type": "integer", "minimum": 1, "default": 5},
        "threshold_ref": {"type": "integer", "minimum": 0, "default": 0},
        "floor": {"type": "number", "exclusiveMinimum": 0},
    }
    required_options = ("timeframe", "reference", "spike_height")
    template_fields = SPIKE_FIELDS

    def __init__(self, rule: RuleSpec, tz: ZoneInfo) -> None:
        super().__init__(rule, tz)
        o = rule.options
        self.current: timedelta = o["timeframe"]
        self.reference: timedelta = o["reference"]
        self.height: float = float(o["spike_height"])
        self.threshold_cur: int = o["threshold_cur"]
        self.threshold_ref: int = o["threshold_ref"]
        self.floor: float | None = float(o["floor"]) if o.get("floor") is not None else None
        self.windows: dict[str, EventWindow] = {}
        self.episodes: dict[str, tuple[str, datetime]] = {}  # key -> (case key, last spike time)
        self.first_seen: dict[str, datetime] = {}  # the earliest post of each key: is the baseline full?

    @property
    def timeframe(self) -> timedelta:
        return self.current + self.reference

    def add(self, item: Item) -> None:
        key = self.key_of(item) if self.rule.query_key else "*"
        if key is None:
            return
        window = self.windows.setdefault(key, EventWindow(self.timeframe))
        if not window.add(item.event):
            return
        seen = self.first_seen.get(key)
        self.first_seen[key] = item.at if seen is None else min(seen, item.at)
        now = window.newest
        assert now is not None
        count = window.count_after(now - self.current)  # counted, not copied: the window stays as it is
        before = len(window) - count
        seen = now - self.current - self.first_seen[key]  # how much of the reference period has been seen
        if seen >= self.reference:
            baseline = before * (self.current / self.reference)
            if before < self.threshold_ref:
                return
        elif self.floor is None:  # the baseline does not cover `reference` yet
            return
        else:  # day one: the history there is, never below the floor
            observed = before * (self.current / seen) if seen > self.current else 0.0
            baseline = max(observed, self.floor)
        if count < self.threshold_cur:
            return
        if count < self.height * max(baseline, 1.0):
            return
        current = window.events_after(now - self.current)  # copied only when the rule fires
        episode = self.episodes.get(key)
        if episode is None or now - episode[1] > self.current:  # a new surge
            episode = (f"{self.rule.name}:{key}:{current[0].at.strftime('%Y%m%d%H%M')}", now)
        self.episodes[key] = (episode[0], now)
        self._pending.append(Match(
            rule=self.rule, trigger=item, at=now, events=current,
            key=key if self.rule.query_key else None, case_key=episode[0],
            values={"baseline": round(baseline, 1), "ratio": round(len(current) / max(baseline, 1.0), 1)},
        ))

    def describe(self, match: Match) -> dict[str, Any]:
        return {**window_fields(match, self.current, self.tz), **match.values}

    def expire(self, now: datetime) -> None:
        for key in list(self.windows):
            self.windows[key].expire(now)
            if not len(self.windows[key]):
                del self.windows[key]
                self.episodes.pop(key, None)  # first_seen stays: a quiet key still has its history
