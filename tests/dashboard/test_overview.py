"""总览 — the officers' dashboard: every endpoint's numbers against hand-counted posts, the channel and
period filter, the case timeline, the 诉求 board and its actions, the drill-down (masked, keyset) and
who may read it."""
from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from core.domain import Action, AuditEvent, Case, CaseKind, CaseResponse, Decision, Flag, PIISpan, ReasonCode, Sentiment, utcnow
from store.base import RuleResults
from tests.dashboard.helpers import add_post, do_login, make_analysis

TZ = ZoneInfo("Asia/Shanghai")
PHONE = "13812345678"


def local_noon(days_ago: int) -> datetime:
    """Noon of a local day `days_ago` before today (today: one minute ago, never in the future)."""
    now = utcnow()
    if days_ago == 0:
        return now - timedelta(minutes=1)
    day = now.astimezone(TZ).date() - timedelta(days=days_ago)
    return datetime.combine(day, time(12), TZ)


def post_at(store, key: str, channel: str, days_ago: int, sentiment: Sentiment, topic: str | None,
            keywords: list[str], text: str | None = None, **kw):
    text = text or f"帖子{key}：" + "、".join(keywords)
    hours = (utcnow() - local_noon(days_ago)).total_seconds() / 3600
    return add_post(store, key, channel, text, hours,
                    make_analysis(text, sentiment=sentiment, topic=topic, keywords=keywords, **kw))


@pytest.fixture
def week(store):
    """Six posts: five in the last 7 local days, one 10 days ago."""
    N, P, U = Sentiment.NEG, Sentiment.POS, Sentiment.NEU
    return {
        "p1": post_at(store, "p1", "weibo", 0, N, "食堂", ["食堂", "涨价"]),
        "p2": post_at(store, "p2", "weibo", 0, P, "食堂", ["食堂"]),
        "p3": post_at(store, "p3", "qq", 0, N, "薪酬", ["绩效"]),
        "p4": post_at(store, "p4", "qq", 1, U, None, ["食堂"]),
        "p5": post_at(store, "p5", "wechat", 3, N, "薪酬", ["绩效", "食堂"], spam=0.9),
        "p6": post_at(store, "p6", "weibo", 10, N, "食堂", ["食堂"]),
    }


def test_trends_count_topics_channels_and_negative_share_per_day(client, login, week):
    login("officer")
    d = client.get("/api/overview/trends?days=7").get_json()
    today = utcnow().astimezone(TZ).date()
    assert d["days"] == [(today - timedelta(days=6 - i)).isoformat() for i in range(7)]
    assert d["total"] == [0, 0, 0, 1, 0, 1, 3] and d["negative"] == [0, 0, 0, 1, 0, 0, 2]
    assert d["negative_share"] == [None, None, None, 100.0, None, 0.0, 66.7]
    assert {t["name"]: t["counts"] for t in d["topics"]} == {
        "食堂": [0, 0, 0, 0, 0, 0, 2], "薪酬": [0, 0, 0, 1, 0, 0, 1], "未分类": [0, 0, 0, 0, 0, 1, 0]}
    assert {c["key"]: (c["name"], sum(c["counts"])) for c in d["channels"]} == {
        "weibo": ("微博", 2), "qq": ("QQ群", 2), "wechat": ("微信公众号", 1)}
    assert {t["name"]: (t["posts"], t["negative"], t["share"]) for t in d["topic_negative"]} == {
        "食堂": (2, 1, 50.0), "薪酬": (2, 2, 100.0), "未分类": (1, 0, 0.0)}
    qq = client.get("/api/overview/trends?days=7&channel=qq").get_json()
    assert qq["total"] == [0, 0, 0, 0, 0, 1, 1] and [c["key"] for c in qq["channels"]] == ["qq"]
    month = client.get("/api/overview/trends?days=30").get_json()
    assert sum(month["total"]) == 6 and len(month["days"]) == 30


