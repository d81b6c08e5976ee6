"""`spike`: the current window outnumbers the baseline before it by `spike_height` times."""
from __future__ import annotations

SPIKE = """
rules:
  - name: neg_spike
    title: 负面突增
    type: spike
    filter: {{sentiment: [neg]}}
    timeframe: {{hours: 1}}
    reference: {{hours: 8}}
    spike_height: 3
    threshold_cur: 4
    threshold_ref: {threshold_ref}
    realert: {{hours: 2}}
    {extra}
    actions:
      alert:
        level: orange
        title: "{{key}}：{{minutes}} 分钟内 {{count}} 条负面，是基线 {{baseline}} 的 {{ratio}} 倍"
        body: "渠道：{{channels}}；摘录：{{examples}}"
      case:
        kind: surge
        title: "负面突增（{{key}}）"
"""


def spike(threshold_ref: int = 5, extra: str = "") -> str:
    return SPIKE.format(threshold_ref=threshold_ref, extra=extra)


def baseline(feed, n: int = 10, **kw) -> None:
    """n negative posts, one per hour, from minute 5 (the 8-hour baseline before minute 560 holds 8)."""
    for i in range(n):
        feed.add(f"食堂又涨价了（{i}）", minutes=i * 60 + 5, sentiment="neg", **kw)


def test_fires_when_the_last_hour_is_three_times_the_baseline(store, feed, make_engine):
    engine = make_engine(spike())
    baseline(feed)  # ~1 per hour
    feed.many(3, "绩效改革太不合理", start=601, step=5, sentiment="neg")
    engine.process(store, 1000)
    assert store.alerts() == []  # 3 in the hour: below threshold_cur
    feed.add("青年教师最吃亏", minutes=620, sentiment="neg")  # the 4th in an hour: 4 >= 3 x 1
    engine.process(store, 1000)
    (alert,) = store.alerts()
    assert "60 分钟内 4 条负面" in alert.title and "的 4.0 倍" in alert.title
    (case,) = store.cases(kind="surge")
    assert len(case.post_ids) == 4


def test_a_steady_high_level_is_not_a_spike(store, feed, make_engine):
    engine = make_engine(spike())
    feed.many(60, "停车位太少", start=0, step=11, sentiment="neg")  # ~5.5 per hour, all along
    engine.process(store, 1000)
    assert store.alerts() == []


def test_no_spike_before_the_baseline_is_full(store, feed, make_engine):
    engine = make_engine(spike(threshold_ref=0))
    feed.add("第一条吐槽", minutes=0, sentiment="neg")
    feed.many(8, "新渠道第一天就很热闹", start=300, step=2, sentiment="neg")  # 5 h of history < 9 h
    engine.process(store, 1000)
    assert store.alerts() == []


def test_too_thin_a_baseline_is_not_trusted(store, feed, make_engine):
    engine = make_engine(spike(threshold_ref=5))
    feed.add("很久以前的一条", minutes=0, sentiment="neg")
    feed.many(8, "突然很热闹", start=600, step=2, sentiment="neg")  # baseline holds 1 < 5 posts
    engine.process(store, 1000)
    assert store.alerts() == []


def test_one_surge_is_one_growing_case_and_one_alert(store, feed, make_engine):
    engine = make_engine(spike())
    baseline(feed)
    feed.many(12, "改革方案不公平", start=601, step=4, sentiment="neg")
    engine.process(store, 1000)
    assert len(store.alerts()) == 1
    (case,) = store.cases(kind="surge")
    assert len(case.post_ids) == 12
    # a second surge long after (baseline again quiet) is a new case
    feed.many(12, "又来一轮", start=601 + 15 * 60, step=4, sentiment="neg")
    baseline_later = [feed.add(f"零星吐槽{i}", minutes=601 + 60 * (5 + i), sentiment="neg") for i in range(8)]
    assert baseline_later
    engine.process(store, 1000)
    assert len(store.cases(kind="surge")) == 2


def test_counts_per_query_key(store, feed, make_engine):
    engine = make_engine(spike(extra="query_key: topic"))
    baseline(feed, topic="食堂餐饮")
    baseline(feed, topic="薪酬待遇")
    feed.many(5, "绩效太低", start=601, step=3, sentiment="neg", topic="薪酬待遇")
    engine.process(store, 1000)
    (alert,) = store.alerts()
    assert alert.title.startswith("薪酬待遇：")


def test_with_a_floor_a_spike_fires_from_day_one(store, feed, make_engine):
    """A new deployment has no week of history: the floor stands in for the missing baseline."""
    engine = make_engine(spike(threshold_ref=0, extra="floor: 2"))
    feed.many(5, "新方案太不合理", start=0, step=5, sentiment="neg")  # 5 in an hour, no history: 5 < 3 x 2
    engine.process(store, 1000)
    assert store.alerts() == []
    feed.add("真的太不合理了", minutes=30, sentiment="neg")  # 6 >= 3 x floor 2
    engine.process(store, 1000)
    (alert,) = store.alerts()
    assert "60 分钟内 6 条负面" in alert.title and "基线 2.0" in alert.title


def test_day_one_uses_the_history_there_is_when_it_is_above_the_floor(store, feed, make_engine):
    engine = make_engine(spike(threshold_ref=0, extra="floor: 2"))
    feed.many(12, "一直有人吐槽", start=0, step=15, sentiment="neg")  # 4 per hour for 3 h: baseline 4
    feed.many(9, "突然很多人吐槽", start=185, step=5, sentiment="neg")  # 9 in the 4th hour: < 3 x 4
    engine.process(store, 1000)
    assert store.alerts() == []
    feed.many(4, "越来越多", start=232, step=1, sentiment="neg")  # 13 ≥ 12
    engine.process(store, 1000)
    assert len(store.alerts()) == 1


def test_without_a_floor_the_rule_still_waits_for_a_full_baseline(store, feed, make_engine):
    engine = make_engine(spike(threshold_ref=0))
    feed.many(40, "新渠道第一天", start=0, step=1, sentiment="neg")
    engine.process(store, 1000)
    assert store.alerts() == []
