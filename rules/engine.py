"""The rule engine: runs every enabled rule over newly analysed posts and commits what they produce.

    engine = RuleEngine.from_file("rules/default.yaml", notifier_names=["审核组邮件"])
    engine.warm(store, now)            # after a (re)start: refill windows, raise nothing
    engine.process(store, limit=500)   # one batch: rules → flags, cases, alerts → one commit

Every time the engine uses is a post's `created_at` (event time), so running it over history (a
backtest) gives the same result as running it live. The one exception is a bound: with a `clock`
(the running service passes one), event time can't run ahead of that clock by more than `max_skew`.
A post dated in the future (the ingestion boundary refuses those, but a store may hold older ones) is
left out of every window instead of moving "now" forward and expiring every window with it.

A post that makes the rules fail is retried alone; after `quarantine_after` failures it is set aside
(the store's quarantine, shown on the dead-letter page) and the rules move on.
"""
from __future__ import annotations

import logging
import os
import sqlite3
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Callable, Sequence
from zoneinfo import ZoneInfo

from core.domain import Alert, Debunk, utcnow
from core.errors import ConfigError
from core.text import printable
from rules.actions import LastAlertAt, ResultBuilder
from rules.loader import load_rules
from rules.model import AuthorLookup, Item, RuleSpec
from rules.types import RULE_TYPES, RuleType
from store.base import AuthorHistory, RuleResults, Store

log = logging.getLogger("sentinel.rules")


