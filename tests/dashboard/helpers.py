"""Helpers shared by the dashboard tests (fixtures are in conftest.py)."""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import jieba
from flask.testing import FlaskClient

from core.domain import (
    Alert,
    Analysis,
    AuditEvent,
    Case,
    CaseKind,
    Debunk,
    Flag,
    Level,
    PIISpan,
    Post,
    Reason,
    Role,
    Sentiment,
    utcnow,
)
from store.base import DeadLetter, RuleResults, Store

XSS_TEXT = '<script>window.__pwned=1</script><img src=x onerror="window.__pwned=2">'
PHONE = "13812345678"
ROLES = [r.value for r in Role]


def password_for(role: str) -> str:
    return f"pw-{role}-2024!"


def search_tokens(text: str) -> list[str]:
    return list(jieba.cut_for_search(text))


def make_analysis(text: str, **kw: Any) -> Analysis:
    base: dict[str, Any] = dict(normalized=text, tokens=search_tokens(text), sentiment=Sentiment.NEU, polarity=0.0,
                                spam=0.05, rumour=0.05, model_version="test-model-1")
    base.update(kw)
    return Analysis(**base)


def add_post(store: Store, key: str, channel: str, text: str, hours_ago: float, analysis: Analysis | None,
             **post_kw: Any) -> Post:
    post_kw.setdefault("author", f"uid-{key}")
    post = Post(channel=channel, source_id=key, text=text, created_at=utcnow() - timedelta(hours=hours_ago),
                **post_kw)
    store.ingest("test", [post], None)
    if analysis is not None:
        store.save_analyses([(post, analysis)])
    return post


@dataclass
class Seed:
    """Ids of what `seeded` put into the store."""

    posts: dict[str, int] = field(default_factory=dict)
    alerts: dict[str, int] = field(default_factory=dict)
    cases: dict[str, int] = field(default_factory=dict)
    debunk_id: int = 0
    created: dict[str, Any] = field(default_factory=dict)


def _seed_posts(store: Store, seed: Seed) -> dict[str, Post]:
    spam_reasons = [Reason("spam", "ad_lexicon", "命中广告词：兼职、刷单", 0.6),
                    Reason("spam", "contact", "含联系方式引流（加微信）", 0.3)]
    posts = {
        "spam": add_post(store, "spam", "qq", "加微信 兼职刷单 日结三百", 2,
                         make_analysis("加微信 兼职刷单 日结三百", spam=0.93, keywords=["兼职", "刷单"],
                                       reasons=spam_reasons, topic="其他"),
                         author_name="推广小王", thread="教职工交流群"),
        "privacy": add_post(store, "privacy", "wechat", f"我的手机号是{PHONE}，食堂的事可以找我", 5,
                            make_analysis(f"我的手机号是{PHONE}，食堂的事可以找我",
                                          pii=[PIISpan("phone", 6, 17)], keywords=["食堂", PHONE],
                                          reasons=[Reason("pii", "phone", "含手机号", 1.0)], topic="食堂"),
                            author_name="李老师"),
        "xss": add_post(store, "xss", "board", XSS_TEXT, 1, make_analysis(XSS_TEXT, spam=0.7)),
        "canteen": add_post(store, "canteen", "weibo", "食堂的饭菜最近改善了很多，点赞", 30,
                            make_analysis("食堂的饭菜最近改善了很多，点赞", sentiment=Sentiment.POS, polarity=0.8,
                                          topic="食堂", reasons=[Reason("sentiment", "model", "正面词：改善、点赞", 0.8)])),
        "rumour": add_post(store, "rumour", "weibo", "听说下月起绩效工资砍掉三成", 3,
                           make_analysis("听说下月起绩效工资砍掉三成", sentiment=Sentiment.NEG, polarity=-0.7,
                                         rumour=0.88, topic="薪酬", debunk_id=seed.debunk_id,
                                         reasons=[Reason("rumour", "hearsay", "传闻用语：听说", 0.5)])),
        "old": add_post(store, "old", "board", "停车位太少了", 24 * 10,
                        make_analysis("停车位太少了", sentiment=Sentiment.NEG, polarity=-0.5, topic="停车")),
    }
    # An edited post: same key, new text -> version 2, the first text kept as an earlier version.
    edited = Post(channel="wechat", source_id="edited", author="uid-edited", text="第一版：领导不作为",
                  created_at=utcnow() - timedelta(hours=4))
    store.ingest("test", [edited], None)
    edited2 = Post(channel="wechat", source_id="edited", author="uid-edited", text="第二版：希望领导多关心一线",
                   created_at=edited.created_at)
    store.ingest("test", [edited2], None)
    store.save_analyses([(edited2, make_analysis(edited2.text, sentiment=Sentiment.NEG, polarity=-0.3))])
    posts["edited"] = edited2
    return posts


