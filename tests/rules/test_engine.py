"""The engine over a real SQLite store: flags, alerts, realert on event time, masking, atomic commits."""
from __future__ import annotations

from datetime import timedelta

import pytest

from core.domain import AuditEvent, Debunk, Flag, FlagStatus, Reason
from store.sqlite import SqliteStore

SPAM_FLAG = """
rules:
  - name: spam_post
    title: 疑似垃圾广告
    type: match
    filter: {spam: {gte: 0.8}}
    actions:
      flag: {reason: "疑似垃圾广告（垃圾分 {spam:.2f}）：{spam_reasons}"}
"""

PII_ALERT = """
rules:
  - name: pii_leak
    title: 泄露个人信息
    type: match
    filter: {pii: [phone, id_card]}
    realert: {minutes: 60}
    actions:
      flag: {reason: "疑似泄露个人信息：{pii}"}
      alert:
        level: yellow
        title: "{channel}出现个人信息：{pii}"
        body: "摘录：{excerpt}。理由：{reasons}"
"""


def flags_of(store, post_id):
    item = store.queue_item(post_id)
    return [f.reason for f in item.flags] if item else []


def test_match_rule_flags_matching_posts_only_and_marks_all_seen(store, feed, make_engine):
    engine = make_engine(SPAM_FLAG)
    ad = feed.add("兼职刷单日结，加微信", spam=0.93,
                  reasons=[Reason("spam", "ad_lexicon", "命中广告词：兼职、刷单")])
    fine = feed.add("食堂今天的红烧肉不错", spam=0.1, minutes=1)
    assert engine.process(store, 100) == 2
    assert flags_of(store, ad.id) == ["疑似垃圾广告（垃圾分 0.93）：命中广告词：兼职、刷单"]
    assert flags_of(store, fine.id) == []
    assert store.queue_count(FlagStatus.PENDING) == 1
    assert store.posts_for_rules(100) == []  # both seen: processing again does nothing
    assert engine.process(store, 100) == 0
    assert store.queue_count(FlagStatus.PENDING) == 1


def test_flag_time_is_event_time(store, feed, make_engine, t0):
    engine = make_engine(SPAM_FLAG)
    ad = feed.add("刷单", spam=0.9, minutes=42)
    engine.process(store, 10)
    (flag,) = store.queue_item(ad.id).flags
    assert flag.created_at == t0 + timedelta(minutes=42)


def test_alert_masks_personal_data_and_goes_to_every_configured_notifier(store, feed, make_engine, t0):
    engine = make_engine(PII_ALERT, notifiers=["审核组邮件", "值班群"])
    text = "王老师电话 13812345678，身份证 110101199003071234，大家帮忙转告"
    post = feed.add(text, minutes=5, pii=[("phone", "13812345678"), ("id_card", "110101199003071234")],
                    reasons=[Reason("pii", "phone", "含手机号 13812345678")])
    engine.process(store, 10)
    (alert,) = store.alerts()
    assert alert.title == "微博出现个人信息：手机号、身份证号"
    assert "13812345678" not in alert.body and "110101199003071234" not in alert.body
    assert "138****5678" in alert.body  # masked, also inside the nlp reason text
    assert alert.created_at == t0 + timedelta(minutes=5)  # event time, not the wall clock
    assert alert.post_ids == [post.id]
    assert sorted(d.notifier for d in store.deliveries(alert.id)) == ["值班群", "审核组邮件"]
    assert flags_of(store, post.id) == ["疑似泄露个人信息：手机号、身份证号"]


def test_alert_with_named_notifiers_goes_only_there(store, feed, make_engine):
    text = PII_ALERT.replace('body: "摘录', 'notifiers: [值班群]\n        body: "摘录')
    engine = make_engine(text, notifiers=["审核组邮件", "值班群"])
    feed.add("电话 13812345678", pii=[("phone", "13812345678")])
    engine.process(store, 10)
    (alert,) = store.alerts()
    assert [d.notifier for d in store.deliveries(alert.id)] == ["值班群"]


@pytest.mark.parametrize("batch", [1, 100])
def test_realert_suppresses_within_window_and_allows_after_on_event_time(store, feed, make_engine, t0, batch):
    engine = make_engine(PII_ALERT)
    for minute in (0, 30, 59, 61, 100, 122):
        feed.add(f"电话 13812345678（{minute}）", minutes=minute, pii=[("phone", "13812345678")])
    while engine.process(store, batch):
        pass
    times = sorted(a.created_at for a in store.alerts())
    assert times == [t0, t0 + timedelta(minutes=61), t0 + timedelta(minutes=122)]
    assert store.queue_count() == 6  # flags are not subject to realert