def test_a_custom_range_and_unreadable_filters(client, login, week):
    login("officer")
    today = utcnow().astimezone(TZ).date()
    ten = (today - timedelta(days=10)).isoformat()
    d = client.get(f"/api/overview/trends?days=custom&from={ten}&to={ten}").get_json()
    assert d["days"] == [ten] and d["total"] == [1]
    # a preset chosen wins over leftover dates; nonsense falls back to 30 days; a range is at most 366 days
    assert len(client.get(f"/api/overview/trends?days=7&from={ten}&to={ten}").get_json()["days"]) == 7
    assert len(client.get("/api/overview/trends?days=abc&from=x&to=2026-13-01").get_json()["days"]) == 30
    assert len(client.get("/api/overview/trends?from=2000-01-01&to=2100-01-01").get_json()["days"]) == 366
    assert client.get("/api/overview/trends?days=custom&from=2000-01-01&to=2100-01-01").get_json()["days"][-1] \
        == today.isoformat()
    s = client.get(f"/api/sentiment?bucket=day&days=custom&from={ten}&to={today.isoformat()}").get_json()
    assert len(s["labels"]) == 11 and sum(s["total"]) == 6 and sum(s["neg"]) == 4 and sum(s["pos"]) == 1


def test_hot_words_come_from_keywords_without_spam_or_personal_data(client, login, week, store):
    post_at(store, "pii", "board", 0, Sentiment.NEU, None, [PHONE, "a@b.cn", "工会"])
    login("officer")
    words = {w["name"]: w["value"] for w in client.get("/api/overview/words?days=7").get_json()["words"]}
    assert words == {"食堂": 3, "涨价": 1, "绩效": 1, "工会": 1}  # p5 is spam: its words stay out
    assert {w["name"]: w["value"] for w in client.get("/api/overview/words?days=30").get_json()["words"]}["食堂"] == 4
    assert [w["name"] for w in client.get("/api/overview/words?days=7&channel=qq").get_json()["words"]] == ["绩效", "食堂"]


def test_moderation_times_and_workload(client, login, week, store):
    now = utcnow()
    p1, p2, p3 = week["p1"].id, week["p2"].id, week["p3"].id
    store.commit_rule_results(RuleResults(flags=[
        Flag(post_id=p1, rule="r", reason="x", created_at=now - timedelta(minutes=50)),
        Flag(post_id=p1, rule="r2", reason="y", created_at=now - timedelta(minutes=40)),  # the first flag counts
        Flag(post_id=p2, rule="r", reason="x", created_at=now - timedelta(minutes=30)),
        Flag(post_id=p3, rule="r", reason="x", created_at=now - timedelta(minutes=25))]))
    for pid, mod, minutes_ago in ((p1, "moderator", 20), (p3, "moderator", 15), (p2, "auto:spam_autoremove", 29)):
        store.decide(Decision(post_id=pid, moderator=mod, action=Action.APPROVE, reason_code=ReasonCode.OK,
                              created_at=now - timedelta(minutes=minutes_ago)), AuditEvent(mod, "decision.approve"))
    login("officer")
    d = client.get("/api/overview/moderation?days=7").get_json()
    assert d["summary"] == {"decided": 2, "auto": 1, "flagged": 3, "median": 20.0, "p90": 30.0}
    assert sum(d["decided"]) == 2 and sum(d["auto"]) == 1 and sum(d["flagged"]) == 3
    assert sorted(v for v in d["median"] if v is not None) in ([20.0], [10.0, 30.0])  # one local day, or two
    qq = client.get("/api/overview/moderation?days=7&channel=qq").get_json()["summary"]
    assert (qq["decided"], qq["median"], qq["flagged"]) == (1, 10.0, 1)


