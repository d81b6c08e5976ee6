"""Retention (redaction in place, deletion with aggregates), erasure on request and online backups,
on a real SQLite file."""
from __future__ import annotations

import json
import sqlite3
import threading
import time
from datetime import timedelta


from core.domain import (Alert, Analysis, AuditEvent, Case, CaseKind, Flag, Level, PIISpan, Post, Reason, Sentiment,
                         WriteBack, utcnow)
from core.privacy import REMOVED, RetentionPolicy, apply_retention
from nlp.pii import find_personal_data
from store.base import DeadLetter, RuleResults
from store.sqlite import SqliteStore
from tests.store.conftest import CONTRACT

NOW = utcnow()
PHONE = "13812345678"


def post(key: str, text: str, hours_ago: float, channel: str = "weibo", author: str | None = None, **kw) -> Post:
    return Post(channel=channel, source_id=key, author=author or f"a-{key}", text=text,
                created_at=NOW - timedelta(hours=hours_ago), **kw)


def analysis(text: str, **kw) -> Analysis:
    base = dict(normalized=text, tokens=[], sentiment=Sentiment.NEU, polarity=0.0, spam=0.1, rumour=0.1,
                model_version="t")
    base.update(kw)
    return Analysis(**base)


def add(store: SqliteStore, p: Post, a: Analysis | None = None, ruled: bool = True, flags: list[Flag] = ()) -> Post:
    store.ingest("test", [p], None)
    if a is not None:
        store.save_analyses([(p, a)])
        if ruled:
            store.commit_rule_results(RuleResults(seen=[(p.id, p.version)],
                                                  flags=[Flag(post_id=p.id, rule=f.rule, reason=f.reason,
                                                              created_at=p.created_at) for f in flags]))
    return p


def every_text(path) -> str:
    """Every stored value of every table (the search index included), as one string."""
    db = sqlite3.connect(path)
    out = []
    for (table,) in db.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'posts_fts_%'"):
        for row in db.execute(f'SELECT * FROM "{table}"'):
            out.append(" ".join(str(v) for v in row))
    db.close()
    return "\n".join(out)


# ---------------------------------------------------------------------------- deletion keeps the counts
def _history(store: SqliteStore) -> None:
    specs = [  # key, channel, text, hours ago, sentiment, topic, grievance, flagged
        ("o1", "weibo", "食堂饭菜太差了", 24 * 40, Sentiment.NEG, "食堂", 0.8, True),
        ("o2", "qq", "停车位不够用", 24 * 41 + 5, Sentiment.NEG, "停车", 0.2, False),
        ("o3", "weibo", "工会活动很好", 24 * 45, Sentiment.POS, None, 0.1, False),
        ("o4", "board", "希望增加体检项目", 24 * 39, Sentiment.NEU, "福利", 0.9, True),
        ("n1", "weibo", "食堂最近好多了", 24 * 2, Sentiment.POS, "食堂", 0.1, False),
        ("n2", "qq", "绩效怎么还没发", 5, Sentiment.NEG, "薪酬", 0.7, True),
    ]
    for key, channel, text, hours, senti, topic, grievance, flagged in specs:
        add(store, post(key, text, hours, channel), analysis(text, sentiment=senti, topic=topic, grievance=grievance,
                                                              polarity={"neg": -0.6, "pos": 0.7}.get(senti.value, 0.0)),
            flags=[Flag(0, "r", "理由")] if flagged else [])
    add(store, post("u1", "还没分析的旧帖", 24 * 42, "board"))  # never analysed: counted by channel only


