"""The SQLite store against the contract in store/base.py, on real files. Tests marked @CONTRACT also run
on the search-cluster stores (tests/store/conftest.py), as far as those are ported."""
from __future__ import annotations

import sqlite3
import threading
from datetime import datetime, timedelta, timezone

import pytest

from core.domain import (
    Action, Alert, Analysis, AuditEvent, Case, CaseKind, Debunk, Decision, Flag, FlagStatus, Level, PIISpan,
    Post, Reason, ReasonCode, Role, Sentiment, User,
)
from store.base import DeadLetter, RuleResults
from store.migrate import available
from tests.store.conftest import CONTRACT

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def post(sid: str, text: str, minutes: int = 0, channel: str = "weibo", author: str = "u1") -> Post:
    return Post(channel=channel, source_id=sid, author=author, text=text, created_at=T0 + timedelta(minutes=minutes))


def analysis(sentiment: Sentiment = Sentiment.NEU, polarity: float = 0.0, **kw) -> Analysis:
    return Analysis(normalized=kw.pop("normalized", "x"), tokens=[], sentiment=sentiment, polarity=polarity,
                    spam=kw.pop("spam", 0.0), rumour=kw.pop("rumour", 0.0), model_version="test-1", **kw)


def test_migrate_is_versioned_and_idempotent(store, tmp_path):
    assert store.migrate() == []  # already at the latest version
    names = [r[0] for r in sqlite3.connect(store.path).execute("SELECT name FROM schema_migrations")]
    assert names == [m.stem for m in available()] and names[0] == "0001_init"
    assert sqlite3.connect(store.path).execute("PRAGMA journal_mode").fetchone()[0] == "wal"


@CONTRACT
def test_ingest_same_post_twice_is_a_noop(store):
    first = store.ingest("inbox", [post("1", "食堂今天的红烧肉不错")], checkpoint="a")
    again = store.ingest("inbox", [post("1", "食堂今天的红烧肉不错")], checkpoint="b")
    assert (first.new, again.new, again.unchanged) == (1, 0, 1)
    assert store.counts()["posts"] == 1
    assert store.checkpoint("inbox") == "b"


@CONTRACT
def test_edited_post_keeps_earlier_versions(store):
    store.ingest("inbox", [post("1", "停车位太少了")], None)
    result = store.ingest("inbox", [post("1", "停车位太少了，希望增加")], None)
    assert result.updated == 1
    current = store.find_post("weibo", "1")
    assert current.text == "停车位太少了，希望增加" and current.version == 2
    assert [(v.version, v.text) for v in store.post_versions(current.id)] == [(1, "停车位太少了")]
    # the new version needs analysis again
    assert [p.version for p in store.posts_to_analyze(10)] == [2]


@CONTRACT
def test_a_post_the_database_refuses_becomes_a_dead_letter_and_the_rest_commits(store):
    bad = post("2", "x")
    bad.created_at = datetime(2026, 1, 1)  # naive: refused inside the transaction
    result = store.ingest("inbox", [post("1", "正常的评论"), bad, post("3", "另一条正常的评论")], checkpoint="after",
                          dead=[DeadLetter("inbox/a.jsonl:3", "{", "不是合法的 JSON")])
    assert (result.new, result.dead) == (2, 2)
    assert store.find_post("weibo", "1") and store.find_post("weibo", "3") and not store.find_post("weibo", "2")
    assert store.checkpoint("inbox") == "after"
    refused = [d for d in store.dead_letters() if d.source != "inbox/a.jsonl:3"]
    assert len(refused) == 1 and "数据库拒绝" in refused[0].error and '"source_id": "2"' in refused[0].raw


def test_ingest_is_atomic_when_the_database_fails(store, monkeypatch):
    calls = {"n": 0}
    real = type(store)._upsert

    def failing(self, c, p, now):
        calls["n"] += 1
        if calls["n"] == 2:
            raise sqlite3.OperationalError("database or disk is full")
        return real(self, c, p, now)

    monkeypatch.setattr(type(store), "_upsert", failing)
    with pytest.raises(sqlite3.OperationalError):
        store.ingest("inbox", [post("1", "正常的评论"), post("2", "第二条")], checkpoint="after",
                     dead=[DeadLetter("inbox/a.jsonl:3", "{", "不是合法的 JSON")])
    assert store.counts()["posts"] == 0
    assert store.counts()["dead_letters"] == 0
    assert store.checkpoint("inbox") is None


