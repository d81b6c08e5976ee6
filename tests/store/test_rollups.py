"""The dashboard's rollups (store/sqlite/rollups.py): kept as analyses are saved, equal to counting the
posts again, local days, the word cloud's words, trimming, and the period-bounded reads."""
from __future__ import annotations

import sqlite3
from collections import Counter
from datetime import date, datetime, timedelta, timezone

from hypothesis import given, settings as hsettings, strategies as st

from core.domain import Action, Analysis, AuditEvent, Case, CaseKind, CaseResponse, Decision, Flag, Post, ReasonCode, Sentiment, utcnow
from store.base import RuleResults
from store.sqlite import SqliteStore
from store.sqlite.rollups import WORDS_KEPT, cloud_words
from tests.store.conftest import CONTRACT

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def post(sid: str, at: datetime, channel: str = "weibo", text: str | None = None) -> Post:
    return Post(channel=channel, source_id=sid, author="u1", text=text or f"帖子{sid}", created_at=at)


def analysis(sentiment: Sentiment = Sentiment.NEU, topic: str | None = None, keywords: list[str] | None = None,
             spam: float = 0.0, polarity: float = 0.0) -> Analysis:
    return Analysis(normalized="x", tokens=[], sentiment=sentiment, polarity=polarity, spam=spam, rumour=0.0,
                    topic=topic, keywords=keywords or [], model_version="test-1")


def save(store, p: Post, a: Analysis) -> Post:
    store.ingest("t", [p], None)
    store.save_analyses([(p, a)])
    return p


def counts(store, first: date, last: date, channel: str | None = None) -> Counter:
    out: Counter = Counter()
    for r in store.daily_counts(first, last, channel):
        out[(r.day.isoformat(), r.channel, r.topic, r.sentiment)] += r.n
    return +out


@CONTRACT
def test_counts_follow_saved_analyses_in_local_days(store):
    # 23:30 local on 2 March is 15:30 UTC the same day; 00:30 local on 3 March is 16:30 UTC on 2 March
    late = datetime(2026, 3, 2, 23, 30, tzinfo=CST)
    save(store, post("a", late), analysis(Sentiment.NEG, "食堂", polarity=-0.5))
    save(store, post("b", late + timedelta(hours=1)), analysis(Sentiment.NEG, "食堂", polarity=-0.7))
    save(store, post("c", late + timedelta(hours=1), channel="qq"), analysis(Sentiment.POS, None, polarity=0.4))
    got = counts(store, date(2026, 3, 1), date(2026, 3, 4))
    assert got == Counter({("2026-03-02", "weibo", "食堂", "neg"): 1, ("2026-03-03", "weibo", "食堂", "neg"): 1,
                           ("2026-03-03", "qq", "", "pos"): 1})
    assert counts(store, date(2026, 3, 3), date(2026, 3, 3), "qq") == Counter({("2026-03-03", "qq", "", "pos"): 1})
    pol = {(r.day.isoformat(), r.channel): r.polarity for r in store.daily_counts(date(2026, 3, 1), date(2026, 3, 4))}
    assert pol[("2026-03-03", "weibo")] == -0.7
    assert store.rollup_channels(date(2026, 3, 3), date(2026, 3, 3)) == ["qq", "weibo"]


@CONTRACT
def test_a_post_analysed_again_moves_its_counts_and_words(store):
    p = save(store, post("a", T0), analysis(Sentiment.NEG, "食堂", ["饭菜", "涨价"]))
    edited = Post(channel=p.channel, source_id="a", author="u1", text="改过的帖子", created_at=T0)
    store.ingest("t", [edited], None)
    store.save_analyses([(edited, analysis(Sentiment.POS, "薪酬", ["绩效", "饭菜"]))])
    day = T0.date()
    assert counts(store, day, day) == Counter({(day.isoformat(), "weibo", "薪酬", "pos"): 1})
    assert dict(store.top_words(day, day)) == {"饭菜": 1, "绩效": 1}
    # and spam takes its words out of the cloud (the post still counts)
    store.save_analyses([(edited, analysis(Sentiment.POS, "薪酬", ["绩效", "饭菜"], spam=0.9))])
    assert store.top_words(day, day) == []
    assert sum(counts(store, day, day).values()) == 1


def test_cloud_words_leave_out_short_and_personal_looking_words():
    assert cloud_words(["食堂", "食", "13812345678", "a@b.cn", "食堂", " 绩效 ", "x" * 30]) == ["食堂", "绩效"]


