"""The officers' dashboard's filter (channel and period) and the series its charts draw, built from
the store's period-bounded reads. No Flask here: views parse the request into a `DashFilter` and pass
rows from the store to these functions, so every number is testable on its own."""
from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Mapping
from zoneinfo import ZoneInfo

from core.domain import channel_label
from store.base import DayCount, SeriesPoint

PRESETS = {7: "近 7 天", 30: "近 30 天", 90: "近 90 天"}
DEFAULT_DAYS = 30
MAX_DAYS = 366  # a custom range
NO_TOPIC = "未分类"  # the label (and drill-down value) of posts without a topic
OTHER = "其他"
TOP_TOPICS = 8
CHANNEL_MAX = 40


@dataclass(frozen=True)
class DashFilter:
    """What every panel of the dashboard shows: local days first..last (inclusive) and a channel."""

    first: date
    last: date
    tz: ZoneInfo
    days: int | None = DEFAULT_DAYS  # the preset chosen, None for a custom range
    channel: str | None = None

    @property
    def since(self) -> datetime:
        return datetime.combine(self.first, time(0), self.tz)

    @property
    def until(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=1), time(0), self.tz)

    @property
    def day_list(self) -> list[date]:
        return [self.first + timedelta(days=i) for i in range((self.last - self.first).days + 1)]

    @property
    def label(self) -> str:
        if self.days is not None:
            return PRESETS.get(self.days, f"近 {self.days} 天")
        return f"{self.first:%Y-%m-%d} 至 {self.last:%Y-%m-%d}"

    def args(self) -> dict[str, str]:
        """The filter as query arguments (for links, drill-downs and the charts' data)."""
        out = {"days": str(self.days)} if self.days is not None else {"from": self.first.isoformat(),
                                                                        "to": self.last.isoformat()}
        if self.channel:
            out["channel"] = self.channel
        return out

    def narrowed(self, day: date | None) -> "DashFilter":
        """The same filter on one of its days (a drill-down from a chart's point)."""
        if day is None or not self.first <= day <= self.last:
            return self
        return DashFilter(day, day, self.tz, None, self.channel)


def parse_filter(args: Mapping[str, str], tz: ZoneInfo, today: date) -> DashFilter:
    """`days` (7/30/90), or `from` and `to` (YYYY-MM-DD, at most MAX_DAYS, not after today) when no
    preset is chosen, and `channel`. Anything unreadable falls back to the last 30 days."""
    channel = (args.get("channel") or "").strip()[:CHANNEL_MAX] or None
    first, last = _day(args.get("from")), _day(args.get("to"))
    if args.get("days") in (None, "", "custom") and first and last and first <= last:
        last = min(last, today)
        first = max(min(first, last), last - timedelta(days=MAX_DAYS - 1))
        return DashFilter(first, last, tz, None, channel)
    try:
        days = int(args.get("days", DEFAULT_DAYS))
    except (TypeError, ValueError):
        days = DEFAULT_DAYS
    days = days if days in PRESETS else DEFAULT_DAYS
    return DashFilter(today - timedelta(days=days - 1), today, tz, days, channel)


def parse_day(text: str | None) -> date | None:
    return _day(text)


def _day(text: str | None) -> date | None:
    try:
        return date.fromisoformat((text or "").strip()[:10]) if text else None
    except ValueError:
        return None


def topic_label(topic: str) -> str:
    return topic or NO_TOPIC


def topic_value(label: str) -> str:
    """A topic label back to the stored value ('' for 未分类)."""
    return "" if label == NO_TOPIC else label


def pct(part: int, whole: int) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _totals(rows: list[DayCount], key: str) -> list[tuple[str, int, int]]:
    """(value of `key`, posts, negative) over the period, biggest first."""
    n: Counter[str] = Counter()
    neg: Counter[str] = Counter()
    for r in rows:
        n[getattr(r, key)] += r.n
        if r.sentiment == "neg":
            neg[getattr(r, key)] += r.n
    return [(k, c, neg[k]) for k, c in sorted(n.items(), key=lambda kv: (-kv[1], kv[0])) if c]


def topic_table(rows: list[DayCount]) -> list[tuple[str, int, int]]:
    """(topic label, posts, negative) over the period, biggest first."""
    return [(topic_label(t), c, neg) for t, c, neg in _totals(rows, "topic")]


def channel_table(rows: list[DayCount]) -> list[tuple[str, str, int, int]]:
    """(channel, label, posts, negative) over the period, biggest first."""
    return [(ch, channel_label(ch), c, neg) for ch, c, neg in _totals(rows, "channel")]