def test_the_page_shows_the_periods_cases_topics_and_channels(client, login, week, store):
    now = utcnow()
    store.commit_rule_results(RuleResults(cases=[
        Case(kind=CaseKind.RUMOUR, key="c1", title="食堂涨价传言", post_ids=[week["p1"].id, week["p2"].id],
             created_at=now - timedelta(hours=2)),
        Case(kind=CaseKind.SURGE, key="c2", title="旧的负面激增", post_ids=[week["p6"].id],
             created_at=now - timedelta(days=10))]))
    cases = store.cases_opened(now - timedelta(days=30), now + timedelta(minutes=1))
    by_title = {c.title: c.id for c in cases}
    store.add_case_response(CaseResponse(case_id=by_title["食堂涨价传言"], username="leader", where="群", text="已说明",
                                         created_at=now - timedelta(minutes=90)), AuditEvent("leader", "case.respond"))
    login("officer")
    html = client.get("/overview?days=7").get_data(as_text=True)
    assert "食堂涨价传言" in html and "2 条帖子" in html and "30 分钟后首次回应" in html
    assert "旧的负面激增" not in html
    assert f'/cases/{by_title["食堂涨价传言"]}' in html
    assert 'href="/overview/posts?topic=%E9%A3%9F%E5%A0%82&amp;days=7"' in html  # 食堂, drill-down keeps the filter
    assert "vendor/echarts-wordcloud.min.js" in html and 'data-kind="words"' in html
    assert "<script>" not in html  # no inline script
    html30 = client.get("/overview?days=30").get_data(as_text=True)
    assert "旧的负面激增" in html30 and "尚未回应" in html30
    only_qq = client.get("/overview?days=30&channel=qq").get_data(as_text=True)
    assert "食堂涨价传言" not in only_qq and 'value="qq" selected' in only_qq
    assert "/api/overview/trends?days=30&amp;channel=qq" in only_qq


def grievance(store, key: str, text: str, channel: str = "board", score: float = 0.9):
    return add_post(store, key, channel, text, 1, make_analysis(text, sentiment=Sentiment.NEG, topic="住房保障",
                                                                grievance=score,
                                                                pii=[PIISpan("phone", text.index(PHONE), text.index(PHONE) + 11)]
                                                                if PHONE in text else []))


def test_the_grievance_board_turns_a_lead_into_a_proposal_and_keeps_the_filter(client, login, store, post_form):
    lead = grievance(store, "g1", f"公寓漏水一个月没人修，电话{PHONE}")
    done = grievance(store, "g2", "停车证办理太慢")
    other = grievance(store, "g3", "班车时间不合理", channel="qq")
    grievance(store, "g4", "今天天气不错", score=0.2)
    store.set_lead_state(done.id, "handled", "", "officer", AuditEvent("officer", "lead.handled", f"post:{done.id}"))
    login("officer")
    html = client.get("/overview?days=7").get_data(as_text=True)
    assert "公寓漏水" in html and "班车时间" in html and "停车证" not in html and "今天天气" not in html
    assert PHONE not in html and "138****5678" in html
    board = client.get("/overview?days=7&channel=board").get_data(as_text=True)
    assert "公寓漏水" in board and "班车时间" not in board
    resp = post_form(f"/leads/{lead.id}", {"state": "proposal", "note": "列入提案",
                                           "next": "/overview?days=7&channel=board"}, page="/overview?days=7")
    assert resp.status_code == 302 and resp.headers["Location"] == "/overview?days=7&channel=board"
    assert store.lead_states([lead.id])[lead.id][:2] == ("proposal", "列入提案")
    assert "公寓漏水" not in client.get("/overview?days=7&channel=board").get_data(as_text=True)
    assert store.audit_log(limit=1)[0].action == "lead.proposal"
    assert other.id


def texts(html: str) -> list[str]:
    return re.findall(r'<p class="post-text">([^<]*)</p>', html)