def _numbers(store: SqliteStore) -> dict:
    since, until = NOW - timedelta(days=60), NOW + timedelta(hours=1)
    stats = store.period_stats(since, until)
    return {
        "stats": {k: v for k, v in stats.items() if k not in ("response_minutes",)},
        "old_period": store.period_stats(NOW - timedelta(days=50), NOW - timedelta(days=35)),
        "days": [(p.start, p.pos, p.neu, p.neg, round(p.polarity_sum, 6))
                 for p in store.sentiment_series(since, until, bucket="day")],
        "hours": [(p.start, p.pos, p.neu, p.neg) for p in store.sentiment_series(NOW - timedelta(days=42), NOW - timedelta(days=38),
                                                                                  bucket="hour", channel="weibo")],
        "topics": store.topic_counts(since),
        "channels": store.channel_counts(),
        "counts": {k: store.counts()[k] for k in ("posts", "analyzed", "flagged")},
        "leads": store.grievance_topics(since, until),
        "ingested": store.metrics_snapshot()["posts_by_channel"],
    }


def test_deleting_old_posts_keeps_every_count_reports_and_the_overview_use(store):
    _history(store)
    before = _numbers(store)
    old = store.find_post("weibo", "o1")
    report = apply_retention(store, RetentionPolicy(posts_days=30), NOW)
    assert report.purged == 5 and not report.unfinished
    assert _numbers(store) == before
    assert store.get_post(old.id) is None and store.get_analysis(old.id) is None
    assert store.search("食堂饭菜") == [] and store.find_post("weibo", "n1") is not None
    db = sqlite3.connect(store.path)
    assert db.execute("SELECT count(*) FROM flags WHERE post_id = ?", (old.id,)).fetchone()[0] == 0
    assert db.execute("SELECT count(*) FROM posts").fetchone()[0] == 2
    # the same old comment fetched again is ignored: not stored, not counted twice
    result = store.ingest("test", [post("o1", "食堂饭菜太差了", 24 * 40)], None)
    assert result.ignored == 1 and result.new == 0
    assert _numbers(store) == before
    assert apply_retention(store, RetentionPolicy(posts_days=30), NOW).purged == 0  # nothing left to do


def test_deletion_removes_every_row_that_refers_to_a_post(store):
    p = add(store, post("x", "旧帖子要删除", 24 * 100), analysis("旧帖子要删除"), flags=[Flag(0, "r", "理由")])
    store.ingest("test", [post("x", "旧帖子改过了", 24 * 100)], None)  # a second version
    store.commit_rule_results(RuleResults(cases=[Case(kind=CaseKind.RUMOUR, key="k", title="事件", post_ids=[p.id])]))
    store.quarantine_failure("analyze", p.id, 2, "坏", NOW)
    store.set_lead_state(p.id, "handled", "", "officer", AuditEvent("officer", "lead.handled", f"post:{p.id}"))
    store.queue_writeback(WriteBack(post_id=p.id, collector="c", action="delete", requested_by="m"),
                          AuditEvent("m", "writeback.queue"))
    store.request_removal(p.id, "m", "other", "", AuditEvent("m", "decision.request"))
    assert store.purge_posts(NOW - timedelta(days=30)) == 1
    db = sqlite3.connect(store.path)
    for table in ("post_versions", "analyses", "flags", "case_posts", "quarantine", "leads", "writebacks",
                  "removal_requests"):
        assert db.execute(f"SELECT count(*) FROM {table}").fetchone()[0] == 0, table
    assert store.get_case(store.cases(status=None)[0].id).post_ids == []