@CONTRACT
def test_dead_letters_keep_reason(store):
    store.ingest("inbox", [], "cp", dead=[DeadLetter("inbox/a.jsonl:3", "{oops", "不是合法的 JSON")])
    [d] = store.dead_letters()
    assert (d.source, d.raw, d.error) == ("inbox/a.jsonl:3", "{oops", "不是合法的 JSON")


@CONTRACT
def test_analysis_round_trip_and_chinese_search(store):
    store.ingest("inbox", [post("1", "绩效工资改革方案什么时候公布"), post("2", "食堂的饭菜越来越贵", 5)], None)
    todo = store.posts_to_analyze(10)
    a = analysis(Sentiment.NEG, -0.6, keywords=["绩效工资"], topic="薪酬待遇",
                 pii=[PIISpan("phone", 0, 11)], reasons=[Reason("sentiment", "model", "负面词：贵", 0.4)],
                 extra={"cluster": "c1", "cluster_size": 3})
    store.save_analyses([(p, a) for p in todo])
    got = store.get_analysis(todo[0].id)
    assert got.sentiment is Sentiment.NEG and got.keywords == ["绩效工资"] and got.extra["cluster_size"] == 3
    assert got.pii == [PIISpan("phone", 0, 11)] and got.reasons[0].text == "负面词：贵"
    assert store.posts_to_analyze(10) == []
    assert [p.source_id for p in store.search("绩效")] == ["1"]
    assert [p.source_id for p in store.search("绩效工资")] == ["1"]
    assert [p.source_id for p in store.search("食堂")] == ["2"]
    assert store.search("宿舍") == []
    assert store.search('"; DROP TABLE posts; --') == []


def _ruled_fixture(store):
    store.ingest("inbox", [post("1", "听说下个月绩效要砍", 0), post("2", "加薇信领红包", 1)], None)
    todo = store.posts_to_analyze(10)
    store.save_analyses([(todo[0], analysis(rumour=0.9)), (todo[1], analysis(spam=0.95))])
    return todo


def test_rule_results_commit_with_cursor(store):
    todo = _ruled_fixture(store)
    pairs = store.posts_for_rules(10)
    assert [p.source_id for p, _ in pairs] == ["1", "2"]
    results = RuleResults(
        seen=[(p.id, p.version) for p, _ in pairs],
        flags=[Flag(todo[0].id, "rumour", "疑似谣言"), Flag(todo[1].id, "spam", "疑似广告")],
        alerts=[Alert("rumour", Level.ORANGE, "谣言扩散", "……", "rumour:c1", [todo[0].id], ["邮件"])],
        cases=[Case(CaseKind.RUMOUR, "c1", "绩效谣言", [todo[0].id])],
        alert_case={0: ("rumour", "c1")},
    )
    [alert] = store.commit_rule_results(results)
    assert store.posts_for_rules(10) == []
    assert alert.id and alert.case_id == store.cases()[0].id
    assert [d.notifier for d in store.due_deliveries(datetime.now(timezone.utc))] == ["邮件"]
    assert store.last_alert_at("rumour:c1") is not None and store.last_alert_at("other") is None
    assert store.counts()["flagged"] == 2 and store.queue_count() == 2
    assert len(store.recent_analyzed(T0 - timedelta(hours=1), ruled_only=True)) == 2


def test_rule_results_failure_leaves_cursor(store):
    todo = _ruled_fixture(store)
    broken = RuleResults(seen=[(todo[0].id, 1)], flags=[Flag(999999, "x", "不存在的帖子")])
    with pytest.raises(sqlite3.IntegrityError):
        store.commit_rule_results(broken)
    assert len(store.posts_for_rules(10)) == 2
    assert store.counts()["flagged"] == 0


