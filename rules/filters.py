"""A rule's `filter`: conditions on one analysed post, all of which must hold (AutoModerator style).

Compiled once at load (regexes included); testing a post is then a few comparisons. The JSON
schema of a filter lives here too, next to the code that gives each condition its meaning.
"""
from __future__ import annotations

import json
import operator
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from core.domain import PII_LABELS_ZH
from core.errors import ConfigError
from rules.model import Item

Test = Callable[[Item], bool]

OPS: dict[str, Callable[[float, float], bool]] = {
    "gte": operator.ge, "gt": operator.gt, "lte": operator.le, "lt": operator.lt,
}

# Numeric conditions: the value they read from a post, and its range (for the schema).
THRESHOLDS: dict[str, tuple[Callable[[Item], Any], float | None, float | None]] = {
    "spam": (lambda i: i.analysis.spam, 0.0, 1.0),
    "rumour": (lambda i: i.analysis.rumour, 0.0, 1.0),
    "grievance": (lambda i: i.analysis.grievance, 0.0, 1.0),
    "abuse": (lambda i: i.analysis.abuse, 0.0, 1.0),
    "polarity": (lambda i: i.analysis.polarity, -1.0, 1.0),
    "cluster_size": (lambda i: i.analysis.extra.get("cluster_size"), 0, None),
    "cluster_channels": (lambda i: i.analysis.extra.get("cluster_channels"), 0, None),
    "cluster_authors": (lambda i: i.analysis.extra.get("cluster_authors"), 0, None),
}

# The `author` condition's fields: what each reads from the author's standing (rules.model.AuthorStanding).
AUTHOR_FIELDS: dict[str, str] = {
    "posts": "该作者在本渠道的其他帖子数",
    "days": "从该作者在本渠道的第一条帖子到这条帖子的天数",
    "flagged": "该作者被规则标记过的帖子数",
    "removed": "该作者被删除的帖子数（审核员删除或规则自动删除）",
    "approved": "该作者被标记后经审核员通过的帖子数",
}

# Every condition a filter may use, with a one-line meaning (rules/README.md documents each).
CONDITIONS: dict[str, str] = {
    "spam": "垃圾广告分（0–1）的阈值",
    "rumour": "谣言风险分（0–1）的阈值",
    "grievance": "诉求分（0–1，教职工本人的投诉或请求）的阈值",
    "abuse": "辱骂攻击分（0–1）的阈值",
    "polarity": "情感极性（-1–1）的阈值",
    "sentiment": "情感类别之一：pos / neu / neg",
    "channel": "渠道之一",
    "topic": "话题之一",
    "keywords_any": "规范化文本包含其中任一词",
    "keywords_all": "规范化文本包含其中所有词",
    "regex": "规范化文本匹配其中任一正则（不区分大小写）",
    "pii": "含其中任一类个人信息",
    "debunked": "是否命中辟谣库",
    "cluster_size": "近似重复簇的帖子数阈值",
    "cluster_channels": "近似重复簇跨越的渠道数阈值",
    "cluster_authors": "近似重复簇的作者数阈值",
    "author": "作者在本渠道的历史（posts、days、flagged、removed、approved 的阈值）",
    "not": "其中条件不全成立",
    "any": "列表中任一子过滤器成立",
}


def _threshold_schema(lo: float | None, hi: float | None) -> dict[str, Any]:
    num: dict[str, Any] = {"type": "number"}
    if lo is not None:
        num["minimum"] = lo
    if hi is not None:
        num["maximum"] = hi
    return {"type": "object", "additionalProperties": False, "properties": {op: num for op in OPS}}


def _strings(min_items: int = 1) -> dict[str, Any]:
    return {"type": "array", "minItems": min_items, "items": {"type": "string", "minLength": 1}}


FILTER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        **{name: _threshold_schema(lo, hi) for name, (_, lo, hi) in THRESHOLDS.items()},
        "sentiment": {"type": "array", "minItems": 1, "items": {"enum": ["pos", "neu", "neg"]}},
        "channel": _strings(),
        "topic": _strings(),
        "keywords_any": _strings(),
        "keywords_all": _strings(),
        "regex": _strings(),
        "pii": {"type": "array", "minItems": 1, "items": {"enum": sorted(PII_LABELS_ZH)}},
        "debunked": {"type": "boolean"},
        "author": {"type": "object", "additionalProperties": False, "minProperties": 1,
                   "properties": {name: _threshold_schema(0, None) for name in AUTHOR_FIELDS}},
        "not": {"$ref": "#/$defs/filter"},
        "any": {"type": "array", "minItems": 1, "items": {"$ref": "#/$defs/filter"}},
    },
}