def trends_json(rows: list[DayCount], f: DashFilter) -> dict[str, Any]:
    """Posts per day by topic (the top topics, the rest as 其他) and by channel, the negative share per
    day and per topic. Arrays follow `days`, oldest first; `key` is what a drill-down filters on."""
    days = f.day_list
    index = {d: i for i, d in enumerate(days)}
    total, neg = [0] * len(days), [0] * len(days)
    by_topic: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    by_channel: dict[str, list[int]] = defaultdict(lambda: [0] * len(days))
    for r in rows:
        i = index.get(r.day)
        if i is None:
            continue
        total[i] += r.n
        by_topic[r.topic][i] += r.n
        by_channel[r.channel][i] += r.n
        if r.sentiment == "neg":
            neg[i] += r.n
    table = topic_table(rows)
    top = [topic_value(t) for t, _, _ in table[:TOP_TOPICS]]
    topics = [{"key": topic_label(t), "name": topic_label(t), "counts": by_topic[t]} for t in top]
    rest = [sum(by_topic[t][i] for t in by_topic if t not in top) for i in range(len(days))]
    if any(rest):
        topics.append({"key": None, "name": OTHER, "counts": rest})
    channels = [{"key": c, "name": label, "counts": by_channel[c]} for c, label, _, _ in channel_table(rows)]
    return {
        "days": [d.isoformat() for d in days],
        "labels": [d.strftime("%m-%d") for d in days],
        "total": total,
        "negative": neg,
        "negative_share": [pct(a, b) for a, b in zip(neg, total)],
        "topics": topics,
        "channels": channels,
        "topic_negative": [{"key": t, "name": t, "posts": n, "negative": g, "share": pct(g, n)}
                           for t, n, g in table[:TOP_TOPICS * 2]],
    }


def sentiment_points(rows: list[DayCount], f: DashFilter) -> list[SeriesPoint]:
    """Sentiment per local day of the filter, from the rollups (what /api/sentiment?bucket=day draws)."""
    points = {d: SeriesPoint(start=datetime.combine(d, time(0), f.tz)) for d in f.day_list}
    for r in rows:
        p = points.get(r.day)
        if p is not None and r.sentiment in ("pos", "neu", "neg"):
            setattr(p, r.sentiment, getattr(p, r.sentiment) + r.n)
            p.polarity_sum += r.polarity
    return [points[d] for d in f.day_list]


def quantile(sorted_values: list[float], q: float) -> float:
    """The value at quantile q of sorted values (nearest rank, as the report does)."""
    return sorted_values[min(len(sorted_values) - 1, int(round(q * (len(sorted_values) - 1))))]


def moderation_json(decisions: list[tuple[datetime, datetime | None, bool]], flags: list[datetime],
                    f: DashFilter) -> dict[str, Any]:
    """Per local day: posts newly flagged, human decisions and automatic removals (the workload), and
    the median and 90th percentile of minutes from a post's first flag to a human decision."""
    days = f.day_list
    index = {d: i for i, d in enumerate(days)}
    flagged, decided, auto = [0] * len(days), [0] * len(days), [0] * len(days)
    minutes: list[list[float]] = [[] for _ in days]
    for t in flags:
        i = index.get(t.astimezone(f.tz).date())
        if i is not None:
            flagged[i] += 1
    everything: list[float] = []
    for at, first_flag, is_auto in decisions:
        i = index.get(at.astimezone(f.tz).date())
        if i is None:
            continue
        if is_auto:
            auto[i] += 1
            continue
        decided[i] += 1
        if first_flag is not None:
            m = max(0.0, (at - first_flag).total_seconds() / 60)
            minutes[i].append(m)
            everything.append(m)
    med = [round(statistics.median(m), 1) if m else None for m in minutes]
    p90 = [round(quantile(sorted(m), 0.9), 1) if m else None for m in minutes]
    everything.sort()
    return {
        "days": [d.isoformat() for d in days], "labels": [d.strftime("%m-%d") for d in days],
        "flagged": flagged, "decided": decided, "auto": auto, "median": med, "p90": p90,
        "summary": {"decided": len(everything), "auto": sum(auto), "flagged": sum(flagged),
                    "median": round(statistics.median(everything), 1) if everything else None,
                    "p90": round(quantile(everything, 0.9), 1) if everything else None},
    }


def duration_label(minutes: float | None) -> str:
    """Minutes as people read them: 35 分钟, 2.5 小时, 3.0 天."""
    if minutes is None:
        return "—"
    if minutes < 120:
        return f"{max(minutes, 0):.0f} 分钟"
    if minutes < 48 * 60:
        return f"{minutes / 60:.1f} 小时"
    return f"{minutes / 1440:.1f} 天"


def minutes_between(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else max(0.0, (end - start).total_seconds() / 60)