@given(st.lists(st.text(min_size=0, max_size=12), max_size=8))
@hsettings(max_examples=200, deadline=None)
def test_cloud_words_never_hold_what_redact_would_mask(words):
    from core.masking import redact

    for w in cloud_words(words):
        assert redact(w) == w and len(w) >= 2
        assert cloud_words([w]) == [w]


@CONTRACT
def test_top_words_by_period_and_channel(store):
    for i, (ch, kws, days) in enumerate([("weibo", ["食堂", "涨价"], 0), ("weibo", ["食堂"], 0), ("qq", ["停车"], 0),
                                         ("qq", ["食堂"], 3)]):
        save(store, post(f"p{i}", T0 - timedelta(days=days), ch), analysis(keywords=kws))
    day = T0.date()
    assert store.top_words(day, day) == [("食堂", 2), ("停车", 1), ("涨价", 1)]
    assert store.top_words(day - timedelta(days=3), day) == [("食堂", 3), ("停车", 1), ("涨价", 1)]
    assert store.top_words(day, day, channel="qq") == [("停车", 1)]
    assert store.top_words(day, day, limit=1) == [("食堂", 2)]


def test_days_before_yesterday_keep_their_top_words_only(store):
    old = T0 - timedelta(days=5)
    pairs = []
    posts = [post(f"o{i}", old + timedelta(seconds=i)) for i in range(WORDS_KEPT + 30)]
    store.ingest("t", posts, None)
    for i, p in enumerate(posts):  # word w0 in every post, then one rare word each
        pairs.append((p, analysis(keywords=["常见词", f"罕见{i:04d}"])))
    store.save_analyses(pairs)
    first = old.date()
    assert len(store.top_words(first, first, limit=1000)) == WORDS_KEPT + 31  # not trimmed yet: newest day
    save(store, post("today", T0), analysis(keywords=["今天"]))  # a newer day: the old one gets trimmed
    words = dict(store.top_words(first, first, limit=1000))
    assert len(words) == WORDS_KEPT and words["常见词"] == WORDS_KEPT + 30
    assert dict(store.top_words(T0.date(), T0.date())) == {"今天": 1}


_word_rows = st.lists(st.tuples(st.sampled_from(["2026-03-01", "2026-03-02", "2026-03-03", "2026-03-04"]),
                                 st.sampled_from(["qq", "weibo"]), st.sampled_from("甲乙丙丁戊己庚辛"),
                                 st.integers(1, 4)), max_size=60, unique_by=lambda r: r[:3])


@hsettings(max_examples=60, deadline=None)
@given(_word_rows, st.sampled_from(["2026-03-01", "2026-03-02", "2026-03-03"]), st.integers(0, 4))
def test_trimming_keeps_the_top_words_of_each_closed_day_and_channel(tmp_path_factory, rows, start, kept):
    """Against the rule itself: in every (day, channel) from `start` up to `before` the words ranked
    by count (then word) past `kept` are deleted, groups of any size, nothing else touched."""
    from unittest import mock

    before = "2026-03-04"
    store = SqliteStore(tmp_path_factory.mktemp("trim") / "s.db")
    store.migrate()
    with store._tx() as c:
        c.executemany("INSERT INTO daily_words (day, channel, word, n) VALUES (?,?,?,?)", rows)
        c.execute("UPDATE rollup_meta SET value = ? WHERE key = 'words_trimmed_before'", (start,))
        with mock.patch("store.sqlite.rollups.WORDS_KEPT", kept):
            store._trim_words(c, before)
    groups: dict = {}
    for day, channel, word, n in rows:
        groups.setdefault((day, channel), []).append((day, channel, word, n))
    expected = set()
    for (day, _), group in groups.items():
        ranked = sorted(group, key=lambda r: (-r[3], r[2]))
        expected |= set(ranked[:kept] if start <= day < before else ranked)
    assert {tuple(r) for r in store._rows("SELECT day, channel, word, n FROM daily_words")} == expected
    store.close()


