"""`frequency`: at least `num_events` matching posts within `timeframe`, counted per query_key
value (ElastAlert's FrequencyRule). After firing, that key's window starts empty again."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from rules.model import Item, Match, RuleSpec
from rules.templates import WINDOW_FIELDS, window_fields
from rules.types.base import DURATION_SCHEMA, RuleType
from rules.window import EventWindow


class FrequencyRule(RuleType):
    type_name = "frequency"
    title_zh = "频次（时间窗口内达到 N 条）"
    actions = ("alert",)
    options_schema = {
        "num_events": {"type": "integer", "minimum": 1},
        "timeframe": DURATION_SCHEMA,
    }
    required_options = ("num_events", "timeframe")
    template_fields = WINDOW_FIELDS

    def __init__(self, rule: RuleSpec, tz: ZoneInfo) -> None:
        super().__init__(rule, tz)
        self.num_events: int = rule.options["num_events"]
        self._timeframe: timedelta = rule.options["timeframe"]
        self.windows: dict[str, EventWindow] = {}

    @property
    def timeframe(self) -> timedelta:
        return self._timeframe

    def add(self, item: Item) -> None:
        key = self.key_of(item) if self.rule.query_key else "*"
        if key is None:  # the post has no value for the query key: it belongs to no group
            return
        window = self.windows.setdefault(key, EventWindow(self._timeframe))
        if not window.add(item.event) or len(window) < self.num_events:
            return
        events = window.events
        self._pending.append(Match(
            rule=self.rule, trigger=item, at=events[-1].at, events=events,
            key=key if self.rule.query_key else None,
        ))
        del self.windows[key]

    def describe(self, match: Match) -> dict[str, Any]:
        return window_fields(match, self._timeframe, self.tz)

    def expire(self, now: datetime) -> None:
        for key in list(self.windows):
            self.windows[key].expire(now)
            if not len(self.windows[key]):
                del self.windows[key]