@CONTRACT
def test_decision_updates_queue_and_audits_in_one_go(store):
    todo = _ruled_fixture(store)
    store.commit_rule_results(RuleResults(seen=[(p.id, 1) for p in todo], flags=[Flag(todo[1].id, "spam", "疑似广告")]))
    [item] = store.review_queue()
    assert item.post.source_id == "2" and item.flags[0].reason == "疑似广告" and item.analysis.spam == 0.95
    store.decide(Decision(todo[1].id, "moderator", Action.REMOVE, ReasonCode.SPAM, "引流广告"),
                 AuditEvent("moderator", "decision.remove", f"post:{todo[1].id}", {"reason": "spam"}))
    assert store.queue_count() == 0 and store.queue_count(FlagStatus.REMOVED) == 1
    [removed] = store.review_queue(FlagStatus.REMOVED)
    assert removed.decision.reason_code is ReasonCode.SPAM
    [event] = store.audit_log()
    assert (event.actor, event.action, event.target) == ("moderator", "decision.remove", f"post:{todo[1].id}")
    assert [d.reason_code for d in store.decisions()] == [ReasonCode.SPAM]


@CONTRACT
def test_audit_log_reads_newest_first_by_actor_and_page(store):
    for i in range(5):
        store.audit(AuditEvent("admin" if i % 2 == 0 else "mod", f"act.{i}", f"post:{i}", {"n": i, "名": "张三"}))
    events = store.audit_log()
    assert [e.action for e in events] == [f"act.{i}" for i in reversed(range(5))]
    assert [e.id for e in events] == sorted((e.id for e in events), reverse=True) and len({e.id for e in events}) == 5
    assert events[0].detail == {"n": 4, "名": "张三"} and events[0].target == "post:4"
    assert [e.action for e in store.audit_log(actor="mod")] == ["act.3", "act.1"]
    assert [e.action for e in store.audit_log(limit=2, offset=1)] == ["act.3", "act.2"]
    assert store.audit_log(actor="nobody") == []


