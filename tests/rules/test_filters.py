"""Filter conditions: each one alone, negation and alternatives (pure: no store needed)."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from core.domain import Post
from rules import Item, load_rules
from rules.filters import CONDITIONS, FILTER_SCHEMA

TEXT = "听说下月绩效工资要砍掉三成，联系 13812345678 了解内幕，加VX领红包"


CASES = [
    ("{spam: {gte: 0.8}}", {"spam": 0.8}, True),
    ("{spam: {gte: 0.8}}", {"spam": 0.79}, False),
    ("{spam: {gt: 0.8}}", {"spam": 0.8}, False),
    ("{grievance: {gte: 0.7}}", {"grievance": 0.7}, True),
    ("{grievance: {gte: 0.7}}", {"grievance": 0.69}, False),
    ("{abuse: {gte: 0.8}, sentiment: [neg]}", {"abuse": 0.9, "sentiment": "neg"}, True),
    ("{abuse: {gte: 0.8}}", {"abuse": 0.5}, False),
    ("{rumour: {gte: 0.5, lt: 0.7}}", {"rumour": 0.6}, True),
    ("{rumour: {gte: 0.5, lt: 0.7}}", {"rumour": 0.7}, False),
    ("{polarity: {lte: -0.5}}", {"polarity": -0.9}, True),
    ("{polarity: {lte: -0.5}}", {"polarity": 0.1}, False),
    ("{sentiment: [neg, neu]}", {"sentiment": "neu"}, True),
    ("{sentiment: [neg]}", {"sentiment": "pos"}, False),
    ("{channel: [qq, board]}", {"channel": "qq"}, True),
    ("{channel: [qq, board]}", {"channel": "weibo"}, False),
    ("{topic: [薪酬]}", {"topic": "薪酬"}, True),
    ("{topic: [薪酬]}", {"topic": None}, False),
    ("{keywords_any: [红包, 刷单]}", {}, True),
    ("{keywords_any: [刷单, 兼职]}", {}, False),
    ("{keywords_all: [绩效, 工资]}", {}, True),
    ("{keywords_all: [绩效, 职称]}", {}, False),
    ("{keywords_any: [vx]}", {}, True),  # case-insensitive over the normalized text
    ("{regex: ['砍掉.成']}", {}, True),
    ("{regex: ['^绩效']}", {}, False),
    ("{pii: [phone]}", {"pii": [("phone", "13812345678")]}, True),
    ("{pii: [id_card, bank_card]}", {"pii": [("phone", "13812345678")]}, False),
    ("{debunked: true}", {"debunk_id": 3}, True),
    ("{debunked: true}", {}, False),
    ("{debunked: false}", {}, True),
    ("{cluster_size: {gte: 5}}", {"cluster_size": 7}, True),
    ("{cluster_size: {gte: 5}}", {}, False),  # no cluster information: the condition does not hold
    ("{cluster_channels: {gte: 2}}", {"cluster_channels": 1}, False),
    ("{cluster_authors: {gte: 3}}", {"cluster_authors": 3}, True),
    ("{not: {channel: [weibo]}}", {"channel": "weibo"}, False),
    ("{not: {channel: [weibo], spam: {gte: 0.9}}}", {"channel": "weibo", "spam": 0.5}, True),
    ("{any: [{spam: {gte: 0.9}}, {rumour: {gte: 0.9}}]}", {"rumour": 0.95}, True),
    ("{any: [{spam: {gte: 0.9}}, {rumour: {gte: 0.9}}]}", {"rumour": 0.5}, False),
    ("{spam: {gte: 0.5}, channel: [weibo]}", {"spam": 0.6, "channel": "qq"}, False),  # all must hold
    ("{author: {posts: {gte: 0}}}", {}, False),  # no store to ask: the condition does not hold
    ("{not: {author: {removed: {gte: 1}}}}", {}, True),
    ("{}", {}, True),
]


@pytest.mark.parametrize("filter_yaml, facts, expected", CASES)
def test_condition(rules_file, make_analysis, filter_yaml, facts, expected):
    facts = dict(facts)
    channel = facts.pop("channel", "weibo")
    path = rules_file(f"rules:\n  - {{name: r, title: 规则, type: match, filter: {filter_yaml},"
                      " actions: {flag: {reason: 命中}}}\n")
    (rule,) = load_rules(path)
    post = Post(channel=channel, source_id="1", author="u1", text=TEXT,
                created_at=datetime(2026, 3, 2, tzinfo=timezone.utc), id=1)
    assert rule.filter.test(Item.of(post, make_analysis(TEXT, **facts))) is expected


def test_every_condition_is_in_the_schema_and_tested():
    assert set(FILTER_SCHEMA["properties"]) == set(CONDITIONS)
    used = " ".join(f for f, _, _ in CASES)
    assert [c for c in CONDITIONS if f"{c}:" not in used] == []


def test_rules_with_the_same_filter_share_one_test_per_post(store, feed, make_engine):
    """The engine tests each distinct filter once per batch: equal filters (however their keys are
    ordered) have one key, different ones differ, and every rule still sees exactly its posts."""
    from rules.filters import compile_filter

    a = compile_filter({"sentiment": ["neg"], "spam": {"lt": 0.5}}, "f.yaml", "x")
    b = compile_filter({"spam": {"lt": 0.5}, "sentiment": ["neg"]}, "f.yaml", "y")
    c = compile_filter({"sentiment": ["neg"], "spam": {"lt": 0.6}}, "f.yaml", "z")
    assert a.key == b.key != c.key
    batch = [Item.of(*feed.make("太失望了", sentiment="neg")), Item.of(*feed.make("还可以"))]
    assert a.select(batch) is a.select(batch) and [i.text for i in a.select(batch)] == ["太失望了"]
    assert a.select(list(batch)) == a.select(batch) and a.select(iter(batch)) == a.select(batch)
    engine = make_engine("""
rules:
  - {name: neg, title: 负面, type: match, filter: {sentiment: [neg]}, actions: {flag: {reason: "负面"}}}
  - {name: neg_again, title: 负面2, type: match, filter: {sentiment: [neg]}, actions: {flag: {reason: "负面2"}}}
  - {name: spam, title: 广告, type: match, filter: {spam: {gte: 0.8}}, actions: {flag: {reason: "广告"}}}
""")
    assert engine.rules[0].filter is engine.rules[1].filter is not engine.rules[2].filter
    neg = feed.add("太失望了", sentiment="neg")
    spam = feed.add("加微信兼职", spam=0.9)
    feed.add("还可以")
    engine.process(store, 100)
    flagged = {i.post.id: sorted(f.rule for f in i.flags) for i in store.queue_items([neg.id, spam.id]).values()}
    assert flagged == {neg.id: ["neg", "neg_again"], spam.id: ["spam"]}
