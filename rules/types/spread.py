"""`spread`: a near-duplicate cluster (nlp's `extra.cluster`) reaching at least `min_posts` posts
from `min_authors` authors across `min_channels` channels within `timeframe`.

From then on every new post of the cluster is reported too, so the case grows (flag it, upsert the
case, alert; the engine's realert keeps it to one alert per window).
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from core.errors import ConfigError
from rules.model import Item, Match, RuleSpec
from rules.templates import WINDOW_FIELDS, window_fields
from rules.types.base import DURATION_SCHEMA, RuleType
from rules.window import TallyWindow


class SpreadRule(RuleType):
    type_name = "spread"
    title_zh = "扩散（近似重复内容跨作者、跨渠道）"
    actions = ("flag", "remove", "alert", "case")
    required_actions = ("case",)
    options_schema = {
        "timeframe": DURATION_SCHEMA,
        "min_posts": {"type": "integer", "minimum": 2},
        "min_authors": {"type": "integer", "minimum": 1, "default": 1},
        "min_channels": {"type": "integer", "minimum": 1, "default": 1},
    }
    required_options = ("timeframe", "min_posts")
    template_fields = WINDOW_FIELDS
    default_query_key = "extra.cluster"

    def __init__(self, rule: RuleSpec, tz: ZoneInfo) -> None:
        super().__init__(rule, tz)
        o = rule.options
        self._timeframe: timedelta = o["timeframe"]
        self.min_posts, self.min_authors, self.min_channels = o["min_posts"], o["min_authors"], o["min_channels"]
        self.windows: dict[str, TallyWindow] = {}
        self.reported: dict[str, set[int]] = {}  # post ids already reported per cluster

    @classmethod
    def prepare_options(cls, raw: dict[str, Any], file: str, where: str) -> dict[str, Any]:
        o = super().prepare_options(raw, file, where)
        for name in ("min_authors", "min_channels"):
            if o[name] > o["min_posts"]:
                raise ConfigError(file, f"{where}.{name}", f"{name}（{o[name]}）不能大于 min_posts（{o['min_posts']}）")
        return o

    @property
    def timeframe(self) -> timedelta:
        return self._timeframe

    def add(self, item: Item) -> None:
        key = self.key_of(item)
        if key is None:  # not in any cluster
            return
        window = self.windows.setdefault(key, TallyWindow(self._timeframe))
        if not window.add(item.event) or not self._spread(window):
            return
        reported = self.reported.setdefault(key, set())
        events = window.events
        new = [e.post_id for e in events if e.post_id not in reported]
        if not new:
            return
        reported.update(new)
        self._pending.append(Match(
            rule=self.rule, trigger=item, at=events[-1].at, events=events, key=key, flag_post_ids=new,
        ))

    def _spread(self, window: TallyWindow) -> bool:
        """Enough posts, authors and channels: the window's own counts, nothing copied."""
        return (len(window) >= self.min_posts and len(window.authors) >= self.min_authors
                and len(window.channels) >= self.min_channels)

    def describe(self, match: Match) -> dict[str, Any]:
        return window_fields(match, self._timeframe, self.tz)

    def expire(self, now: datetime) -> None:
        for key in list(self.windows):
            window = self.windows[key]
            window.expire(now)
            if not len(window):
                del self.windows[key]
                self.reported.pop(key, None)
            elif key in self.reported:
                self.reported[key] = {pid for pid in self.reported[key] if pid in window}
