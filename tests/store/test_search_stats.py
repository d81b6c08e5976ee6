"""The officers' dashboard and report aggregations (store/search/stats.py; SQLite: store/sqlite/stats.py and
rollups.py): tests marked @CONTRACT run on every backend, the rest show what only the clusters need —
officers changing one lead at once, deleted posts' aggregates, and the daily counts equal to SQLite's
for random posts, analyses and time zones."""
from __future__ import annotations

import tempfile
import threading
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings as hsettings, strategies as st

from core.domain import Analysis, AuditEvent, Post, Sentiment
from store.search.client import Connection
from store.sqlite import SqliteStore
from tests.store.conftest import CONTRACT, SEARCH, SEARCH_STORES

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def post(sid: str, at: datetime, channel: str = "weibo", text: str | None = None) -> Post:
    return Post(channel=channel, source_id=sid, author="u1", text=text or f"帖子{sid}", created_at=at)


def analysis(sentiment: Sentiment = Sentiment.NEU, topic: str | None = None, keywords: list[str] | None = None,
             spam: float = 0.0, polarity: float = 0.0, grievance: float = 0.0) -> Analysis:
    return Analysis(normalized="x", tokens=[], sentiment=sentiment, polarity=polarity, spam=spam, rumour=0.0,
                    topic=topic, keywords=keywords or [], model_version="test-1", grievance=grievance)


def save(store, pairs: list[tuple[Post, Analysis]]) -> list[Post]:
    store.ingest("t", [p for p, _ in pairs], None)
    store.save_analyses(pairs)
    return [p for p, _ in pairs]


def lead(store, post_id: int, state: str | None, by: str = "officer", note: str = "") -> None:
    store.set_lead_state(post_id, state, note, by, AuditEvent(by, f"lead.{state or 'open'}", f"post:{post_id}"))


# ---------------------------------------------------------------------------- the contract
@CONTRACT
def test_grievance_leads_by_state_topic_channel_and_page(store):
    specs = [  # minutes, channel, topic, grievance
        (0, "weibo", "食堂", 0.9), (10, "qq", "薪酬", 0.7), (20, "weibo", None, 0.6), (30, "weibo", "食堂", 0.5),
        (40, "qq", "食堂", 0.49999), (50, "weibo", "", 0.8), (60, "weibo", "薪酬", 0.95)]
    posts = save(store, [(post(f"g{i}", T0 + timedelta(minutes=m), ch), analysis(topic=tp, grievance=g))
                         for i, (m, ch, tp, g) in enumerate(specs)])
    ids = [p.id for p in posts]
    since, until = T0 - timedelta(hours=1), T0 + timedelta(hours=2)
    newest_first = [ids[6], ids[5], ids[3], ids[2], ids[1], ids[0]]  # 0.49999 is not a lead
    assert [p.id for p, _ in store.grievance_leads(since, until)] == newest_first
    assert [p.id for p, _ in store.grievance_leads(since, until, min_score=0.9)] == [ids[6], ids[0]]
    assert [p.id for p, _ in store.grievance_leads(since, until, topic="")] == [ids[5], ids[2]]  # none or ''
    assert [p.id for p, _ in store.grievance_leads(since, until, topic="食堂")] == [ids[3], ids[0]]
    assert [p.id for p, _ in store.grievance_leads(since, until, channel="qq")] == [ids[1]]
    assert [p.id for p, _ in store.grievance_leads(T0 + timedelta(minutes=20), until)] == newest_first[:4]
    first = store.grievance_leads(since, until, limit=4)
    last = first[-1][0]
    rest = store.grievance_leads(since, until, limit=4, before=(last.created_at, last.id))
    assert [p.id for p, _ in first + rest] == newest_first
    assert first[0][1].grievance == pytest.approx(0.95) and first[0][1].topic == "薪酬"

    lead(store, ids[6], "proposal", note="列入提案")
    lead(store, ids[3], "handled")
    lead(store, ids[2], "handled")
    lead(store, ids[2], None)  # open again
    assert [p.id for p, _ in store.grievance_leads(since, until, state="open")] == [ids[5], ids[2], ids[1], ids[0]]
    assert [p.id for p, _ in store.grievance_leads(since, until, state="proposal")] == [ids[6]]
    assert [p.id for p, _ in store.grievance_leads(since, until, state="handled", channel="qq")] == []
    assert [p.id for p, _ in store.grievance_leads(since, until, state="open", limit=2, before=(posts[5].created_at, ids[5]))
            ] == [ids[2], ids[1]]
    states = store.lead_states([ids[6], ids[3], ids[2], 999_999])
    assert set(states) == {ids[6], ids[3]}
    assert states[ids[6]][:3] == ("proposal", "列入提案", "officer") and states[ids[6]][3].tzinfo is not None
    assert [e.action for e in store.audit_log()] == ["lead.open", "lead.handled", "lead.handled", "lead.proposal"]

    assert store.grievance_topics(since, until) == [("", 2), ("薪酬", 2), ("食堂", 2)]  # most first, ties by name
    assert store.grievance_topics(since, until, min_score=0.9) == [("薪酬", 1), ("食堂", 1)]
    assert store.grievance_topics(until, until + timedelta(days=1)) == []


