"""`frequency`: N matching posts within the timeframe, per query_key value."""
from __future__ import annotations

from datetime import timedelta

FREQ = """
rules:
  - name: surge
    title: 负面激增
    type: frequency
    filter: {{sentiment: [neg]}}
    num_events: 3
    timeframe: {{minutes: 10}}
    realert: {{minutes: {realert}}}
    {extra}
    actions:
      alert:
        level: orange
        title: "{{key}}：{{minutes}} 分钟内 {{count}} 条负面"
        body: "渠道：{{channels}}；作者 {{authors}} 个；话题：{{topics}}；摘录：{{examples}}"
"""


def freq(realert: int = 60, extra: str = "") -> str:
    return FREQ.format(realert=realert, extra=extra)


def test_fires_at_n_within_the_timeframe_and_not_outside(store, feed, make_engine, t0):
    engine = make_engine(freq())
    feed.add("工资太低", minutes=0, sentiment="neg")
    feed.add("食堂太贵", minutes=5, sentiment="neg")
    feed.add("不错", minutes=6, sentiment="pos")  # does not match the filter
    feed.add("停车难", minutes=12, sentiment="neg")  # the first one is now 12 minutes old
    engine.process(store, 100)
    assert store.alerts() == []
    last = feed.add("职称评审不公平", minutes=13, sentiment="neg", topic="职称")
    engine.process(store, 100)
    (alert,) = store.alerts()
    assert alert.title == "全部：10 分钟内 3 条负面"
    assert alert.created_at == t0 + timedelta(minutes=13)
    assert len(alert.post_ids) == 3 and alert.post_ids[-1] == last.id
    assert "职称" in alert.body and "职称评审不公平" in alert.body


def test_exactly_the_timeframe_apart_is_outside(store, feed, make_engine):
    engine = make_engine(freq())
    for minute in (0, 5, 10):  # spans exactly 10 minutes: the window is shorter than that
        feed.add("差评", minutes=minute, sentiment="neg")
    engine.process(store, 100)
    assert store.alerts() == []


def test_counts_per_query_key(store, feed, make_engine):
    engine = make_engine(freq(extra="query_key: channel"))
    feed.add("差评1", minutes=0, channel="weibo", sentiment="neg")
    feed.add("差评2", minutes=1, channel="weibo", sentiment="neg")
    feed.add("差评3", minutes=2, channel="qq", sentiment="neg")
    feed.add("差评4", minutes=3, channel="qq", sentiment="neg")
    engine.process(store, 100)
    assert store.alerts() == []  # 4 negative posts, but no channel has 3
    feed.add("差评5", minutes=4, channel="qq", sentiment="neg")
    engine.process(store, 100)
    (alert,) = store.alerts()
    assert alert.title.startswith("QQ群：") and alert.dedupe_key == "surge:qq"
    assert "渠道：QQ群；" in alert.body


def test_posts_without_the_query_key_value_are_not_counted(store, feed, make_engine):
    engine = make_engine(freq(extra="query_key: topic"))
    for i in range(5):
        feed.add(f"差评{i}", minutes=i, sentiment="neg", topic=None)
    engine.process(store, 100)
    assert store.alerts() == []


def test_window_restarts_after_firing_and_realert_silences(store, feed, make_engine, t0):
    engine = make_engine(freq(realert=30))
    feed.many(6, sentiment="neg", start=0, step=1)  # two groups of three: 0-2 and 3-5
    feed.many(3, sentiment="neg", start=31, step=1)  # a third group after the realert window
    engine.process(store, 100)
    times = sorted(a.created_at for a in store.alerts())
    assert times == [t0 + timedelta(minutes=2), t0 + timedelta(minutes=33)]


def test_realert_zero_raises_every_match(store, feed, make_engine):
    engine = make_engine(freq(realert=0))
    feed.many(6, sentiment="neg", start=0, step=1)
    engine.process(store, 100)
    assert len(store.alerts()) == 2


def test_late_post_lands_in_its_place(store, feed, make_engine):
    engine = make_engine(freq())
    feed.add("差评1", minutes=20, sentiment="neg")
    feed.add("差评2", minutes=21, sentiment="neg")
    engine.process(store, 100)
    feed.add("迟到的旧帖", minutes=1, sentiment="neg")  # arrives late, 20 minutes older: outside
    engine.process(store, 100)
    assert store.alerts() == []
    feed.add("迟到但在窗口内", minutes=15, sentiment="neg")
    engine.process(store, 100)
    assert len(store.alerts()) == 1