def test_rollups_are_rebuilt_for_another_time_zone_and_match_counting_again(tmp_path):
    path = tmp_path / "s.db"
    s = SqliteStore(path)
    s.migrate()
    late = datetime(2026, 3, 2, 23, 30, tzinfo=CST)  # 15:30 UTC
    for i in range(5):
        save(s, post(f"p{i}", late + timedelta(hours=i), channel="qq" if i % 2 else "weibo"),
             analysis(Sentiment.NEG if i % 2 else Sentiment.POS, "食堂" if i < 3 else None, ["食堂", f"词{i}"]))
    before = counts(s, date(2026, 3, 1), date(2026, 3, 5))
    s.close()
    utc = SqliteStore(path, timezone="UTC")
    utc.migrate()  # another zone: counted again
    got = counts(utc, date(2026, 3, 1), date(2026, 3, 5))
    assert sum(got.values()) == 5 and {k[0] for k in got} == {"2026-03-02"}  # all before 24:00 UTC
    utc.close()
    again = SqliteStore(path)
    again.migrate()
    assert counts(again, date(2026, 3, 1), date(2026, 3, 5)) == before
    assert dict(again.top_words(date(2026, 3, 1), date(2026, 3, 5)))["食堂"] == 5
    again.close()
    # a store from before the rollups: the migration finds posts and counts them
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM daily_counts")
    conn.execute("UPDATE rollup_meta SET value = '' WHERE key = 'tz'")
    conn.commit()
    conn.close()
    reopened = SqliteStore(path)
    reopened.migrate()
    assert counts(reopened, date(2026, 3, 1), date(2026, 3, 5)) == before
    reopened.close()
    # analyses written by hand, around save_analyses: fewer counted than analysed, counted again at start
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM daily_counts WHERE channel = 'qq'")
    conn.commit()
    conn.close()
    healed = SqliteStore(path)
    healed.migrate()
    assert counts(healed, date(2026, 3, 1), date(2026, 3, 5)) == before
    healed.close()
    # posts deleted later (retention) keep their days' counts: more counted than analysed is no reason
    conn = sqlite3.connect(path)
    conn.execute("DELETE FROM analyses WHERE post_id = (SELECT min(post_id) FROM analyses)")
    conn.commit()
    conn.close()
    kept = SqliteStore(path)
    kept.migrate()
    assert counts(kept, date(2026, 3, 1), date(2026, 3, 5)) == before
    kept.close()


@CONTRACT
def test_drill_posts_filters_pages_and_stops_looking_after_the_scan_window(store):
    now = utcnow()
    ids = []
    for i in range(12):
        p = save(store, post(f"d{i}", now - timedelta(hours=i), "qq" if i % 3 == 0 else "weibo"),
                 analysis(Sentiment.NEG if i % 2 else Sentiment.NEU, "食堂" if i % 4 == 0 else "薪酬",
                          ["食堂", "排队"] if i % 4 == 0 else ["绩效"], spam=0.9 if i == 8 else 0.0))
        ids.append(p.id)
    since, until = now - timedelta(days=1), now + timedelta(minutes=1)
    rows, resume = store.drill_posts(since, until, topic="食堂")
    assert [p.id for p, _ in rows] == [ids[0], ids[4], ids[8]] and resume is None
    rows, _ = store.drill_posts(since, until, word="排队")
    assert [p.id for p, _ in rows] == [ids[0], ids[4]]  # the spam post keeps its words out
    rows, _ = store.drill_posts(since, until, channel="qq", sentiment="neg")
    assert [p.id for p, _ in rows] == [ids[3], ids[9]]
    first, _ = store.drill_posts(since, until, limit=5)
    last = first[-1][0]
    second, _ = store.drill_posts(since, until, limit=5, before=(last.created_at, last.id))
    assert [p.id for p, _ in first + second] == ids[:10]
    # a window of 4 posts finds one 食堂 post, then says where to go on
    rows, resume = store.drill_posts(since, until, topic="食堂", scan=4, limit=3)
    assert [p.id for p, _ in rows] == [ids[0]] and resume is not None and resume[1] == ids[3]
    rows, resume = store.drill_posts(since, until, topic="食堂", scan=4, limit=3, before=resume)
    assert [p.id for p, _ in rows] == [ids[4]]
    assert store.drill_posts(now - timedelta(hours=2.5), until)[0][-1][0].id == ids[2]  # bounded by the period


