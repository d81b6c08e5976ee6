"""Text templates of actions (flag reasons, alert titles and bodies, case titles).

Templates are Python format strings over a fixed set of placeholders, checked at load: an unknown
placeholder or a bad format spec is a ConfigError naming the rule and field. Every value that comes
from a post is masked (personal data never reaches an alert), and the rendered text is scrubbed of
any personal value the analysis found in the trigger post and then passes `core.masking.redact`,
whatever the template says.
"""
from __future__ import annotations

import re
import string
from collections import Counter
from datetime import datetime, timedelta
from typing import Any, Callable, Iterator, Mapping
from zoneinfo import ZoneInfo

from core.domain import Debunk, channel_label
from core.errors import ConfigError
from core.timefmt import format_local
from core.masking import excerpt as masked_excerpt, mask_value, redact
from rules.model import Event, Item, Match, key_label

# name: (meaning, sample value used to check format specs at load)
POST_FIELDS: dict[str, tuple[str, Any]] = {
    "rule": ("规则名（name）", "rumour_post"),
    "rule_title": ("规则标题（title）", "疑似谣言"),
    "spam": ("垃圾广告分，0–1，可写 {spam:.2f}", 0.5),
    "rumour": ("谣言风险分，0–1，可写 {rumour:.2f}", 0.5),
    "grievance": ("诉求分，0–1，可写 {grievance:.2f}", 0.5),
    "abuse": ("辱骂攻击分，0–1，可写 {abuse:.2f}", 0.5),
    "polarity": ("情感极性，-1–1", -0.5),
    "sentiment": ("情感类别：正面 / 中性 / 负面", "负面"),
    "channel": ("渠道中文名，如 微博", "微博"),
    "channel_id": ("渠道标识，如 weibo", "weibo"),
    "topic": ("话题，没有时为“未分类”", "薪酬"),
    "keywords": ("关键词，最多 5 个，顿号分隔", "绩效、工资"),
    "pii": ("发现的个人信息类别，顿号分隔，如 手机号；没有时为“无”", "手机号"),
    "excerpt": ("帖子摘录：已遮盖个人信息，最多 60 字", "示例摘录"),
    "reasons": ("全部打分理由，分号分隔", "示例理由"),
    "spam_reasons": ("垃圾广告分的理由", "命中广告词"),
    "rumour_reasons": ("谣言风险分的理由", "含“听说”"),
    "sentiment_reasons": ("情感的理由", "负面词"),
    "abuse_reasons": ("辱骂攻击分的理由", "疑似人身攻击"),
    "grievance_reasons": ("诉求分的理由", "像是教职工本人的诉求"),
    "claim": ("命中的辟谣条目的原说法（未命中为空）", "示例说法"),
    "clarification": ("命中的辟谣条目的官方澄清（未命中为空）", "示例澄清"),
    "cluster_size": ("近似重复簇的帖子数（nlp 给出）", 1),
    "cluster_channels": ("近似重复簇跨越的渠道数（nlp 给出）", 1),
    "cluster_authors": ("近似重复簇的作者数（nlp 给出）", 1),
    "time": ("发帖时间（本地时区），如 2026-03-01 14:05", "2026-03-01 14:05"),
}

# Fields of rule types that look at a time window (frequency, spread).
WINDOW_FIELDS: dict[str, tuple[str, Any]] = {
    "count": ("窗口内的帖子数", 30),
    "minutes": ("时间窗口长度（分钟）", 60),
    "key": ("分组取值（query_key 的值，渠道显示中文名；没有分组时为“全部”）", "微博"),
    "channels": ("涉及的渠道，顿号分隔", "微博、QQ群"),
    "channel_count": ("涉及的渠道数", 2),
    "authors": ("不同作者数", 3),
    "topics": ("最多的 3 个话题，顿号分隔；没有时为“未分类”", "薪酬"),
    "examples": ("最多 3 条最新摘录（已遮盖个人信息），用“ / ”分隔", "示例一 / 示例二"),
    "first_excerpt": ("窗口内最早一条的摘录（已遮盖个人信息）", "示例摘录"),
    "first_time": ("窗口内最早一条的时间", "2026-03-01 13:10"),
}

_LONG_DIGITS = re.compile(r"\d{5,}")


def check_template(template: str, allowed: Mapping[str, tuple[str, Any]], file: str, where: str) -> None:
    """Refuse unknown placeholders and format specs that do not fit the value (e.g. {channel:.2f})."""
    try:
        names = [f for _, f, _, _ in string.Formatter().parse(template) if f is not None]
    except ValueError as exc:
        raise ConfigError(file, where, f"模板格式有误：{exc}（花括号本身请写成 {{{{ 和 }}}}）") from None
    for name in names:
        if name not in allowed:
            valid = "、".join("{" + n + "}" for n in allowed)
            shown = "{" + name + "}" if name else "{}"
            raise ConfigError(file, where, f"模板里的 {shown} 不是可用的占位符；可用：{valid}")
    try:
        template.format_map({k: sample for k, (_, sample) in allowed.items()})
    except (ValueError, TypeError, KeyError, IndexError) as exc:
        raise ConfigError(file, where, f"模板格式说明与取值类型不符：{exc}") from None


def render(template: str, fields: Mapping[str, Any], item: Item) -> str:
    """The rendered text, with the trigger post's personal values masked and then any other personal
    data `redact`ed (reasons and keywords may quote what they matched)."""
    return redact(scrub(template.format_map(fields), item))