@CONTRACT
def test_topic_and_channel_counts_biggest_first_ties_by_name(store):
    rows = [("weibo", "食堂", Sentiment.NEG), ("weibo", "食堂", Sentiment.POS), ("qq", "薪酬", Sentiment.NEG),
            ("qq", "停车", Sentiment.NEU), ("board", None, Sentiment.NEG), ("board", "停车", Sentiment.NEG)]
    save(store, [(post(f"t{i}", T0 + timedelta(minutes=i), ch), analysis(s, tp)) for i, (ch, tp, s) in enumerate(rows)])
    store.ingest("t", [post("old", T0 - timedelta(days=3), "qq"), post("raw", T0, "qq")], None)  # not analysed
    store.save_analyses([(store.find_post("qq", "old"), analysis(Sentiment.NEG, "食堂"))])
    assert store.topic_counts(T0 - timedelta(hours=1)) == [("停车", 2, 1), ("食堂", 2, 1), ("薪酬", 1, 1)]
    assert store.topic_counts(T0 - timedelta(days=7), limit=1) == [("食堂", 3, 2)]
    assert store.topic_counts(T0 + timedelta(days=1)) == []
    assert store.channel_counts() == [("qq", 4), ("board", 2), ("weibo", 2)]  # every post, analysed or not
    assert store.rollup_channels(T0.date(), T0.date()) == ["board", "qq", "weibo"]
    assert store.rollup_channels(T0.date() - timedelta(days=3), T0.date() - timedelta(days=3)) == ["qq"]


@CONTRACT
def test_the_word_cloud_counts_each_post_once_and_breaks_ties_by_word(store):
    pairs = [(post(f"w{i}", T0 + timedelta(minutes=i)), analysis(keywords=kws, spam=spam)) for i, (kws, spam) in enumerate([
        (["食堂", "食堂", "排队"], 0.0), (["排队", "涨价"], 0.49), (["涨价", "食堂"], 0.5), ([" 绩效 ", "13812345678", "x"], 0.0),
        (["绩效"], 0.1)])]
    save(store, pairs)
    day = T0.date()
    assert store.top_words(day, day) == [("排队", 2), ("绩效", 2), ("涨价", 1), ("食堂", 1)]
    assert store.top_words(day, day, limit=2) == [("排队", 2), ("绩效", 2)]
    assert store.top_words(day + timedelta(days=1), day + timedelta(days=9)) == []


@CONTRACT
def test_drill_posts_of_posts_without_a_topic(store):
    posts = save(store, [(post(f"d{i}", T0 + timedelta(minutes=i)), analysis(topic=tp))
                         for i, tp in enumerate([None, "", "食堂"])])
    rows, resume = store.drill_posts(T0, T0 + timedelta(hours=1), topic="")
    assert [p.id for p, _ in rows] == [posts[1].id, posts[0].id] and resume is None
    rows, resume = store.drill_posts(T0, T0 + timedelta(hours=1), topic="", scan=2, limit=5)
    assert [p.id for p, _ in rows] == [posts[1].id] and resume == (posts[1].created_at, posts[1].id)


# ---------------------------------------------------------------------------- only the clusters
def _second_store(request, store):
    """Another store object on the same cluster and prefix: another service instance."""
    cluster = request.getfixturevalue(f"{store.backend}_cluster")
    cls = SEARCH_STORES[store.backend]
    return cls(cls.client_class(Connection(hosts=tuple(cluster.hosts))), store.names.prefix)