def seed_store(store: Store) -> Seed:
    """Posts (spam, PII, XSS, rumour, edited, …), flags, cases, alerts, a debunk, a dead letter."""
    seed = Seed()
    debunk = store.save_debunk(
        Debunk(claim="下月起绩效工资砍掉三成", clarification="学校从未讨论削减绩效工资，以人事处正式通知为准。",
               keywords=["绩效", "砍"], source_url="https://hr.example.edu.cn/notice/1"),
        AuditEvent("system", "debunk.create"),
    )
    seed.debunk_id = debunk.id  # type: ignore[assignment]
    posts = _seed_posts(store, seed)
    seed.posts = {k: p.id for k, p in posts.items()}  # type: ignore[misc]
    flagged = ["spam", "privacy", "xss", "rumour", "edited"]
    reasons = {"spam": ("spam_high", "垃圾广告分数 0.93 ≥ 0.8"), "privacy": ("pii_any", "含个人信息：手机号"),
               "xss": ("spam_high", "疑似广告"), "rumour": ("rumour_high", "疑似谣言：0.88"),
               "edited": ("neg_words", "负面用语")}
    results = RuleResults(
        seen=[(p.id, p.version) for p in posts.values()],  # type: ignore[misc]
        flags=[Flag(post_id=seed.posts[k], rule=reasons[k][0], reason=reasons[k][1]) for k in flagged],
        cases=[Case(kind=CaseKind.RUMOUR, key="rumour-1", title="绩效工资削减传言", post_ids=[seed.posts["rumour"]]),
               Case(kind=CaseKind.FLOOD, key="flood-1", title="兼职广告刷屏",
                    post_ids=[seed.posts["spam"], seed.posts["privacy"]])],
        alerts=[Alert(rule="rumour_spread", level=Level.RED, title="谣言扩散：绩效工资", body="多渠道出现同一传言",
                      dedupe_key="r1", post_ids=[seed.posts["rumour"], seed.posts["privacy"]],
                      notifiers=["email", "webhook"]),
                Alert(rule="neg_surge", level=Level.YELLOW, title="负面情绪上升", body="近一小时负面帖子增多",
                      dedupe_key="s1", post_ids=[seed.posts["edited"]])],
        alert_case={0: ("rumour", "rumour-1")},
    )
    alerts = store.commit_rule_results(results)
    seed.alerts = {"red": alerts[0].id, "yellow": alerts[1].id}  # type: ignore[dict-item]
    seed.cases = {c.kind.value: c.id for c in results.cases}  # type: ignore[misc]
    email = [d for d in store.deliveries(seed.alerts["red"]) if d.notifier == "email"][0]
    store.delivery_failed(email.id, "SMTP 连接被拒绝", utcnow() + timedelta(minutes=5))  # type: ignore[arg-type]
    store.ingest("test", [], None, dead=[DeadLetter(source="inbox/bad.jsonl:3", raw="{not json", error="JSON 格式错误")])
    return seed


_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_from(client: FlaskClient, path: str) -> str:
    """The CSRF token from a page's forms (every page has one: login form or logout button)."""
    resp = client.get(path, follow_redirects=True)
    match = _TOKEN.search(resp.get_data(as_text=True))
    assert match, f"no CSRF token on {path} (status {resp.status_code})"
    return match.group(1)


def do_login(client: FlaskClient, username: str, password: str | None = None) -> Any:
    token = csrf_from(client, "/login")
    return client.post("/login", data={"username": username, "password": password or password_for(username),
                                       "csrf_token": token})


