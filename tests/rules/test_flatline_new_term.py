"""`flatline` (a channel gone silent) and `new_term` (a term nobody used, suddenly everywhere)."""
from __future__ import annotations

from datetime import timedelta

from rules import RuleEngine

FLATLINE = """
rules:
  - name: channel_silent
    title: 渠道沉默
    type: flatline
    timeframe: {hours: 6}
    realert: {hours: 1}
    actions:
      alert: {level: yellow, title: "{key} 已 {silent_minutes} 分钟没有新帖子", body: "最后一条：{last_time}"}
"""

NEW_TERM = """
rules:
  - name: new_subject
    title: 新话题
    type: new_term
    timeframe: {hours: 6}
    reference: {days: 3}
    threshold: 4
    actions:
      alert: {level: yellow, title: "新出现的词“{key}”：{minutes} 分钟内 {count} 条", body: "{examples}"}
"""


class Clock:
    def __init__(self, t0) -> None:
        self.now = t0

    def __call__(self):
        return self.now


def test_a_channel_silent_for_the_timeframe_alerts_once_until_it_speaks_again(store, feed, rules_file, t0):
    clock = Clock(t0)
    engine = RuleEngine.from_file(rules_file(FLATLINE), [], clock=clock)
    feed.add("微博上的一条", minutes=0, channel="weibo")
    feed.add("QQ群里的一条", minutes=0, channel="qq")
    engine.process(store, 100)
    clock.now = t0 + timedelta(hours=3)
    feed.add("QQ群又有一条", minutes=180, channel="qq")
    engine.process(store, 100)
    clock.now = t0 + timedelta(hours=6, minutes=5)
    engine.process(store, 100)  # no new posts: time passing alone raises it
    (alert,) = store.alerts()
    assert alert.title == "微博 已 365 分钟没有新帖子" and alert.created_at == clock.now
    clock.now += timedelta(hours=2)
    engine.process(store, 100)
    assert len(store.alerts()) == 1  # one alert per silence (qq: 5 h silent, not yet)
    feed.add("微博恢复了", minutes=485, channel="weibo")
    clock.now += timedelta(minutes=1)
    engine.process(store, 100)
    clock.now += timedelta(hours=7)
    engine.process(store, 100)
    titles = sorted(a.title.split(" ")[0] for a in store.alerts())
    assert titles == ["QQ群", "微博", "微博"]  # qq fell silent too; weibo's second silence is a new alert


def test_silence_is_measured_from_arrival_not_from_the_posts_own_dates(store, feed, rules_file, t0):
    """A backfill of old posts arriving now is not a silent channel."""
    clock = Clock(t0 + timedelta(days=200))
    engine = RuleEngine.from_file(rules_file(FLATLINE), [], clock=clock)
    feed.many(5, "很久以前的帖子", start=0, step=60, channel="board")
    engine.process(store, 100)
    clock.now += timedelta(hours=1)
    engine.process(store, 100)
    assert store.alerts() == []


def test_a_term_never_seen_before_rising_fast_is_reported(store, feed, make_engine):
    engine = make_engine(NEW_TERM)
    for i in range(80):  # three quiet days of ordinary talk
        feed.add(f"食堂的菜价（{i}）", minutes=i * 60, keywords=["食堂", "菜价"])
    feed.many(3, "三号楼外墙掉砖了", start=80 * 60, step=20, keywords=["三号楼", "外墙", "掉砖"])
    engine.process(store, 1000)
    assert store.alerts() == []  # 3 < threshold 4
    feed.add("三号楼外墙又掉砖了，太危险", minutes=80 * 60 + 70, keywords=["三号楼", "外墙", "危险"])
    feed.add("食堂的菜价又涨了", minutes=80 * 60 + 71, keywords=["食堂", "菜价"])
    engine.process(store, 1000)
    keys = sorted(a.dedupe_key for a in store.alerts())
    assert keys == ["new_subject:三号楼", "new_subject:外墙"]  # 食堂 is old news


def test_nothing_is_new_before_the_reference_period_has_been_seen(store, feed, make_engine):
    engine = make_engine(NEW_TERM)
    feed.many(10, "开学第一天", start=0, step=10, keywords=["开学", "第一天"])
    engine.process(store, 1000)
    assert store.alerts() == []
