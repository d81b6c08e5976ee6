"""The rule engine: runs every enabled rule over newly analysed posts and commits what they produce.

    engine = RuleEngine.from_file("rules/default.yaml", notifier_names=["审核组邮件"])
    engine.warm(store, now)            # after a (re)start: refill windows, raise nothing
    engine.process(store, limit=500)   # one batch: rules → flags, cases, alerts → one commit

The engine never reads the wall clock: every time it uses is a post's `created_at` (event time), so
running it over history (a backtest) gives the same result as running it live.
"""
from __future__ import annotations

import logging
import os
from datetime import datetime, timedelta
from typing import Sequence
from zoneinfo import ZoneInfo

from core.domain import Debunk
from rules.actions import LastAlertAt, ResultBuilder
from rules.loader import load_rules
from rules.model import Item, RuleSpec
from rules.types import RULE_TYPES, RuleType
from store.base import RuleResults, Store

log = logging.getLogger("sentinel.rules")


class RuleEngine:
    def __init__(self, rules: Sequence[RuleSpec], notifier_names: Sequence[str] = (),
                 timezone: str = "Asia/Shanghai") -> None:
        self.rules = list(rules)
        self.notifier_names = list(notifier_names)
        self.tz = ZoneInfo(timezone)
        self._types: list[RuleType] = []
        self._high_water: datetime | None = None  # newest event time seen
        self._stale = False  # a commit failed: windows hold posts the store has not taken
        self._reset()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], notifier_names: Sequence[str],
                  timezone: str = "Asia/Shanghai") -> "RuleEngine":
        """Load and validate a rule file (ConfigError names file, rule and field)."""
        return cls(load_rules(path, notifier_names), notifier_names, timezone)

    def _reset(self) -> None:
        self._types = [RULE_TYPES.get(r.type)(r, self.tz) for r in self.rules if r.enabled]

    @property
    def longest_timeframe(self) -> timedelta | None:
        frames = [t.timeframe for t in self._types if t.timeframe is not None]
        return max(frames) if frames else None

    # ------------------------------------------------------------------ store-facing
    def warm(self, store: Store, now: datetime) -> int:
        """Refill the windows with posts the rules have already seen since `now` minus the longest
        timeframe, raising nothing. Returns how many posts were replayed."""
        self._reset()
        self._stale = False
        span = self.longest_timeframe
        if span is None:
            return 0
        items = [Item.of(p, a) for p, a in store.recent_analyzed(since=now - span, ruled_only=True)]
        for rule_type in self._types:
            if rule_type.timeframe is not None:
                rule_type.consume(items)
                rule_type.matches()  # already acted on before the restart
        self._advance(items)
        if items:
            log.info("规则窗口已预热：回放最近 %d 条已处理的帖子（不重复预警）", len(items))
        return len(items)

    def process(self, store: Store, limit: int) -> int:
        """Run the rules over up to `limit` posts they have not seen, oldest first, and commit
        flags, cases, alerts and the cursor in one transaction. Returns the number of posts."""
        if self._stale and self._high_water is not None:
            self.warm(store, self._high_water)
        batch = store.posts_for_rules(limit)
        if not batch:
            return 0
        items = [Item.of(p, a) for p, a in batch]
        debunks = self._debunks(store, items)
        try:
            results = self.evaluate(items, debunks, store.last_alert_at)
            store.commit_rule_results(results)
        except BaseException:
            self._stale = True  # the windows consumed (part of) this batch; rebuild them from the store
            raise
        if results.flags or results.alerts or results.cases:
            log.info("规则处理 %d 条：标记 %d 条，预警 %d 条，事件 %d 个", len(items), len(results.flags),
                     len(results.alerts), len(results.cases))
        for alert in results.alerts:
            log.info("触发%s色预警 #%s（规则 %s）：%s", alert.level.label_zh, alert.id, alert.rule, alert.title)
        return len(batch)

    # ------------------------------------------------------------------ pure core
    def evaluate(self, items: Sequence[Item], debunks: dict[int, Debunk], last_alert_at: LastAlertAt) -> RuleResults:
        """Feed `items` to every rule and build the results (no I/O besides `last_alert_at`)."""
        builder = ResultBuilder(self.notifier_names, last_alert_at, debunks, self.tz)
        found = []
        for rule_type in self._types:
            rule_type.consume(items)
            found.extend((m, rule_type) for m in rule_type.matches())
        found.sort(key=lambda mt: (mt[0].at, mt[0].rule.index))
        for match, rule_type in found:
            builder.add(match, rule_type.describe(match))
        self._advance(items)
        return builder.finish([(i.post.id, i.post.version) for i in items if i.post.id is not None])

    def _advance(self, items: Sequence[Item]) -> None:
        if not items:
            return
        newest = max(i.at for i in items)
        if self._high_water is None or newest > self._high_water:
            self._high_water = newest
        for rule_type in self._types:
            rule_type.expire(self._high_water)

    @staticmethod
    def _debunks(store: Store, items: Sequence[Item]) -> dict[int, Debunk]:
        if not any(i.analysis.debunk_id is not None for i in items):
            return {}
        return {d.id: d for d in store.debunks(active_only=False) if d.id is not None}