@SEARCH
def test_a_lead_changed_by_another_officer_meanwhile_is_read_again_not_overwritten_unseen(request, store):
    [p] = save(store, [(post("l1", T0), analysis(grievance=0.9))])
    other = _second_store(request, store)
    real_get = store.client.get
    interleaved = []

    def get_then_other_writes(index, doc_id):
        got = real_get(index, doc_id)
        if index.endswith("-leads") and not interleaved:
            interleaved.append(got)
            lead(other, p.id, "handled", by="officer2")  # lands between our read and our write
        return got

    store.client.get = get_then_other_writes
    sent = []
    real_bulk = store._bulk
    store._bulk = lambda actions, refresh=False: sent.append(actions) or real_bulk(actions, refresh)
    lead(store, p.id, "proposal", by="officer1", note="列入提案")
    assert len(sent) == 2  # the first write was refused (409), read again, then written
    assert sent[0][0] == sent[1][0]  # the same audit event both times: recorded once
    assert other.lead_states([p.id])[p.id][:3] == ("proposal", "列入提案", "officer1")
    assert sorted(e.actor for e in store.audit_log()) == ["officer1", "officer2"]
    other.close()


@SEARCH
def test_officers_changing_one_lead_at_once_from_two_instances(request, store):
    [p] = save(store, [(post("l1", T0), analysis(grievance=0.9))])
    stores = [store, _second_store(request, store)]
    errors = []

    def officer(n: int) -> None:
        try:
            for i in range(6):
                lead(stores[n % 2], p.id, ["proposal", "handled", None][(n + i) % 3], by=f"o{n}", note=f"{n}-{i}")
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=officer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    events = store.audit_log(limit=100)
    assert len(events) == 24 and len({e.id for e in events}) == 24  # every change recorded once
    states = store.lead_states([p.id])
    assert (states.get(p.id) or (None,))[0] in ("proposal", "handled", None)
    stores[1].close()


def _numbers(store, since: datetime, until: datetime) -> dict:
    first, last = since.date(), until.date()
    return {
        "days": sorted((r.day, r.channel, r.topic, r.sentiment, r.n, round(r.polarity, 6))
                       for r in store.daily_counts(first, last)),
        "qq_days": sorted((r.day, r.topic, r.n) for r in store.daily_counts(first, last, "qq")),
        "words": store.top_words(first, last), "weibo_words": store.top_words(first, last, "weibo"),
        "channels": store.rollup_channels(first, last), "all_channels": store.channel_counts(),
        "series": [(p.start, p.pos, p.neu, p.neg, round(p.polarity_sum, 6))
                   for p in store.sentiment_series(since, until, "day")],
        "hours": [(p.start, p.total) for p in store.sentiment_series(since, since + timedelta(days=1), "hour",
                                                                      channel="weibo")],
        "topics": store.topic_counts(since), "leads": store.grievance_topics(since, until),
    }


