"""Incremental window counts equal a recount from scratch.

The rule types count their windows incrementally (binary searches; per-author and per-channel
tallies kept as posts come and go). Here each runs side by side with a reference that recounts
everything for every post, as the rule types did before (a copy of the window, sets built anew, a
pass over every occurrence of a term), on random streams: posts out of order and late, the same
post twice, windows expiring as event time moves on, and restarts that refill the windows from the
stored posts the way `RuleEngine.warm` does. Every match (time, key, posts, values) must be equal,
and so must the windows' counts.
"""
from __future__ import annotations

from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st

from core.domain import Analysis, Post, Sentiment
from rules.loader import parse_rule
from rules.model import Item, Match
from rules.types.new_term import NewTermRule
from rules.types.spike import SpikeRule
from rules.types.spread import SpreadRule
from rules.window import TallyWindow

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
TZ = ZoneInfo("Asia/Shanghai")
ALERT = {"level": "yellow", "title": "t", "body": "b"}


def spec(raw: dict[str, Any]):
    return parse_rule({"name": raw["type"], "title": "测试", **raw}, 0, "test.yaml", [])


SPIKE = {"type": "spike", "filter": {"sentiment": ["neg"]}, "timeframe": {"minutes": 60},
         "reference": {"minutes": 180}, "spike_height": 2, "threshold_cur": 2, "threshold_ref": 1,
         "actions": {"alert": ALERT, "case": {"kind": "surge", "title": "t"}}}
SPIKE_FLOOR = {**SPIKE, "query_key": "channel", "floor": 0.5, "threshold_ref": 0}
SPREAD = {"type": "spread", "timeframe": {"minutes": 60}, "min_posts": 3, "min_authors": 2, "min_channels": 2,
          "actions": {"flag": {"reason": "r"}, "case": {"kind": "flood", "title": "t"}}}
NEW_TERM = {"type": "new_term", "timeframe": {"minutes": 60}, "reference": {"minutes": 120}, "threshold": 2,
            "max_before": 0, "actions": {"alert": ALERT}}


# ---------------------------------------------------------------------------- the references
class RecountWindow:
    """The window as a plain sorted list, everything recounted on demand."""

    def __init__(self, timeframe: timedelta) -> None:
        self.timeframe = timeframe
        self.events: list = []

    def add(self, event) -> bool:
        if any(e.post_id == event.post_id for e in self.events):
            return False
        self.events = sorted([*self.events, event], key=lambda e: (e.at, e.post_id))
        self.expire(self.events[-1].at)
        return any(e.post_id == event.post_id for e in self.events)

    def expire(self, now: datetime) -> None:
        self.events = [e for e in self.events if e.at > now - self.timeframe]

    def __len__(self) -> int:
        return len(self.events)


class RecountSpike(SpikeRule):
    def add(self, item: Item) -> None:
        key = self.key_of(item) if self.rule.query_key else "*"
        if key is None:
            return
        window = self.windows.setdefault(key, RecountWindow(self.timeframe))  # type: ignore[arg-type]
        if not window.add(item.event):
            return
        seen = self.first_seen.get(key)
        self.first_seen[key] = item.at if seen is None else min(seen, item.at)
        events = list(window.events)
        now = events[-1].at
        current = [e for e in events if e.at > now - self.current]
        before = len(events) - len(current)
        seen = now - self.current - self.first_seen[key]
        if seen >= self.reference:
            baseline = before * (self.current / self.reference)
            if before < self.threshold_ref:
                return
        elif self.floor is None:
            return
        else:
            baseline = max(before * (self.current / seen) if seen > self.current else 0.0, self.floor)
        if len(current) < self.threshold_cur or len(current) < self.height * max(baseline, 1.0):
            return
        episode = self.episodes.get(key)
        if episode is None or now - episode[1] > self.current:
            episode = (f"{self.rule.name}:{key}:{current[0].at.strftime('%Y%m%d%H%M')}", now)
        self.episodes[key] = (episode[0], now)
        self._pending.append(Match(rule=self.rule, trigger=item, at=now, events=current,
                                   key=key if self.rule.query_key else None, case_key=episode[0],
                                   values={"baseline": round(baseline, 1),
                                           "ratio": round(len(current) / max(baseline, 1.0), 1)}))


