"""`flatline`: a channel (or any query_key value) that has gone silent — no post for `timeframe`.
A collector broken by an expired token or a changed page says nothing itself; silence is the sign.

Silence is measured on the clock the posts arrive by (ElastAlert's flatline queries by time, not by
the posts' own dates): a key is watched from the first post of it the rules see (or from the start,
for the keys listed in `keys`), and each batch of its posts resets it. One alert per silence; a new
post ends it. Actions: `alert` only.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.domain import channel_label
from rules.model import Item, Match, RuleSpec
from rules.templates import local_time
from rules.types.base import DURATION_SCHEMA, RuleType

FLATLINE_FIELDS = {
    "key": ("沉默的分组取值（query_key 的值，渠道显示中文名）", "微博"),
    "minutes": ("多长时间没有新帖子算沉默（分钟）", 1440),
    "silent_minutes": ("实际已经沉默的分钟数", 1500),
    "last_time": ("最后一条帖子到达的时间", "2026-03-01 13:10"),
}


class FlatlineRule(RuleType):
    type_name = "flatline"
    title_zh = "沉默（渠道长时间没有新帖子）"
    actions = ("alert",)
    options_schema = {
        "timeframe": DURATION_SCHEMA,
        "keys": {"type": "array", "items": {"type": "string", "minLength": 1}, "default": []},
    }
    required_options = ("timeframe",)
    template_fields = FLATLINE_FIELDS
    default_query_key = "channel"

    def __init__(self, rule: RuleSpec, tz: ZoneInfo) -> None:
        super().__init__(rule, tz)
        self._timeframe: timedelta = rule.options["timeframe"]
        self.expected: list[str] = list(rule.options["keys"])
        self.last_seen: dict[str, datetime] = {}  # key -> arrival time of its latest post
        self.last_item: dict[str, Item] = {}
        self.arrived: set[str] = set()  # keys with posts since the last tick
        self.silent: set[str] = set()  # keys already reported for the current silence

    @property
    def timeframe(self) -> timedelta:
        return self._timeframe

    def add(self, item: Item) -> None:
        key = self.key_of(item)
        if key is None:
            return
        self.last_item[key] = item
        self.arrived.add(key)

    def tick(self, now: datetime) -> None:
        for key in self.arrived:
            self.last_seen[key] = now
            self.silent.discard(key)
        self.arrived.clear()
        for key in self.expected:
            self.last_seen.setdefault(key, now)
        for key, seen in self.last_seen.items():
            if key in self.silent or now - seen < self._timeframe:
                continue
            item = self.last_item.get(key)
            if item is None:  # an expected key never seen: nothing to describe it by
                continue
            self.silent.add(key)
            self._pending.append(Match(rule=self.rule, trigger=item, at=now, events=[item.event], key=key,
                                       values={"silent_minutes": int((now - seen).total_seconds() // 60),
                                               "last_time": local_time(seen, self.tz)}))

    def describe(self, match: Match) -> dict[str, Any]:
        key = match.key or ""
        return {"key": channel_label(key) if self.query_key == "channel" else key,
                "minutes": int(self._timeframe.total_seconds() // 60), **match.values}