@SEARCH
def test_deleted_posts_are_still_counted_through_their_aggregates(store):
    day0 = datetime(2026, 1, 5, tzinfo=timezone.utc)
    rows = [  # hours after day0, channel, sentiment, topic, keywords, grievance, polarity
        (1, "weibo", Sentiment.NEG, "食堂", ["食堂", "涨价"], 0.8, -0.6), (1.5, "weibo", Sentiment.NEG, "食堂", ["食堂"], 0.2, -0.4),
        (17, "qq", Sentiment.POS, None, ["停车"], 0.0, 0.7), (30, "weibo", Sentiment.NEU, "薪酬", ["绩效", "食堂"], 0.9, 0.0),
        (49, "board", Sentiment.NEG, None, ["体检"], 0.6, -0.2)]
    old = save(store, [(post(f"o{i}", day0 + timedelta(hours=h), ch), analysis(s, tp, kws, grievance=g, polarity=pol))
                       for i, (h, ch, s, tp, kws, g, pol) in enumerate(rows)])
    save(store, [(post("new", day0 + timedelta(hours=30), "weibo"), analysis(Sentiment.POS, "食堂", ["食堂"], polarity=0.5))])
    store.ingest("t", [post("raw", day0 + timedelta(hours=2), "board")], None)  # never analysed
    raw = store.find_post("board", "raw")
    since, until = day0 - timedelta(days=1), day0 + timedelta(days=4)
    before = {**_numbers(store, since, until), "counts": {k: store.counts()[k] for k in ("posts", "analyzed")}}
    assert before["counts"] == {"posts": 7, "analyzed": 6}
    assert before["channels"] == ["board", "qq", "weibo"] and before["words"][0] == ("食堂", 4)

    doomed = store._docs_by_ids([p.id for p in old] + [raw.id])
    store._add_deleted_aggregates([h["_source"] for h in doomed.values()], flagged={old[0].id}, removed=set())
    store._bulk([({"delete": {"_index": h["_index"], "_id": h["_id"]}}, None) for h in doomed.values()], refresh=True)
    assert store.posts_by_ids(list(doomed)) == {}
    numbers = lambda: {**_numbers(store, since, until),  # noqa: E731
                       "counts": {k: store.counts()[k] for k in ("posts", "analyzed")}}
    assert numbers() == before
    assert store._deleted_counts() == {"posts": 6, "analyzed": 5, "flagged": 1}
    # the same batch again (the deletion was cut short and is repeated): nothing counted twice
    store._add_deleted_aggregates([h["_source"] for h in doomed.values()], flagged={old[0].id}, removed=set())
    assert numbers() == before


@SEARCH
def test_the_word_cloud_counted_in_full_equals_the_terms_aggregation(store, monkeypatch):
    """When a terms aggregation's top words cannot be shown exact, every word is counted (composite):
    both give the same answer."""
    words = ["食堂", "涨价", "绩效", "停车", "排队", "体检", "福利"]
    save(store, [(post(f"w{i}", T0 + timedelta(minutes=i), ["weibo", "qq"][i % 2]),
                  analysis(keywords=[words[j % len(words)] for j in range(i % 5 + 1)])) for i in range(40)])
    day = T0.date()
    fast = [store.top_words(day, day, limit=n) for n in (1, 3, 100)] + [store.top_words(day, day, "qq", limit=3)]
    monkeypatch.setattr(store, "_top_terms", lambda filters, limit: None)
    full = [store.top_words(day, day, limit=n) for n in (1, 3, 100)] + [store.top_words(day, day, "qq", limit=3)]
    assert fast == full and fast[2][0] == ("食堂", 40) and len(fast[2]) == 5