# ---------------------------------------------------------------------------- redaction in place
def test_personal_data_is_redacted_in_place_once_analysed_and_ruled(store):
    text = f"食堂的事找我，电话 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}，邮箱 zhang.san@abc.edu.cn"
    first = add(store, post("p", f"第一版 {PHONE}", 3, thread=f"群 {PHONE}", author_name="张三丰",
                            raw={"nick": f"张三 {PHONE}"}), None)
    p = post("p", text, 3, thread=f"群 {PHONE}", author_name="张三丰", raw={"nick": f"张三 {PHONE}"})
    found = [PIISpan("phone", f.start, f.end) for f in find_personal_data(text) if f.kind == "phone"]
    add(store, p, analysis(text, pii=found, keywords=["食堂", PHONE], reasons=[Reason("pii", "phone", f"含手机号 {PHONE}", 1)]))
    waiting = add(store, post("w", f"还没过规则 {PHONE}", 3), analysis("x"), ruled=False)
    assert first.id == p.id and p.version == 2

    report = apply_retention(store, RetentionPolicy(pii_days=0), NOW)
    assert report.redacted == 1
    stored = store.get_post(p.id)
    assert PHONE not in stored.text and "138" in stored.text and "5678" in stored.text
    assert "zhang.san" not in stored.text
    assert PHONE not in stored.thread and stored.author_name == "张**" and PHONE not in json.dumps(stored.raw)
    assert all(PHONE not in v.text for v in store.post_versions(p.id))
    a = store.get_analysis(p.id)
    assert [s.kind for s in a.pii] == ["phone"]  # the analysis keeps that PII was there
    assert all(0 <= s.start < s.end <= len(stored.text) and "*" in stored.text[s.start:s.end] for s in a.pii)
    assert PHONE not in a.normalized and PHONE not in "".join(a.keywords) and PHONE not in a.reasons[0].text
    assert [x.id for x in store.search(PHONE)] == [waiting.id] and store.search("食堂")  # the index: redacted text
    assert PHONE in store.get_post(waiting.id).text  # the rules have not seen it yet
    everything = every_text(store.path)
    assert all("规则" in line for line in everything.splitlines() if PHONE in line)  # only the waiting post

    # the platform sends the same comment again: unchanged, not a new version with the phone number
    again = store.ingest("test", [post("p", text, 3, thread=f"群 {PHONE}", author_name="张三丰")], None)
    assert again.unchanged == 1 and store.get_post(p.id).version == 2
    assert apply_retention(store, RetentionPolicy(pii_days=0), NOW).redacted == 0


@CONTRACT
def test_dead_letters_are_redacted_and_then_deleted(store):
    store.ingest("t", [], None, dead=[DeadLetter("inbox/x.jsonl:1", f'{{"text": "{PHONE}"}}', "坏",
                                                 created_at=NOW - timedelta(days=10))])
    report = apply_retention(store, RetentionPolicy(posts_days=20, pii_days=5), NOW)
    assert report.dead_redacted == 1 and PHONE not in store.dead_letters()[0].raw
    assert apply_retention(store, RetentionPolicy(posts_days=5, pii_days=5), NOW).dead_purged == 1
    assert store.dead_letters() == []