def test_realert_uses_stored_alerts_across_engines(store, feed, make_engine, t0):
    feed.add("电话 13812345678", minutes=0, pii=[("phone", "13812345678")])
    make_engine(PII_ALERT).process(store, 10)
    feed.add("电话 13912345678", minutes=20, pii=[("phone", "13912345678")])
    make_engine(PII_ALERT).process(store, 10)  # a new engine (a restart): the store remembers
    assert len(store.alerts()) == 1


def test_query_key_separates_dedupe(store, feed, make_engine):
    engine = make_engine(PII_ALERT.replace("realert:", "query_key: channel\n    realert:"))
    feed.add("电话 13812345678", channel="weibo", pii=[("phone", "13812345678")])
    feed.add("电话 13812345679", channel="qq", minutes=1, pii=[("phone", "13812345679")])
    feed.add("电话 13812345670", channel="qq", minutes=2, pii=[("phone", "13812345670")])
    engine.process(store, 10)
    assert sorted(a.dedupe_key for a in store.alerts()) == ["pii_leak:qq", "pii_leak:weibo"]


def test_debunked_post_carries_the_clarification(store, feed, make_engine):
    debunk = store.save_debunk(
        Debunk(claim="下月起绩效工资砍掉三成", clarification="学校未出台任何削减绩效工资的文件，以人事处通知为准。"),
        AuditEvent(actor="admin", action="debunk.create"))
    engine = make_engine("""
        rules:
          - name: debunked_claim
            title: 已辟谣
            type: match
            filter: {debunked: true}
            actions: {flag: {reason: "与已辟谣的说法一致：“{claim}”。官方澄清：{clarification}"}}
    """)
    post = feed.add("听说绩效要砍三成了", debunk_id=debunk.id, rumour=0.8)
    other = feed.add("听说食堂要换承包商", rumour=0.8, minutes=1)
    engine.process(store, 10)
    assert flags_of(store, post.id) == [
        "与已辟谣的说法一致：“下月起绩效工资砍掉三成”。官方澄清：学校未出台任何削减绩效工资的文件，以人事处通知为准。"]
    assert flags_of(store, other.id) == []


class FailingStore(SqliteStore):
    """A store whose next commit fails half-way (a flag pointing at no post breaks a foreign key)."""

    fail = True

    def commit_rule_results(self, results):
        if self.fail:
            results.flags.append(Flag(post_id=999_999, rule="x", reason="坏数据"))
        return super().commit_rule_results(results)


SURGE_AND_FLAG = """
rules:
  - name: spam_post
    title: 垃圾广告
    type: match
    filter: {spam: {gte: 0.8}}
    actions: {flag: {reason: 垃圾广告}}
  - name: surge
    title: 负面激增
    type: frequency
    filter: {sentiment: [neg]}
    num_events: 3
    timeframe: {minutes: 60}
    actions: {alert: {level: orange, title: "{count} 条负面", body: "{examples}"}}
"""


def test_commit_is_atomic_and_a_retry_counts_each_post_once(tmp_path, make_engine, make_feed):
    store = FailingStore(tmp_path / "s.db")
    store.migrate()
    feed = make_feed(store)
    engine = make_engine(SURGE_AND_FLAG, notifiers=["邮件"])
    store.fail = False
    feed.many(2, sentiment="neg", spam=0.9)
    assert engine.process(store, 10) == 2
    feed.many(2, sentiment="neg", spam=0.9, start=10)
    store.fail = True
    # the batch fails, then each post alone fails too: nothing is written, each failure is counted
    assert engine.process(store, 10) == 2
    assert sorted(q.attempts for q in store.quarantined("rules")) == [1, 1]
    # nothing of the failed batch was written: its posts are still unseen, no flag, alert or delivery
    assert len(store.posts_for_rules(10)) == 2
    assert store.counts()["flagged"] == 2 and store.alerts() == [] and store.counts()["outbox_pending"] == 0
    store.fail = False
    assert engine.process(store, 10) == 2
    (alert,) = store.alerts()
    assert alert.title == "3 条负面"  # the failed attempt did not count the posts twice
    assert store.counts()["flagged"] == 4 and len(store.deliveries(alert.id)) == 1
    store.close()


def test_same_results_whatever_the_batch_size(tmp_path, make_engine, make_feed):
    """Event time only: feeding one post at a time or all at once gives the same flags and alerts."""
    outcomes = []
    for batch in (1, 7, 1000):
        store = SqliteStore(tmp_path / f"b{batch}.db")
        store.migrate()
        feed = make_feed(store)
        for i in range(12):
            feed.add(f"帖子{i}", minutes=i * 9, sentiment="neg" if i % 4 else "pos", spam=0.9 if i % 5 == 0 else 0.0)
        engine = make_engine(SURGE_AND_FLAG)
        while engine.process(store, batch):
            pass
        outcomes.append(([(a.title, a.created_at, a.post_ids) for a in store.alerts(limit=100)],
                         store.counts()["flagged"]))
        store.close()
    assert outcomes[0] == outcomes[1] == outcomes[2]
    assert len(outcomes[0][0]) >= 2
