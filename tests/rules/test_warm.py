"""After a restart `warm` refills the windows from the store: it raises nothing again, but what it
replays counts toward the windows. Posts the rules have not seen yet are left for `process`."""
from __future__ import annotations

from datetime import timedelta

FREQ = """
rules:
  - name: surge
    title: 负面激增
    type: frequency
    filter: {sentiment: [neg]}
    num_events: 3
    timeframe: {minutes: 60}
    actions: {alert: {level: orange, title: "{count} 条负面", body: "{examples}"}}
  - name: neg_flag
    title: 负面
    type: match
    filter: {sentiment: [neg]}
    actions: {flag: {reason: 负面}}
"""

SPREAD = """
rules:
  - name: flood
    title: 刷屏
    type: spread
    filter: {spam: {gte: 0.5}}
    timeframe: {hours: 2}
    min_posts: 3
    actions:
      flag: {reason: "刷屏 {count} 条"}
      case: {kind: flood, title: "刷屏：{first_excerpt}"}
      alert: {level: yellow, title: "刷屏 {count} 条", body: "{examples}"}
"""


def test_warm_counts_seen_posts_toward_windows_without_firing(store, feed, make_engine, t0):
    feed.many(2, sentiment="neg", start=0)
    make_engine(FREQ).process(store, 100)  # the first run sees two
    restarted = make_engine(FREQ)
    assert restarted.warm(store, t0 + timedelta(minutes=5)) == 2
    assert store.alerts() == [] and store.queue_count() == 2  # warm flagged nothing again
    feed.add("第三条", minutes=3, sentiment="neg")
    restarted.process(store, 100)
    (alert,) = store.alerts()
    assert alert.title == "3 条负面"
    # the control: without warm, a restarted engine would have missed the surge
    cold = make_engine(FREQ)
    feed.many(2, sentiment="neg", start=200)
    cold.process(store, 100)
    assert len(store.alerts()) == 1


def test_warm_does_not_refire_what_fired_before_the_restart(store, feed, make_engine, t0):
    feed.many(3, sentiment="neg", start=0)
    make_engine(FREQ).process(store, 100)
    assert len(store.alerts()) == 1
    restarted = make_engine(FREQ)
    restarted.warm(store, t0 + timedelta(minutes=10))
    restarted.process(store, 100)
    assert len(store.alerts()) == 1 and store.queue_count() == 3
    feed.add("又一条", minutes=4, sentiment="neg")  # the window restarted after firing: 1 of 3
    restarted.process(store, 100)
    assert len(store.alerts()) == 1


def test_warm_leaves_unseen_posts_to_process(store, feed, make_engine, t0):
    feed.many(2, sentiment="neg", start=0)
    make_engine(FREQ).process(store, 100)
    feed.add("重启前到达、尚未处理", minutes=2, sentiment="neg")
    restarted = make_engine(FREQ)
    assert restarted.warm(store, t0 + timedelta(minutes=5)) == 2  # not the unseen third
    restarted.process(store, 100)
    assert [a.title for a in store.alerts()] == ["3 条负面"]  # fired once, counted once
    assert store.queue_count() == 3


def test_warm_only_replays_the_longest_timeframe(store, feed, make_engine, t0):
    feed.many(2, sentiment="neg", start=0)
    make_engine(FREQ).process(store, 100)
    restarted = make_engine(FREQ)
    assert restarted.warm(store, t0 + timedelta(minutes=90)) == 0  # both are older than 60 minutes


def test_warm_keeps_a_spreading_case_growing_without_a_second_alert(store, feed, make_engine, t0):
    for i in range(3):
        feed.add(f"加V领红包{i}", minutes=i, author="bot", spam=0.9, cluster="ad1")
    make_engine(SPREAD).process(store, 100)
    restarted = make_engine(SPREAD)
    assert restarted.warm(store, t0 + timedelta(minutes=5)) == 3
    late = feed.add("加V领红包3", minutes=10, author="bot", spam=0.9, cluster="ad1")
    restarted.process(store, 100)
    (case,) = store.cases()
    assert len(case.post_ids) == 4 and late.id in case.post_ids
    assert len(store.alerts()) == 1
    assert store.queue_count() == 4  # the three earlier posts were not flagged again
    assert [f.reason for f in store.queue_item(late.id).flags] == ["刷屏 4 条"]