# ---------------------------------------------------------------------------- erasure on request
def test_erasure_removes_an_authors_posts_everywhere_and_audits_without_content(store):
    mine = "我是王五，我实名举报后勤处长收回扣，证据确凿"
    other = "后勤的事大家都知道"
    p1 = add(store, post("m1", mine, 2, author="wang5", author_name="王五"),
             analysis(mine, rumour=0.9), flags=[Flag(0, "rumour_high", "疑似谣言")])
    store.ingest("t", [post("m1", mine + "（补充）", 2, author="wang5", author_name="王五")], None)  # version 2
    p2 = add(store, post("m2", mine, 1, channel="qq", author="wang5"), analysis(mine))  # another channel: kept
    o = add(store, post("o", other, 1, author="zhao"), analysis(other), flags=[Flag(0, "r", "理由")])
    excerpt = mine[:20] + "…"
    alerts = store.commit_rule_results(RuleResults(
        alerts=[Alert(rule="rumour_spread", level=Level.RED, title=f"传言：{excerpt}", body=f"例：{mine} / {other}",
                      dedupe_key="d1", post_ids=[p1.id, o.id], notifiers=["email"]),
                Alert(rule="rumour_post", level=Level.YELLOW, title=f"疑似谣言：{mine}", body="王五 发的",
                      dedupe_key="d2", post_ids=[p1.id], notifiers=["email"])],
        cases=[Case(kind=CaseKind.RUMOUR, key="k1", title=f"传言：{excerpt}", post_ids=[p1.id, o.id])]))
    store.ingest("t", [], None, dead=[DeadLetter("inbox/a.jsonl:3", json.dumps(
        {"channel": "weibo", "author": "wang5", "text": mine}, ensure_ascii=False), "坏")])
    store.push_inbound("bot", [json.dumps({"message": mine, "user_id": 5}), json.dumps({"message": other})], NOW)

    result = store.erase_author("wang5", "weibo", AuditEvent("admin", "privacy.erase", "author:wang5",
                                                             {"reason": "本人申请"}))
    assert result.posts == 1
    assert store.get_post(p1.id) is None and store.post_versions(p1.id) == [] and store.get_analysis(p1.id) is None
    assert store.get_post(p2.id) is not None and store.get_post(o.id) is not None
    assert [p.id for p in store.search("举报")] == [p2.id]
    red, yellow = store.get_alert(alerts[0].id), store.get_alert(alerts[1].id)
    assert red.post_ids == [o.id] and other in red.body and REMOVED in red.title
    assert mine[:8] not in red.title + red.body + yellow.title + yellow.body and "王五" not in yellow.body
    assert store.deliveries(yellow.id) == [] and len(store.deliveries(red.id)) == 1  # nothing left to say
    case = store.cases(status=None)[0]
    assert case.post_ids == [o.id] and mine[:8] not in case.title
    assert store.dead_letters() == [] and [p for _, p in store.inbound("bot", 0, 10)] == [json.dumps({"message": other})]
    assert store.queue_count() == 1
    everything = every_text(store.path)
    assert everything.count(mine[:12]) == 2  # the qq post (its text and analysis), not asked for
    event = store.audit_log(limit=1)[0]
    assert event.action == "privacy.erase" and event.detail["author"] == "wang5" and event.detail["channel"] == "weibo"
    assert event.detail["posts"] == 1 and event.detail["rows"]["posts"] == 1 and event.detail["reason"] == "本人申请"
    assert mine[:4] not in json.dumps(event.detail, ensure_ascii=False)
    assert store.counts()["posts"] == 3  # counts survive as aggregates
    again = store.ingest("t", [post("m1", mine, 2, author="wang5")], None)
    assert again.ignored == 1 and store.find_post("weibo", "m1") is None


# ---------------------------------------------------------------------------- online backup
def test_a_backup_taken_during_ingestion_holds_every_acknowledged_post(store, tmp_path):
    """A writer thread ingests batch after batch and records each batch once `ingest` has returned;
    the backup runs meanwhile. Every post acknowledged before the backup started is in the snapshot,
    and the snapshot is one consistent moment (each batch whole or absent)."""
    from store.backup import check_snapshot, take

    acked: list[set[tuple[str, str]]] = []
    stop = threading.Event()
    filler = "评论内容" * 200  # big enough that the copy takes a while

    def writer() -> None:
        i = 0
        while not stop.is_set() and i < 2000:
            batch = [post(f"b{i}-{j}", f"{filler}{i}-{j}", 1) for j in range(20)]
            store.ingest("writer", batch, str(i))
            acked.append({p.key for p in batch})
            i += 1

    thread = threading.Thread(target=writer)
    thread.start()
    try:
        while len(acked) < 30:
            time.sleep(0.01)
        before = set().union(*acked[:len(acked)])
        take(store, tmp_path / "snap.db")
        during = len(acked)
    finally:
        stop.set()
        thread.join()
    assert during < len(acked) or len(acked) < 2000, "the writer stopped before the backup: nothing ran concurrently"
    assert check_snapshot(tmp_path / "snap.db")["posts"] >= len(before)
    snap = sqlite3.connect(tmp_path / "snap.db")
    keys = set(snap.execute("SELECT channel, source_id FROM posts"))
    assert before <= keys
    batches = {k[1].split("-")[0] for k in keys}
    assert all(sum(1 for k in keys if k[1].split("-")[0] == b) == 20 for b in batches)  # no half batch
    last = max(int(b[1:]) for b in batches)
    assert snap.execute("SELECT value FROM checkpoints WHERE collector = 'writer'").fetchone()[0] == str(last)


