"""rules.templates.post_fields: every placeholder's value, made only when a template asks for it."""
from __future__ import annotations

from datetime import datetime, timezone
from zoneinfo import ZoneInfo

import pytest

from core.domain import Debunk, Post, Reason
from rules import templates
from rules.model import Item
from rules.templates import POST_FIELDS, post_fields, render
from tests.rules.conftest import analysis

TZ = ZoneInfo("Asia/Shanghai")
TEXT = "听说食堂要涨价，联系 13812345678 张老师"


def item() -> Item:
    post = Post("weibo", "s1", "u1", TEXT, datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc))
    a = analysis(TEXT, spam=0.25, rumour=0.75, polarity=-0.5, sentiment="neg", topic="食堂",
                 pii=[("phone", "13812345678")], debunk_id=3, cluster_size=4,
                 keywords=["食堂", "涨价", "13812345678", "张老师"],
                 reasons=[Reason("rumour", "hearsay", "含“听说”"), Reason("spam", "phone", "有手机号"),
                          Reason("rumour", "hearsay", "含“听说”")])
    return Item.of(post, a)


DEBUNKS = {3: Debunk(claim="食堂要涨价", clarification="食堂价格不变", source_url="", active=True, created_by="a",
                     created_at=datetime(2026, 3, 1, tzinfo=timezone.utc), id=3)}


def test_every_placeholder_has_its_value():
    fields = post_fields(item(), "rumour_post", "疑似谣言", DEBUNKS, TZ)
    assert list(fields) == list(POST_FIELDS)
    assert dict(fields) == {
        "rule": "rumour_post", "rule_title": "疑似谣言", "spam": 0.25, "rumour": 0.75, "grievance": 0.0,
        "abuse": 0.0, "polarity": -0.5, "sentiment": "负面", "channel": "微博", "channel_id": "weibo",
        "topic": "食堂", "keywords": "食堂、涨价、张老师", "pii": fields["pii"], "excerpt": fields["excerpt"],
        "reasons": "含“听说”；有手机号", "spam_reasons": "有手机号", "rumour_reasons": "含“听说”",
        "sentiment_reasons": "无", "abuse_reasons": "无", "grievance_reasons": "无", "claim": "食堂要涨价",
        "clarification": "食堂价格不变", "cluster_size": 4, "cluster_channels": 0, "cluster_authors": 0,
        "time": "2026-03-02 09:00"}
    assert "13812345678" not in fields["excerpt"] and fields["pii"] != "无"


def test_a_rule_types_fields_win_and_are_listed():
    fields = post_fields(item(), "r", "t", {}, TZ, {"count": 7, "topic": "窗口话题"})
    assert fields["count"] == 7 and fields["topic"] == "窗口话题" and fields["claim"] == ""
    assert list(fields)[-1] == "count" and len(fields) == len(POST_FIELDS) + 1


def test_a_value_is_made_only_when_a_template_asks_for_it(monkeypatch):
    made: list[str] = []
    real = templates.masked_excerpt
    monkeypatch.setattr(templates, "masked_excerpt", lambda *a: made.append("excerpt") or real(*a))
    fields = post_fields(item(), "r", "规则", {}, TZ)
    assert render("{rule_title}：{topic}", fields, fields.item) == "规则：食堂" and made == []
    assert "13812345678" not in render("{excerpt}", fields, fields.item) and made == ["excerpt"]
    render("{excerpt}", fields, fields.item)
    assert made == ["excerpt"]  # made once per match


def test_an_unknown_name_is_a_key_error_as_with_a_dict():
    with pytest.raises(KeyError):
        post_fields(item(), "r", "t", {}, TZ)["nope"]