class RecountSpread(SpreadRule):
    def add(self, item: Item) -> None:
        key = self.key_of(item)
        if key is None:
            return
        window = self.windows.setdefault(key, RecountWindow(self._timeframe))  # type: ignore[arg-type]
        if not window.add(item.event):
            return
        events = list(window.events)
        if (len(events) < self.min_posts or len({e.author for e in events}) < self.min_authors
                or len({e.channel for e in events}) < self.min_channels):
            return
        reported = self.reported.setdefault(key, set())
        new = [e.post_id for e in events if e.post_id not in reported]
        if not new:
            return
        reported.update(new)
        self._pending.append(Match(rule=self.rule, trigger=item, at=events[-1].at, events=events, key=key,
                                   flag_post_ids=new))

    def expire(self, now: datetime) -> None:
        for key in list(self.windows):
            window = self.windows[key]
            window.expire(now)
            if not len(window):
                del self.windows[key]
                self.reported.pop(key, None)
            elif key in self.reported:
                self.reported[key] = {pid for pid in self.reported[key]
                                      if any(e.post_id == pid for e in window.events)}  # type: ignore[attr-defined]


class RecountNewTerm(NewTermRule):
    def add(self, item: Item) -> None:
        at = item.at
        self.first = at if self.first is None else min(self.first, at)
        pid = item.post.id or 0
        terms = {k for k in item.analysis.keywords if len(k) >= 2 and k not in self.ignore}
        if not terms:
            return
        self.events[pid] = item.event
        history_full = at - self.first >= self.reference
        for term in sorted(terms):
            times = self.seen.setdefault(term, [])
            if times and times[-1][0] > at:
                times[:] = sorted([*times, (at, pid)])
            else:
                times.append((at, pid))
            recent = [p for t, p in times if t > at - self.current]
            before = sum(1 for t, _ in times if at - self.timeframe < t <= at - self.current)
            if len(recent) < self.threshold:
                self.busy.discard(term)
                continue
            if not history_full or before > self.max_before or term in self.busy:
                continue
            self.busy.add(term)
            self._pending.append(Match(rule=self.rule, trigger=item, at=at,
                                       events=[self.events[p] for p in recent if p in self.events], key=term,
                                       flag_post_ids=[p for p in recent if p]))

    def expire(self, now: datetime) -> None:
        cutoff = now - self.timeframe
        for term in list(self.seen):
            self.seen[term] = [e for e in self.seen[term] if e[0] > cutoff]
            if not self.seen[term]:
                del self.seen[term]
                self.busy.discard(term)


# ---------------------------------------------------------------------------- streams
post_st = st.fixed_dictionaries({
    # on a coarse grid too, so posts land exactly on window edges (`at - timeframe`, `at - reference`)
    "minute": st.one_of(st.integers(0, 900), st.integers(0, 60).map(lambda k: k * 15)),
    "sentiment": st.sampled_from(["neg", "neg", "neu"]),
    "channel": st.sampled_from(["weibo", "qq", "wechat"]),
    "author": st.sampled_from(["a", "b", "c", "d"]),
    "cluster": st.sampled_from([None, "k1", "k2"]),
    "keywords": st.lists(st.sampled_from(["绩效", "食堂", "停车", "房补"]), max_size=3),
    "again": st.booleans(),  # the same post once more (a re-analysis, or a replay)
})
stream_st = st.lists(post_st, min_size=1, max_size=80)


def items_of(stream: list[dict[str, Any]]) -> list[Item]:
    items: list[Item] = []
    for i, p in enumerate(stream, start=1):
        post = Post(channel=p["channel"], source_id=f"s{i}", author=p["author"], text=f"帖子{i}",
                    created_at=T0 + timedelta(minutes=p["minute"]), id=i)
        extra = {"cluster": p["cluster"]} if p["cluster"] else {}
        a = Analysis(normalized=post.text, tokens=[], sentiment=Sentiment(p["sentiment"]), polarity=0.0, spam=0.0,
                     rumour=0.0, keywords=list(p["keywords"]), extra=extra)
        items.append(Item.of(post, a))
        if p["again"]:
            items.append(Item.of(post, a))
    return items


def sig(matches: list[Match]) -> list[tuple]:
    return [(m.at, m.key, [e.post_id for e in m.events], m.flag_post_ids, m.case_key, m.values) for m in matches]