class RuleEngine:
    def __init__(self, rules: Sequence[RuleSpec], notifier_names: Sequence[str] = (),
                 timezone: str = "Asia/Shanghai", clock: Callable[[], datetime] | None = None,
                 max_skew: timedelta = timedelta(minutes=10), quarantine_after: int = 3,
                 prepare_alert: Callable[[Alert, Sequence[str], datetime], None] | None = None) -> None:
        # `prepare_alert(alert, the rule's notifiers, now)` fills in who is told (alerts/routing.py)
        self.prepare_alert = prepare_alert
        self.rules = list(rules)
        self.notifier_names = list(notifier_names)
        self.tz = ZoneInfo(timezone)
        self.clock = clock
        self.max_skew = max_skew
        self.quarantine_after = quarantine_after
        self._types: list[RuleType] = []
        self._high_water: datetime | None = None  # newest event time seen
        self._stale = False  # a commit failed: windows hold posts the store has not taken
        self._reset()

    @classmethod
    def from_file(cls, path: str | os.PathLike[str], notifier_names: Sequence[str],
                  timezone: str = "Asia/Shanghai", **options: Any) -> "RuleEngine":
        """Load and validate a rule file (ConfigError names file, rule and field). `options`: clock,
        max_skew, quarantine_after. The engine remembers the file for `maybe_reload`."""
        stamp = _stamp(path)
        engine = cls(load_rules(path, notifier_names), notifier_names, timezone, **options)
        engine.source, engine._source_stamp = Path(path), stamp
        return engine

    source: Path | None = None
    _source_stamp: tuple[int, int] | None = None
    _bad_stamp: tuple[int, int] | None = None

    def maybe_reload(self, store: Store, now: datetime) -> bool:
        """If the rule file changed on disk, load it and switch to it (windows refilled from the store,
        so nothing is raised twice). An invalid file raises ConfigError and the rules in use keep
        running (health shows the error until the file is fixed; the log says it once per version).
        Cheap when nothing changed: one stat."""
        if self.source is None:
            return False
        stamp = _stamp(self.source)
        if stamp == self._source_stamp:
            return False
        try:
            rules = load_rules(self.source, self.notifier_names)
        except ConfigError as exc:
            exc.first_report = stamp != self._bad_stamp  # type: ignore[attr-defined]
            self._bad_stamp = stamp
            raise
        self._source_stamp = stamp
        self.rules = rules
        self.warm(store, self._high_water or now)
        log.info("规则文件已重新加载：%s，共 %d 条规则（启用 %d 条），无需重启", self.source, len(rules),
                 sum(r.enabled for r in rules))
        return True

    def horizon(self) -> datetime | None:
        """The latest event time the windows may take now (None: unbounded, as in a backtest)."""
        return self.clock() + self.max_skew if self.clock is not None else None

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
        horizon = self.horizon()
        lookup = author_lookup(store)
        items = [Item.of(p, a, lookup)
                 for p, a in store.recent_analyzed(since=now - span, until=horizon, ruled_only=True)]
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
        batch = store.posts_for_rules(limit, skip_after=self.quarantine_after)
        if not batch:
            self._tick_only(store)
            return 0
        lookup = author_lookup(store)
        items, future = self._bounded([Item.of(p, a, lookup) for p, a in batch])
        try:
            results = self.evaluate(items, self._debunks(store, items), store.last_alert_at, now=self._now())
            results.seen.extend((i.post.id, i.post.version) for i in future if i.post.id is not None)
            self._commit(store, results)
        except sqlite3.OperationalError:  # the database, not a post: fail the job, retry next cycle
            self._stale = True
            raise
        except Exception as exc:
            self._stale = True  # the windows consumed (part of) this batch; rebuild them from the store
            log.warning("规则处理一批 %d 条时出错（%s），改为逐条处理以找出问题帖子", len(items), printable(exc))
            return self._one_by_one(store, items, future)
        self._log(len(items), results)
        return len(batch)

    def _now(self) -> datetime | None:
        """The clock for rules about time passing: the service's clock (None in a backtest: there,
        stream time)."""
        return self.clock() if self.clock is not None else None

    def _tick_only(self, store: Store) -> None:
        """No new posts: time still passes for the rules that watch silence."""
        if self.clock is None or not any(type(t).tick is not RuleType.tick for t in self._types):
            return
        results = self.evaluate([], {}, store.last_alert_at, now=self.clock())
        if results.alerts or results.flags or results.cases:
            self._commit(store, results)
            self._log(0, results)

    def _one_by_one(self, store: Store, items: list[Item], future: list[Item]) -> int:
        """After a failed batch: each post alone; one that fails again counts toward its quarantine."""
        if future:
            store.commit_rule_results(RuleResults(seen=[(i.post.id, i.post.version) for i in future
                                                        if i.post.id is not None]))
        for item in items:
            post = item.post
            assert post.id is not None
            if self._stale:
                self.warm(store, self._high_water or item.at)
            try:
                results = self.evaluate([item], self._debunks(store, [item]), store.last_alert_at)
                self._commit(store, results)
            except sqlite3.OperationalError:
                self._stale = True
                raise
            except Exception as exc:
                self._stale = True
                error = f"{type(exc).__name__}: {exc}"
                n = store.quarantine_failure("rules", post.id, post.version, error, (self.clock or utcnow)())
                if n >= self.quarantine_after:
                    log.error("帖子 #%d 第 %d 次让规则出错，已隔离（管理员可在“死信”页重试）：%s", post.id, n,
                              printable(error))
                else:
                    log.error("帖子 #%d 让规则出错（第 %d 次）：%s", post.id, n, printable(error))
                continue
            self._log(1, results)
        return len(items) + len(future)

    def _bounded(self, items: list[Item]) -> tuple[list[Item], list[Item]]:
        """(items within the horizon, items dated after it). The latter are marked seen, never
        windowed: one post from the future must not move the rules' clock."""
        horizon = self.horizon()
        if horizon is None:
            return items, []
        inside = [i for i in items if i.at <= horizon]
        if len(inside) == len(items):
            return items, []
        future = [i for i in items if i.at > horizon]
        log.warning("规则跳过 %d 条发帖时间晚于当前时间的帖子（如 #%s，%s）", len(future), future[0].post.id,
                    future[0].at.isoformat())
        return inside, future

    def _commit(self, store: Store, results: RuleResults) -> None:
        """Route the new alerts (who is told, when), then commit everything in one transaction."""
        if self.prepare_alert is not None and results.alerts:
            now = self.clock() if self.clock is not None else utcnow()
            by_name = {r.name: r for r in self.rules}
            for alert in results.alerts:
                spec = by_name.get(alert.rule)
                self.prepare_alert(alert, spec.alert.notifiers if spec and spec.alert else (), now)
        store.commit_rule_results(results)

    def _log(self, n: int, results: RuleResults) -> None:
        if results.flags or results.alerts or results.cases:
            log.info("规则处理 %d 条：标记 %d 条，预警 %d 条，事件 %d 个", n, len(results.flags),
                     len(results.alerts), len(results.cases))
        for alert in results.alerts:
            log.info("触发%s色预警 #%s（规则 %s）：%s", alert.level.label_zh, alert.id, alert.rule,
                     printable(alert.title))

    # ------------------------------------------------------------------ pure core
    def evaluate(self, items: Sequence[Item], debunks: dict[int, Debunk], last_alert_at: LastAlertAt,
                 now: datetime | None = None) -> RuleResults:
        """Feed `items` to every rule, let time pass (`now`, or the newest post's time), and build the
        results (no I/O besides `last_alert_at`)."""
        builder = ResultBuilder(self.notifier_names, last_alert_at, debunks, self.tz)
        tick = now if now is not None else max((i.at for i in items), default=self._high_water)
        found = []
        items = list(items)  # one list for every rule: rules sharing a filter test each post once (Filter.select)
        for rule_type in self._types:
            rule_type.consume(items)
            if tick is not None:
                rule_type.tick(tick)
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
        horizon = self.horizon()
        if horizon is not None and newest > horizon:
            newest = horizon
        if self._high_water is None or newest > self._high_water:
            self._high_water = newest
        for rule_type in self._types:
            rule_type.expire(self._high_water)

    @staticmethod
    def _debunks(store: Store, items: Sequence[Item]) -> dict[int, Debunk]:
        if not any(i.analysis.debunk_id is not None for i in items):
            return {}
        return {d.id: d for d in store.debunks(active_only=False) if d.id is not None}


def _stamp(path: str | os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (st.st_mtime_ns, st.st_size)


def author_lookup(store: Store) -> AuthorLookup:
    """The store's `author_history`, asked once per author and channel for one batch: a flood from one
    account costs one query. A new batch gets a new lookup, so it sees the decisions made since."""
    seen: dict[tuple[str, str], AuthorHistory] = {}

    def lookup(channel: str, author: str) -> AuthorHistory:
        key = (channel, author)
        if key not in seen:
            seen[key] = store.author_history(channel, author)
        return seen[key]

    return lookup