@dataclass(frozen=True)
class Filter:
    """All conditions must hold. An empty filter matches every post."""

    tests: tuple[tuple[str, Test], ...] = ()
    key: str = ""  # the filter as written (canonical JSON): load_rules gives rules with equal keys one Filter
    _last: list = field(default_factory=lambda: [None, []], compare=False, repr=False)  # [items, passing]

    def test(self, item: Item) -> bool:
        for _, t in self.tests:  # a loop, not all() over a generator: this runs for every rule and post
            if not t(item):
                return False
        return True

    def select(self, items: Iterable[Item]) -> list[Item]:
        """The items that pass, in order. Given the same list object again (the engine hands every
        rule the batch's one list, unchanged), the answer of the last call is reused: rules that share
        a filter test each post once."""
        last = self._last
        if isinstance(items, list) and last[0] is items:
            return last[1]
        test = self.test
        out = [i for i in items if test(i)]
        if isinstance(items, list):
            last[0], last[1] = items, out
        return out

    @property
    def names(self) -> list[str]:
        return [n for n, _ in self.tests]


def compile_filter(spec: dict[str, Any], file: str, where: str) -> Filter:
    """Build a Filter from an already schema-valid `filter` mapping; `where` names it in errors."""
    tests: list[tuple[str, Test]] = []
    for name, value in spec.items():
        tests.append((name, _condition(name, value, file, f"{where}.{name}")))
    tests.sort(key=lambda t: _COST.get(t[0], 0))  # stable: cheap tests first, the store last
    return Filter(tuple(tests), json.dumps(spec, ensure_ascii=False, sort_keys=True, default=str))


# Tests run cheapest first (all must hold, so the order changes nothing but the work): `author` asks
# the store, and only for the posts every other condition let through.
_COST = {"any": 1, "not": 1, "author": 2}


def _condition(name: str, value: Any, file: str, where: str) -> Test:
    if name in THRESHOLDS:
        return _threshold(THRESHOLDS[name][0], value, file, where)
    if name == "sentiment":
        wanted = frozenset(value)
        return lambda i: i.analysis.sentiment.value in wanted
    if name == "channel":
        channels = frozenset(value)
        return lambda i: i.post.channel in channels
    if name == "topic":
        topics = frozenset(value)
        return lambda i: i.analysis.topic in topics
    if name == "keywords_any":
        words = tuple(w.casefold() for w in value)
        return lambda i: any(w in i.text for w in words)
    if name == "keywords_all":
        words = tuple(w.casefold() for w in value)
        return lambda i: all(w in i.text for w in words)
    if name == "regex":
        patterns = tuple(_regex(p, file, f"{where}[{n}]") for n, p in enumerate(value))
        return lambda i: any(p.search(i.text) for p in patterns)
    if name == "pii":
        kinds = frozenset(value)
        return lambda i: any(s.kind in kinds for s in i.analysis.pii)
    if name == "debunked":
        want = bool(value)
        return lambda i: (i.analysis.debunk_id is not None) == want
    if name == "author":
        return _author(value, file, where)
    if name == "not":
        inner = compile_filter(value, file, where)
        if not inner.tests:
            raise ConfigError(file, where, "not 里至少要写一个条件")
        return lambda i: not inner.test(i)
    if name == "any":
        subs = tuple(compile_filter(f, file, f"{where}[{n}]") for n, f in enumerate(value))
        return lambda i: any(s.test(i) for s in subs)
    raise ConfigError(file, where, f"未知的条件，可用条件：{'、'.join(CONDITIONS)}")


def _threshold(read: Callable[[Any], Any], bounds: dict[str, float], file: str, where: str) -> Callable[[Any], bool]:
    if not bounds:
        raise ConfigError(file, where, "至少写一个比较：gte（≥）、gt（>）、lte（≤）、lt（<），例如 {gte: 0.8}")
    checks = tuple((OPS[op], float(x)) for op, x in bounds.items())

    def test(item: Item) -> bool:
        v = read(item)
        if not isinstance(v, (int, float)):
            return False
        v = float(v)
        for op, x in checks:  # a loop, not all() over a generator: this runs for every rule and post
            if not op(v, x):
                return False
        return True

    return test


def _author(fields: dict[str, dict[str, float]], file: str, where: str) -> Test:
    """Every threshold on the author's standing holds; no standing (no store to ask) never matches."""
    checks = tuple(_threshold(lambda a, n=name: getattr(a, n), bounds, file, f"{where}.{name}")
                   for name, bounds in fields.items())

    def test(item: Item) -> bool:
        standing = item.standing
        if standing is None:
            return False
        for check in checks:
            if not check(standing):
                return False
        return True

    return test


def _regex(pattern: str, file: str, where: str) -> re.Pattern[str]:
    try:
        return re.compile(pattern, re.IGNORECASE)
    except re.error as exc:
        raise ConfigError(
            file, where, f"正则表达式 {pattern!r} 无效：{exc}（请检查括号、转义；YAML 里建议用单引号包住正则）"
        ) from None