def scrub(text: str, item: Item) -> str:
    """Replace any personal value found in the trigger post by its masked form."""
    for span in item.analysis.pii:
        raw = item.post.text[span.start:span.end]
        if len(raw) >= 3 and raw in text:
            text = text.replace(raw, mask_value(raw, span.kind))
    return text


def local_time(at: datetime, tz: ZoneInfo) -> str:
    return format_local(at, tz)


def _reasons(a: Any, score: str | None) -> str:
    texts = [r.text for r in a.reasons if score is None or r.score == score]
    return "；".join(dict.fromkeys(texts)) or "无"


def _keywords(item: Item) -> str:
    a, p = item.analysis, item.post
    pii_values = [p.text[s.start:s.end] for s in a.pii]
    keywords = [k for k in a.keywords
                if not _LONG_DIGITS.search(k) and "@" not in k and not any(k in v or v in k for v in pii_values)]
    return "、".join(keywords[:5]) or "无"


# how each POST_FIELDS value is made from (fields object): one small function per placeholder
_MAKERS: dict[str, Callable[["PostFields"], Any]] = {
    "rule": lambda f: f.rule_name,
    "rule_title": lambda f: f.rule_title,
    "spam": lambda f: float(f.item.analysis.spam),
    "rumour": lambda f: float(f.item.analysis.rumour),
    "grievance": lambda f: float(f.item.analysis.grievance),
    "abuse": lambda f: float(f.item.analysis.abuse),
    "polarity": lambda f: float(f.item.analysis.polarity),
    "sentiment": lambda f: f.item.analysis.sentiment.label_zh,
    "channel": lambda f: channel_label(f.item.post.channel),
    "channel_id": lambda f: f.item.post.channel,
    "topic": lambda f: f.item.analysis.topic or "未分类",
    "keywords": lambda f: _keywords(f.item),
    "pii": lambda f: "、".join(dict.fromkeys(s.label_zh for s in f.item.analysis.pii)) or "无",
    "excerpt": lambda f: masked_excerpt(f.item.post.text, f.item.analysis.pii),
    "reasons": lambda f: _reasons(f.item.analysis, None),
    "spam_reasons": lambda f: _reasons(f.item.analysis, "spam"),
    "rumour_reasons": lambda f: _reasons(f.item.analysis, "rumour"),
    "sentiment_reasons": lambda f: _reasons(f.item.analysis, "sentiment"),
    "abuse_reasons": lambda f: _reasons(f.item.analysis, "abuse"),
    "grievance_reasons": lambda f: _reasons(f.item.analysis, "grievance"),
    "claim": lambda f: f.debunk.claim if f.debunk else "",
    "clarification": lambda f: f.debunk.clarification if f.debunk else "",
    "cluster_size": lambda f: int(f.item.analysis.extra.get("cluster_size") or 0),
    "cluster_channels": lambda f: int(f.item.analysis.extra.get("cluster_channels") or 0),
    "cluster_authors": lambda f: int(f.item.analysis.extra.get("cluster_authors") or 0),
    "time": lambda f: local_time(f.item.post.created_at, f.tz),
}
assert list(_MAKERS) == list(POST_FIELDS), "every placeholder has its maker"


class PostFields(Mapping[str, Any]):
    """The POST_FIELDS values of a trigger post, and `extra` (a rule type's fields, which win), as
    a mapping for `render`. A value is made when a template first asks for it: a rule's templates
    use a few placeholders, and making all of them for every match was a tenth of the rules' time."""

    def __init__(self, item: Item, rule_name: str, rule_title: str, debunks: Mapping[int, Debunk],
                 tz: ZoneInfo, extra: Mapping[str, Any] | None = None) -> None:
        self.item, self.rule_name, self.rule_title, self.tz = item, rule_name, rule_title, tz
        debunk_id = item.analysis.debunk_id
        self.debunk = debunks.get(debunk_id) if debunk_id is not None else None
        self._values: dict[str, Any] = dict(extra or {})

    def __getitem__(self, name: str) -> Any:
        try:
            return self._values[name]
        except KeyError:
            make = _MAKERS[name]  # KeyError for an unknown name, as a dict would raise
        value = self._values[name] = make(self)
        return value

    def __iter__(self) -> Iterator[str]:
        return iter(dict.fromkeys([*_MAKERS, *self._values]))

    def __len__(self) -> int:
        return len(set(_MAKERS) | set(self._values))


def post_fields(item: Item, rule_name: str, rule_title: str, debunks: Mapping[int, Debunk],
                tz: ZoneInfo, extra: Mapping[str, Any] | None = None) -> PostFields:
    """The POST_FIELDS values for the trigger post (made on first use), with `extra` on top."""
    return PostFields(item, rule_name, rule_title, debunks, tz, extra)


def window_fields(match: Match, timeframe: timedelta, tz: ZoneInfo) -> dict[str, Any]:
    """The WINDOW_FIELDS values for a match over a window of events."""
    events: list[Event] = match.events
    channels = list(dict.fromkeys(channel_label(e.channel) for e in events))
    topics = Counter(e.topic for e in events if e.topic)
    first = events[0] if events else None
    return {
        "count": len(events),
        "minutes": int(timeframe.total_seconds() // 60),
        "key": key_label(match.rule.query_key, match.key),
        "channels": "、".join(channels) or "无",
        "channel_count": len(channels),
        "authors": len({e.author for e in events}),
        "topics": "、".join(t for t, _ in topics.most_common(3)) or "未分类",
        "examples": " / ".join(e.excerpt for e in events[-3:][::-1]) or "无",
        "first_excerpt": first.excerpt if first else "",
        "first_time": local_time(first.at, tz) if first else "",
    }