def test_moderation_and_case_reads_are_bounded_by_the_period(store):
    now = utcnow()
    a = save(store, post("m1", now - timedelta(hours=5)), analysis())
    b = save(store, post("m2", now - timedelta(days=40), channel="qq"), analysis())
    store.commit_rule_results(RuleResults(
        flags=[Flag(post_id=a.id, rule="r", reason="x", created_at=now - timedelta(hours=4)),
               Flag(post_id=b.id, rule="r", reason="x", created_at=now - timedelta(days=40))],
        cases=[Case(kind=CaseKind.RUMOUR, key="k1", title="传言一", post_ids=[a.id], created_at=now - timedelta(hours=4)),
               Case(kind=CaseKind.RUMOUR, key="k2", title="传言二", post_ids=[b.id], created_at=now - timedelta(days=40))]))
    store.decide(Decision(post_id=a.id, moderator="mod", action=Action.APPROVE, reason_code=ReasonCode.OK,
                          created_at=now - timedelta(hours=3)), AuditEvent("mod", "decision.approve"))
    since = now - timedelta(days=7)
    [(decided, flagged, auto)] = store.moderation_times(since, now)
    assert round((decided - flagged).total_seconds() / 60) == 60 and not auto
    assert store.moderation_times(since, now, channel="qq") == []
    assert len(store.flag_times(since, now)) == 1 and store.flag_times(since, now, "qq") == []
    [line] = store.cases_opened(since, now)
    assert (line.title, line.posts, line.first_answer_at) == ("传言一", 1, None)
    store.add_case_response(CaseResponse(case_id=line.id, username="leader", where="教职工群", text="已澄清"),
                            AuditEvent("leader", "case.respond"))
    [line] = store.cases_opened(since, now)
    assert line.first_answer_at is not None
    assert store.cases_opened(since, now, channel="qq") == []
    assert [c.title for c in store.cases_opened(now - timedelta(days=60), now, channel="qq")] == ["传言二"]


def test_the_dashboard_reads_use_indexes(store):
    """EXPLAIN QUERY PLAN of every statement the dashboard's reads run, with and without a channel:
    nothing scans a whole table, and no read walks a channel's whole history by its (channel, id) index."""
    now = utcnow()
    save(store, post("x", now - timedelta(hours=1)), analysis(topic="食堂", keywords=["食堂"]))
    conn = store._conn()
    statements: list[str] = []
    conn.set_trace_callback(statements.append)
    day, since = now.date(), now - timedelta(days=90)
    try:
        for channel in (None, "weibo"):
            store.daily_counts(day - timedelta(days=90), day, channel)
            store.top_words(day - timedelta(days=90), day, channel)
            store.drill_posts(since, now, channel=channel, topic="食堂", word="食堂", sentiment="neg")
            store.moderation_times(since, now, channel)
            store.flag_times(since, now, channel)
            store.cases_opened(since, now, channel)
            store.grievance_leads(since, now, 0.5, state="open", channel=channel, limit=5)
    finally:
        conn.set_trace_callback(None)
    selects = [sql for sql in statements if sql.lstrip().upper().startswith("SELECT")]
    assert len(selects) >= 14
    for sql in selects:
        plan = [r[3] for r in conn.execute("EXPLAIN QUERY PLAN " + sql)]
        assert not any(step.startswith("SCAN ") and " USING " not in step and step != "SCAN w" for step in plan), (sql, plan)
        assert not any("sqlite_autoindex_posts_1" in step for step in plan), (sql, plan)


@hsettings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(list(Sentiment)),
                                   st.sampled_from([None, "食堂", "薪酬"]),
                                   st.lists(st.sampled_from(["饭菜", "涨价", "绩效", "住房"]), max_size=3),
                                   st.sampled_from([0.0, 0.9]), st.sampled_from([-0.5, 0.0, 0.25])),
                         min_size=1, max_size=6), min_size=1, max_size=5))
def test_after_any_batches_the_rollups_equal_counting_the_stored_analyses(tmp_path_factory, batches):
    """Batches of analyses, a post analysed again in a later batch or twice in one (the last is what
    is stored): the kept counts and words are what counting the stored analyses again gives."""
    s = SqliteStore(tmp_path_factory.mktemp("rollups") / "s.db")
    s.migrate()
    posts = [post(f"p{i}", T0 + timedelta(hours=7 * i), channel=["qq", "weibo"][i % 2]) for i in range(6)]
    s.ingest("t", posts, None)
    for batch in batches:
        s.save_analyses([(posts[i], analysis(sent, topic, kws, spam, pol)) for i, sent, topic, kws, spam, pol in batch])
    first, last = date(2026, 3, 1), date(2026, 3, 5)
    kept = (counts(s, first, last), sorted(s.top_words(first, last)),
            {(r.day, r.channel, r.topic, r.sentiment): round(r.polarity, 9) for r in s.daily_counts(first, last)})
    s.rebuild_rollups()
    again = (counts(s, first, last), sorted(s.top_words(first, last)),
             {(r.day, r.channel, r.topic, r.sentiment): round(r.polarity, 9) for r in s.daily_counts(first, last)})
    s.close()
    assert kept[0] == again[0] and kept[1] == again[1]
    assert {k: v for k, v in kept[2].items() if k in again[2]} == again[2]  # taken-back groups may stay at n = 0