def run(rule_cls, raw: dict[str, Any], items: list[Item], batches: list[int], restart_at: int | None) -> list[tuple]:
    """Feed `items` in batches as the engine does (consume, matches, expire at the high-water mark);
    at batch `restart_at`, start over with a fresh rule warmed from the items already seen."""
    rule = rule_cls(spec(raw), TZ)
    out: list[tuple] = []
    seen: list[Item] = []
    high: datetime | None = None
    i = 0
    for n, size in enumerate(batches):
        if n == restart_at and high is not None:
            rule = rule_cls(spec(raw), TZ)
            rule.consume([x for x in sorted(seen, key=lambda x: (x.at, x.post.id)) if x.at >= high - rule.timeframe])
            rule.matches()  # already acted on before the restart
            rule.expire(high)
        batch = items[i : i + size]
        i += size
        if not batch:
            continue
        rule.consume(batch)
        out.extend(sig(rule.matches()))
        newest = max(x.at for x in batch)
        high = newest if high is None or newest > high else high
        rule.expire(high)
        if isinstance(rule, NewTermRule):  # what it holds after expiring: nothing older, nothing lost
            out.append(("held", {t: list(v) for t, v in rule.seen.items()}, sorted(rule.busy)))
        seen.extend(batch)
    return out


batches_st = st.lists(st.integers(1, 12), min_size=1, max_size=40)


@settings(max_examples=150, deadline=None)
@given(stream_st, batches_st, st.one_of(st.none(), st.integers(1, 10)))
def test_spike_counts_equal_a_recount(stream, batches, restart_at):
    items = items_of(stream)
    batches = batches + [len(items)]
    for raw in (SPIKE, SPIKE_FLOOR):
        assert run(SpikeRule, raw, items, batches, restart_at) == run(RecountSpike, raw, items, batches, restart_at)


@settings(max_examples=150, deadline=None)
@given(stream_st, batches_st, st.one_of(st.none(), st.integers(1, 10)))
def test_spread_tallies_equal_a_recount(stream, batches, restart_at):
    items = items_of(stream)
    batches = batches + [len(items)]
    assert run(SpreadRule, SPREAD, items, batches, restart_at) == run(RecountSpread, SPREAD, items, batches,
                                                                      restart_at)


@settings(max_examples=150, deadline=None)
@given(stream_st, batches_st, st.one_of(st.none(), st.integers(1, 10)), st.booleans())
def test_new_term_counts_equal_a_recount(stream, batches, restart_at, in_time_order):
    if in_time_order:  # the usual case: windows slide forward and expire term after term
        stream = sorted(stream, key=lambda p: p["minute"])
    items = items_of(stream)
    for item in items:  # one keyword per post: the order in which a post's terms fire is a set's order
        del item.analysis.keywords[1:]
    batches = batches + [len(items)]
    assert run(NewTermRule, NEW_TERM, items, batches, restart_at) == run(RecountNewTerm, NEW_TERM, items, batches,
                                                                         restart_at)


@settings(max_examples=200, deadline=None)
@given(stream_st, st.lists(st.integers(0, 900), max_size=10), st.integers(1, 240))
def test_window_counts_and_tallies_equal_a_recount(stream, expiries, minutes):
    tally, ref = TallyWindow(timedelta(minutes=minutes)), RecountWindow(timedelta(minutes=minutes))
    moments = iter(expiries)
    for item in items_of(stream):
        assert tally.add(item.event) == ref.add(item.event)
        if item.post.id % 3 == 0 and (m := next(moments, None)) is not None:
            now = max(T0 + timedelta(minutes=m), tally.newest or T0)  # time never runs backwards
            tally.expire(now)
            ref.expire(now)
        assert tally.events == ref.events
        assert tally.authors == Counter(e.author for e in ref.events)
        assert tally.channels == Counter(e.channel for e in ref.events)
        for t in (T0 + timedelta(minutes=k) for k in (0, 100, 450, 899)):
            assert tally.count_after(t) == sum(e.at > t for e in ref.events)
            assert [e.post_id for e in tally.events_after(t)] == [e.post_id for e in ref.events if e.at > t]
        assert len(tally) == len(ref) and all(e.post_id in tally for e in ref.events)

