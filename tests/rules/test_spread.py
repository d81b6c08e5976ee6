"""`spread`: a near-duplicate cluster across authors and channels becomes one case and one alert."""
from __future__ import annotations

from datetime import timedelta

SPREAD = """
rules:
  - name: rumour_spread
    title: 传言扩散
    type: spread
    filter: {rumour: {gte: 0.5}}
    timeframe: {hours: 6}
    min_posts: 3
    min_authors: 3
    min_channels: 2
    realert: {hours: 6}
    actions:
      flag: {reason: "传言扩散：{count} 条，{authors} 个账号，{channel_count} 个渠道"}
      case: {kind: rumour, title: "传言：{first_excerpt}"}
      alert:
        level: orange
        title: "传言扩散：{count} 条、{channel_count} 个渠道"
        body: "{first_time} 起：{channels}。摘录：{first_excerpt}"
"""

CLAIM = "听说下月绩效工资砍三成，速转"


def test_cluster_reaching_the_thresholds_makes_one_case_and_one_alert_and_the_case_grows(
        store, feed, make_engine, t0):
    engine = make_engine(SPREAD, notifiers=["邮件"])
    a = feed.add(CLAIM + "！", minutes=0, channel="wechat", author="a", rumour=0.8, cluster="c1")
    b = feed.add(CLAIM + "。", minutes=30, channel="wechat", author="b", rumour=0.7, cluster="c1")
    feed.add("食堂要换承包商了？", minutes=40, channel="qq", author="x", rumour=0.6, cluster="c2")
    engine.process(store, 100)
    assert store.cases() == [] and store.alerts() == []  # 2 posts, 1 channel: not yet
    c = feed.add(CLAIM + "!!", minutes=90, channel="qq", author="c", rumour=0.9, cluster="c1")
    engine.process(store, 100)
    (case,) = store.cases()
    assert (case.kind.value, case.key) == ("rumour", "c1")
    assert case.post_ids == sorted([a.id, b.id, c.id])
    assert case.title.startswith("传言：" + CLAIM)
    (alert,) = store.alerts()
    assert alert.case_id == case.id and alert.level.value == "orange"
    assert alert.title == "传言扩散：3 条、2 个渠道"
    assert alert.created_at == t0 + timedelta(minutes=90)
    assert alert.body.startswith("2026-03-02 09:00 起：微信公众号、QQ群。")
    assert store.queue_count() == 3  # every post of the cluster is flagged once
    # the rumour keeps spreading: the case grows, the alert is not repeated inside realert
    d = feed.add(CLAIM, minutes=120, channel="weibo", author="d", rumour=0.6, cluster="c1")
    e = feed.add(CLAIM, minutes=150, channel="weibo", author="e", rumour=0.6, cluster="c1")
    engine.process(store, 100)
    (case,) = store.cases()
    assert case.post_ids == sorted([a.id, b.id, c.id, d.id, e.id])
    assert len(store.alerts()) == 1
    assert store.queue_count() == 5
    assert [f.reason for f in store.queue_item(e.id).flags] == ["传言扩散：5 条，5 个账号，3 个渠道"]


def test_one_author_in_many_channels_is_not_a_spread(store, feed, make_engine):
    engine = make_engine(SPREAD)
    for i, channel in enumerate(["wechat", "weibo", "qq", "board", "weibo"]):
        feed.add(CLAIM, minutes=i, channel=channel, author="same", rumour=0.9, cluster="c1")
    engine.process(store, 100)
    assert store.cases() == [] and store.alerts() == []


def test_posts_below_the_filter_or_outside_the_timeframe_do_not_count(store, feed, make_engine):
    engine = make_engine(SPREAD)
    feed.add(CLAIM, minutes=0, channel="wechat", author="a", rumour=0.9, cluster="c1")
    feed.add(CLAIM, minutes=10, channel="qq", author="b", rumour=0.2, cluster="c1")  # not rumour-like
    feed.add(CLAIM, minutes=400, channel="qq", author="c", rumour=0.9, cluster="c1")  # > 6 h later
    feed.add(CLAIM, minutes=410, channel="qq", author="d", rumour=0.9, cluster="c1")
    engine.process(store, 100)
    assert store.cases() == []


def test_a_new_alert_after_the_realert_window(store, feed, make_engine, t0):
    engine = make_engine(SPREAD)
    for i, (channel, author) in enumerate([("wechat", "a"), ("qq", "b"), ("weibo", "c")]):
        feed.add(CLAIM, minutes=i, channel=channel, author=author, rumour=0.9, cluster="c1")
    engine.process(store, 100)
    feed.add(CLAIM, minutes=5 * 60, channel="qq", author="d", rumour=0.9, cluster="c1")  # inside 6 h
    feed.add(CLAIM, minutes=5 * 60 + 30, channel="weibo", author="e", rumour=0.9, cluster="c1")
    # 7 h: the first three have left the window, but the last three still spread on their own
    feed.add(CLAIM, minutes=7 * 60, channel="wechat", author="f", rumour=0.9, cluster="c1")
    engine.process(store, 100)
    times = sorted(a.created_at for a in store.alerts())
    assert times == [t0 + timedelta(minutes=2), t0 + timedelta(minutes=7 * 60)]
    (case,) = store.cases()
    assert len(case.post_ids) == 6
    assert all(a.case_id == case.id for a in store.alerts())