def test_drill_down_by_topic_word_day_channel_and_sentiment(client, login, week):
    login("officer")
    get = lambda q: texts(client.get("/overview/posts?" + q).get_data(as_text=True))  # noqa: E731
    assert get("days=7&topic=食堂") == ["帖子p2：食堂", "帖子p1：食堂、涨价"]
    assert get("days=30&topic=食堂")[-1] == "帖子p6：食堂"  # a wider period reaches the older post
    assert get("days=7&topic=未分类") == ["帖子p4：食堂"]
    assert get("days=7&word=食堂") == ["帖子p2：食堂", "帖子p1：食堂、涨价", "帖子p4：食堂"]  # spam p5 left out
    assert get("days=7&channel=qq") == ["帖子p3：绩效", "帖子p4：食堂"]
    today = utcnow().astimezone(TZ).date()
    assert get(f"days=7&day={(today - timedelta(days=3)).isoformat()}") == ["帖子p5：绩效、食堂"]
    assert get(f"days=7&day={today.isoformat()}&sentiment=neg") == ["帖子p3：绩效", "帖子p1：食堂、涨价"]
    assert get("days=7&day=1999-01-01&topic=食堂") == ["帖子p2：食堂", "帖子p1：食堂、涨价"]  # a day outside: ignored
    page = client.get("/overview/posts?days=7&topic=食堂&sentiment=bogus").get_data(as_text=True)
    assert "话题：食堂" in page and "情感：" not in page


def test_drill_down_pages_by_keyset(client, login, store):
    for i in range(25):
        add_post(store, f"k{i}", "weibo", f"第{i:02d}条", i * 0.5 + 0.1, make_analysis(f"第{i:02d}条", topic="食堂"))
    login("officer")
    first = client.get("/overview/posts?days=7&topic=食堂").get_data(as_text=True)
    assert texts(first) == [f"第{i:02d}条" for i in range(20)]
    nxt = re.search(r'href="([^"]*after=[^"]+)"', first).group(1).replace("&amp;", "&")
    assert "topic=" in nxt and "days=7" in nxt
    assert texts(client.get(nxt).get_data(as_text=True)) == [f"第{i:02d}条" for i in range(20, 25)]
    assert client.get("/overview/posts?days=7&after=garbage").status_code == 200


def test_drill_down_masks_personal_data_for_officers_only(app, client, login, store):
    text = f"食堂问题请打我电话{PHONE}"
    add_post(store, "m", "wechat", text, 1, make_analysis(text, topic="食堂", pii=[PIISpan("phone", 9, 20)],
                                                          keywords=["食堂", PHONE]),
             author_name="张三丰")
    login("officer")
    html = client.get("/overview/posts?days=7&topic=食堂").get_data(as_text=True)
    assert PHONE not in html and "138****5678" in html and "张三丰" not in html
    admin = app.test_client()
    do_login(admin, "admin")  # admin may see personal data (roles.CLEAR_PII is everyone else's rule)
    assert PHONE in admin.get("/overview/posts?days=7&topic=食堂").get_data(as_text=True)


def test_hostile_words_and_texts_stay_data(client, login, store):
    text = '<script>window.__pwned=1</script><img src=x onerror=alert(1)>'
    add_post(store, "x", "board", text, 1, make_analysis(text, topic="<b>话题</b>", keywords=["<b onerror=x>", "食堂"]))
    login("officer")
    words = [w["name"] for w in client.get("/api/overview/words?days=7").get_json()["words"]]
    assert "<b onerror=x>" in words  # JSON data; the browser test shows it drawn on the canvas only
    html = client.get("/overview?days=7").get_data(as_text=True)
    assert "<b>话题</b>" not in html and "&lt;b&gt;话题&lt;/b&gt;" in html
    drill = client.get("/overview/posts", query_string={"days": 7, "word": "<b onerror=x>"}).get_data(as_text=True)
    assert "<script>window" not in drill and "&lt;script&gt;" in drill and "<b onerror" not in drill


@pytest.mark.parametrize("path", ["/overview?days=7", "/overview/posts?days=7&topic=食堂", "/api/overview/trends",
                                  "/api/overview/words", "/api/overview/moderation?days=90"])
def test_only_officers_and_admins_read_the_dashboard(app, path):
    anonymous = app.test_client().get(path).status_code
    assert anonymous == (401 if path.startswith("/api/") else 302)  # data: refused; pages: to the login page
    for role, status in (("moderator", 403), ("leader", 403), ("officer", 200), ("admin", 200)):
        c = app.test_client()
        do_login(c, role)
        assert c.get(path).status_code == status, role