def test_audit_log_is_append_only(store):
    store.audit(AuditEvent("admin", "user.create", "user:x"))
    conn = sqlite3.connect(store.path)
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("UPDATE audit SET actor = 'someone-else'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        conn.execute("DELETE FROM audit")


@CONTRACT
def test_outbox_backoff_and_sent(store):
    todo = _ruled_fixture(store)
    [alert] = store.commit_rule_results(RuleResults(
        alerts=[Alert("spam", Level.YELLOW, "广告", "…", "k", [todo[1].id], ["hook"])]))
    now = datetime.now(timezone.utc)
    [d] = store.due_deliveries(now)
    store.delivery_failed(d.id, "连接被拒绝", now + timedelta(minutes=1))
    assert store.due_deliveries(now) == []
    [again] = store.due_deliveries(now + timedelta(minutes=2))
    assert again.attempts == 1 and again.last_error == "连接被拒绝"
    store.delivery_sent(d.id, now)
    assert store.due_deliveries(now + timedelta(days=1)) == []
    assert store.deliveries(alert.id)[0].state.value == "sent"


@CONTRACT
def test_users_and_debunks(store):
    store.add_user(User("mod", Role.MODERATOR, "hash"))
    with pytest.raises(ValueError):
        store.add_user(User("mod", Role.ADMIN, "hash2"))
    store.set_password("mod", "hash3")
    assert store.get_user("mod").password_hash == "hash3" and store.get_user("nobody") is None
    d = store.save_debunk(Debunk("下月绩效砍三成", "人事处未发布任何调整通知"), AuditEvent("admin", "debunk.create"))
    d.active = False
    store.save_debunk(d, AuditEvent("admin", "debunk.update"))
    assert store.debunks() == [] and store.debunks(active_only=False)[0].claim == "下月绩效砍三成"
    assert [e.action for e in store.audit_log()] == ["debunk.update", "debunk.create"]


@CONTRACT
def test_sentiment_series_buckets_in_local_time(store):
    # 23:30 and 00:30 Beijing time fall into two different local days
    store.ingest("inbox", [post("1", "a", 14 * 60 + 30), post("2", "b", 15 * 60 + 30), post("3", "c", 15 * 60 + 40)],
                 None)
    todo = store.posts_to_analyze(10)
    store.save_analyses([(todo[0], analysis(Sentiment.POS, 0.8)), (todo[1], analysis(Sentiment.NEG, -0.5)),
                         (todo[2], analysis(Sentiment.NEG, -0.7))])
    since = datetime(2026, 3, 1, tzinfo=CST)
    series = store.sentiment_series(since, since + timedelta(days=4), "day", "Asia/Shanghai")
    assert [p.start.day for p in series] == [1, 2, 3, 4]  # no gaps
    assert (series[1].pos, series[1].neg, series[2].neg) == (1, 0, 2)
    assert series[2].avg_polarity == pytest.approx(-0.6)
    hours = store.sentiment_series(since, since + timedelta(days=4), "hour")
    assert len(hours) == 96 and sum(p.total for p in hours) == 3


@CONTRACT
def test_store_is_safe_across_threads(store):
    def worker(n: int) -> None:
        store.ingest(f"c{n}", [post(f"{n}-{i}", f"评论 {n} {i}") for i in range(50)], checkpoint=str(n))

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.counts()["posts"] == 200


def test_a_row_that_cannot_be_read_back_is_quarantined_not_blocking(store):
    store.ingest("inbox", [post("1", "正常的评论"), post("2", "被改坏的评论", 1), post("3", "又一条", 2)], None)
    conn = sqlite3.connect(store.path)
    conn.execute("UPDATE posts SET raw = '{broken' WHERE source_id = '2'")
    conn.commit()
    for _ in range(3):
        assert [p.source_id for p in store.posts_to_analyze(10, skip_after=3)] == ["1", "3"]
    [held] = store.quarantined("analyze")
    assert held.attempts == 3 and "无法读取" in held.error
    assert "2" not in [p.source_id for p in store.posts_to_analyze(10, skip_after=3)]


@CONTRACT
def test_pushed_events_are_pruned_once_taken_and_a_day_old(store):
    t = datetime(2026, 3, 1, tzinfo=timezone.utc)
    old = store.push_inbound("qq", ['{"a":1}', '{"a":2}'], t)
    new = store.push_inbound("qq", ['{"a":3}'], t + timedelta(days=2))
    assert store.prune_inbound("qq", new[0], t + timedelta(days=1)) == 2  # taken and older than a day
    assert [i for i, _ in store.inbound("qq", 0, 10)] == new
    assert store.prune_inbound("qq", old[-1], t + timedelta(days=3)) == 0  # not yet taken: kept


def _snapshot(s) -> list[tuple]:
    with sqlite3.connect(s.path) as c:
        posts = c.execute("SELECT channel, source_id, text, version FROM posts ORDER BY id").fetchall()
        versions = c.execute("SELECT post_id, version, text FROM post_versions ORDER BY post_id, version").fetchall()
    return [posts, versions]


def test_batched_ingestion_equals_one_post_at_a_time(tmp_path):
    """A batch looks up the stored posts once (`_stored`); the outcome — new, unchanged, updated, the
    ids, versions and earlier versions — is what looking each post up on its own gives, also when
    the same post comes twice or more in one batch, edited or not."""
    from hypothesis import given, settings, strategies as st

    from store.sqlite import SqliteStore

    batches = st.lists(st.lists(st.tuples(st.sampled_from("abc"), st.sampled_from(["一", "二", "三"])), max_size=8),
                       min_size=1, max_size=5)
    runs = iter(range(10_000))

    @settings(max_examples=60, deadline=None)
    @given(batches)
    def check(stream):
        n = next(runs)
        fast = SqliteStore(tmp_path / f"fast{n}.db")
        slow = SqliteStore(tmp_path / f"slow{n}.db")
        for s in (fast, slow):
            s.migrate()
        for i, batch in enumerate(stream):
            outcomes = []
            for s, isolate in ((fast, False), (slow, True)):
                posts = [post(key, text, minutes=i) for key, text in batch]
                r = s._ingest("test", posts, None, (), isolate=isolate)
                outcomes.append(((r.new, r.unchanged, r.updated), [(p.id, p.version) for p in posts]))
            assert outcomes[0] == outcomes[1]
        assert _snapshot(fast) == _snapshot(slow)
        fast.close()
        slow.close()

    check()