# ---------------------------------------------------------------------------- equal to SQLite
ZONES = ["Asia/Shanghai", "UTC", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe"]
BASE = datetime(2026, 3, 6, tzinfo=timezone.utc)  # New York moves its clocks on 8 March 2026

_analyses = st.builds(
    lambda s, tp, kws, spam, pol: analysis(s, tp, kws, spam, pol),
    st.sampled_from(list(Sentiment)), st.sampled_from([None, "", "食堂", "薪酬"]),
    st.lists(st.sampled_from(["食堂", "涨价", "绩效", "停车", "x", "13812345678", " 排队 "]), max_size=4),
    st.sampled_from([0.0, 0.49, 0.5, 0.9]), st.floats(-1, 1, allow_nan=False).map(lambda x: round(x, 3)))
_posts = st.lists(st.tuples(st.integers(0, 6 * 24 * 60), st.integers(0, 1), _analyses,
                            st.one_of(st.none(), _analyses)), min_size=1, max_size=10)


@pytest.mark.parametrize("backend", [pytest.param("opensearch", marks=pytest.mark.opensearch),
                                     pytest.param("elasticsearch", marks=pytest.mark.elasticsearch)])
def test_daily_counts_equal_sqlites_for_random_posts_and_time_zones(request, backend):
    cluster = request.getfixturevalue(f"{backend}_cluster")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    search = SEARCH_STORES[backend].from_settings({"hosts": cluster.hosts, "index_prefix": prefix})
    search.migrate()
    examples = iter(range(1_000_000))

    late = analysis(Sentiment.NEG, "食堂", ["食堂", "涨价"], polarity=-0.5)

    @given(st.sampled_from(ZONES), _posts)
    # late evening UTC is the next local day in Shanghai; 04:30 UTC on 8 March is before New York's 02:00
    # change and 23:30 the day before; Kolkata's half hours split a UTC hour across two local days
    @example("Asia/Shanghai", [(2 * 24 * 60 + 20 * 60, 0, late, None), (2 * 24 * 60 + 10 * 60, 1, late, analysis())])
    @example("America/New_York", [(2 * 24 * 60 + 4 * 60 + 30, 0, late, None), (2 * 24 * 60 + 7 * 60 + 30, 0, late, None)])
    @example("Asia/Kolkata", [(18 * 60 + 20, 0, late, None), (18 * 60 + 40, 0, analysis(Sentiment.POS), None)])
    @hsettings(max_examples=6, deadline=None, suppress_health_check=list(HealthCheck))
    def check(zone, specs):
        n = next(examples)
        channels = [f"e{n}a", f"e{n}b"]  # each example on channels of its own: the cluster keeps earlier ones
        search.timezone = zone
        with tempfile.TemporaryDirectory() as tmp:
            lite = SqliteStore(Path(tmp) / "s.db", timezone=zone)
            lite.migrate()
            for s in (lite, search):
                posts = [post(f"p{i}", BASE + timedelta(minutes=m), channels[c]) for i, (m, c, _, _) in enumerate(specs)]
                save(s, [(p, a) for p, (_, _, a, _) in zip(posts, specs)])
                again = [(p, a2) for p, (_, _, _, a2) in zip(posts, specs) if a2 is not None]
                if again:  # analysed again: the counts follow the newest analysis
                    s.save_analyses(again)
            first, last = BASE.date() - timedelta(days=1), BASE.date() + timedelta(days=7)
            mine = lambda rows: [r for r in rows if r.channel in channels]  # noqa: E731
            assert _days(mine(search.daily_counts(first, last))) == _days(lite.daily_counts(first, last))
            for ch in channels:
                assert _days(search.daily_counts(first, last, ch)) == _days(lite.daily_counts(first, last, ch))
                assert search.top_words(first, last, ch) == lite.top_words(first, last, ch)
                cut = BASE.date() + timedelta(days=2)
                assert search.top_words(first, cut, ch, limit=2) == lite.top_words(first, cut, ch, limit=2)
                a, b = BASE - timedelta(hours=5), BASE + timedelta(days=3, hours=7)
                assert _series(search.sentiment_series(a, b, "day", zone, ch)) == _series(
                    lite.sentiment_series(a, b, "day", zone, ch))
            assert [c for c in search.rollup_channels(first, last) if c in channels] == lite.rollup_channels(first, last)
            lite.close()

    try:
        check()
    finally:
        search.client.delete_everything(prefix)
        search.close()


def _days(rows) -> dict:
    out: Counter = Counter()
    pol: dict = {}
    for r in rows:
        key = (r.day, r.channel, r.topic, r.sentiment)
        out[key] += r.n
        pol[key] = round(pol.get(key, 0.0) + r.polarity, 6)
    return {k: (n, pol[k]) for k, n in out.items() if n}


def _series(points) -> list:
    return [(p.start, p.pos, p.neu, p.neg, round(p.polarity_sum, 6)) for p in points]


def test_a_day_histogram_is_used_only_where_local_days_hold_whole_utc_hours():
    from zoneinfo import ZoneInfo

    from store.search.stats import _whole_hours

    assert _whole_hours(ZoneInfo("Asia/Shanghai"), BASE, BASE + timedelta(days=400))
    assert _whole_hours(ZoneInfo("America/New_York"), BASE, BASE + timedelta(days=30))
    assert not _whole_hours(ZoneInfo("Asia/Kolkata"), BASE, BASE + timedelta(days=1))
    lord_howe = ZoneInfo("Australia/Lord_Howe")  # +10:30, +11 in the southern summer
    assert not _whole_hours(lord_howe, datetime(2026, 1, 1, tzinfo=timezone.utc), datetime(2026, 6, 1, tzinfo=timezone.utc))
    assert date(2026, 3, 8) in {(BASE + timedelta(days=i)).date() for i in range(7)}  # the DST change is in the window


@SEARCH
def test_a_report_periods_numbers_from_posts_flags_and_decisions(store, monkeypatch):
    """period_stats and metrics_snapshot read flags and decisions through their shared layouts
    (bodies.FLAG_MAPPING, DECISION_MAPPING: written here as the review area will); the alerts area's
    part stands in through its hooks until that area is merged."""
    monkeypatch.setattr(store, "_alerts_by_level", lambda since, until: {"red": 2} if since else {"red": 5})
    monkeypatch.setattr(store, "_rumour_case_ids", lambda since, until, limit: [7])
    monkeypatch.setattr(store, "_deliveries_by_state", lambda: {("email", "sent"): 3})
    p0, p1, p2, old = save(store, [
        (post("r0", T0), analysis(Sentiment.NEG, "食堂", ["食堂"], grievance=0.8)),
        (post("r1", T0 + timedelta(minutes=1)), analysis(Sentiment.POS, None)),
        (post("r2", T0 + timedelta(minutes=2), "qq"), analysis(Sentiment.NEG, "薪酬", grievance=0.6)),
        (post("r3", T0 - timedelta(days=3), "qq"), analysis(Sentiment.NEG, "薪酬", grievance=0.9))])
    store.ingest("t", [post("raw", T0 + timedelta(minutes=3), "qq")], None)  # not analysed yet

    def doc(kind: str, i: int, post_id: int, minutes: int, **kw):
        return ({"create": {"_index": store.names.of(kind), "_id": str(i)}},
                {"id": i, "post_id": post_id, "created_at": (T0 + timedelta(minutes=minutes)).isoformat(), **kw})

    store._bulk([
        doc("flags", 1, p0.id, 10, rule="r", reason="x", status="removed"),
        doc("flags", 2, p0.id, 20, rule="r2", reason="x", status="pending"),
        doc("flags", 3, p2.id, 2, rule="r", reason="x", status="approved"),
        doc("flags", 4, old.id, -3 * 24 * 60, rule="r", reason="x", status="pending"),
        doc("decisions", 1, p0.id, 40, moderator="mod", action="remove", reason_code="abuse", note=""),
        doc("decisions", 2, p2.id, 2, moderator="auto:r", action="remove", reason_code="abuse", note="")], refresh=True)
    since, until = T0 - timedelta(hours=1), T0 + timedelta(hours=1)
    stats = store.period_stats(since, until)
    assert list(stats["by_channel"].items()) == [("qq", (2, 1)), ("weibo", (2, 1))]
    assert list(stats["by_topic"].items()) == [("", (1, 0)), ("薪酬", (1, 1)), ("食堂", (1, 1))]
    assert {k: stats[k] for k in ("posts", "negative", "flagged", "removed", "alerts", "leads", "auto_removed",
                                  "rumour_case_ids")} == {
        "posts": 4, "negative": 2, "flagged": 2, "removed": 1, "alerts": {"red": 2}, "leads": 2, "auto_removed": 1,
        "rumour_case_ids": [7]}
    assert stats["response_minutes"] == [pytest.approx(30.0)]  # from the post's first flag, people only
    metrics = store.metrics_snapshot()
    assert metrics["review_queue"] == {"pending": 2, "removed": 1, "approved": 1}
    assert (metrics["posts_by_channel"], metrics["analysis_backlog"], metrics["dead_letters"]) == (
        {"qq": 3, "weibo": 2}, 1, 0)
    assert metrics["analysis_backlog_age_seconds"] >= 0 and metrics["alerts_by_level"] == {"red": 5}
    assert metrics["deliveries"] == {("email", "sent"): 3}

    # p0 deleted with its flags and decisions (as the privacy port will): the report's numbers stay
    [hit] = store._docs_by_ids([p0.id]).values()
    store._add_deleted_aggregates([hit["_source"]], flagged={p0.id}, removed={p0.id})
    store._bulk([({"delete": {"_index": hit["_index"], "_id": hit["_id"]}}, None),
                 ({"delete": {"_index": store.names.of("flags"), "_id": "1"}}, None),
                 ({"delete": {"_index": store.names.of("flags"), "_id": "2"}}, None),
                 ({"delete": {"_index": store.names.of("decisions"), "_id": "1"}}, None)], refresh=True)
    after = store.period_stats(since, until)
    assert {k: v for k, v in after.items() if k != "response_minutes"} == {
        k: v for k, v in stats.items() if k != "response_minutes"}
    assert after["response_minutes"] == []  # the decision went with its post, as on SQLite