def test_a_post_stuck_before_analysis_is_redacted_after_a_day(store):
    p = add(store, post("q", f"分析总是失败 {PHONE}", 24 * 3), None)
    store.quarantine_failure("analyze", p.id, 1, f"坏记录 {PHONE}", NOW)
    sqlite3.connect(store.path).execute("UPDATE posts SET ingested_at = ?", ((NOW - timedelta(days=2)).isoformat(),)
                                        ).connection.commit()
    assert apply_retention(store, RetentionPolicy(pii_days=1), NOW).redacted == 1
    assert PHONE not in store.get_post(p.id).text and PHONE not in store.quarantined()[0].error


def test_the_batched_index_is_the_per_text_index_before_and_after_redaction(tmp_path):
    """The index rows, and so every search, are the same whether the store cuts texts one by one or a
    batch at once: when the analyses are saved (the terms of the NLP step's tokens, store/index_terms.py;
    every query word jieba finds in a text finds its post), and after retention rewrites the index of
    redacted texts (`search_tokens` on the redacted text)."""
    from store.index_terms import IndexTerms

    from nlp.analyzer import Analyzer
    from nlp.tokenizer import search_tokens, search_tokens_many

    texts = [f"食堂的事找我，电话 {PHONE[:3]} {PHONE[3:7]} {PHONE[7:]}，邮箱 zhang.san@abc.edu.cn",
             "张老师说绩效改革方案出来了，身份证110101199003071234，卡号 6222 0212 3456 7890 128",
             "听说下月起绩效工资砍三成、年终奖取消，内部消息，速转！！", "加薇信 ｙｌａｕ８７３２９ 兼职刷单日结",
             "學術會議後勤醫療費補貼什麼時候發？", "哈" * 150 + "停车位太少了", "[图片] 😂😂 ok的，收到，谢谢工会",
             f"qq 12345678 或者 {PHONE}，找李老师 / 王主任"] + [f"第{i}条：食堂和停车的意见{i}" for i in range(20)]
    posts = [post(f"t{i}", t, 3) for i, t in enumerate(texts)]
    stores = [SqliteStore(tmp_path / "one.db", tokenize=search_tokens),
              SqliteStore(tmp_path / "batch.db", tokenize=search_tokens, tokenize_many=search_tokens_many)]
    analyses = Analyzer.load(use_window=False).pipe(posts)
    for s in stores:
        s.migrate()
        s.ingest("test", posts, None)
        s.save_analyses(list(zip(posts, analyses)))
        s.commit_rule_results(RuleResults(seen=[(p.id, p.version) for p in posts]))
    queries = ["食堂", "绩效", "电话", PHONE, "138", "zhang", "身份证", "学术会议", "哈哈", "停车位", "工会", "兼职", "微信"]

    def index(s: SqliteStore) -> list[tuple[int, str]]:
        with sqlite3.connect(s.path) as c:
            return c.execute("SELECT rowid, tokens FROM posts_fts ORDER BY rowid").fetchall()

    def searches(s: SqliteStore) -> list[list[int]]:
        return [[p.id for p in s.search(q, limit=100)] for q in queries]

    assert index(stores[0]) == index(stores[1]) and searches(stores[0]) == searches(stores[1])
    terms = IndexTerms(search_tokens)
    assert index(stores[1]) == [(p.id, " ".join(terms(a.tokens))) for p, a in zip(posts, analyses)]
    assert any(searches(stores[1]))
    for p in posts:  # recall: each query word the text's own cut yields finds the post
        words = set(search_tokens(p.text))
        assert all(p.id in [x.id for x in stores[1].search(q, limit=100)] for q in queries if q in words), p.text
    for s in stores:
        assert apply_retention(s, RetentionPolicy(pii_days=0), NOW).redacted == len(posts)
    assert index(stores[0]) == index(stores[1]) and searches(stores[0]) == searches(stores[1])
    redacted = stores[1].posts_by_ids([p.id for p in posts])
    assert index(stores[1]) == [(i, " ".join(search_tokens(redacted[i].text))) for i in sorted(redacted)]
    assert stores[1].search(PHONE) == [] and stores[1].search("食堂")
    for s in stores:
        s.close()
