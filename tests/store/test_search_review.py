"""Moderation in the store contract (store/search/review.py on the clusters, store/sqlite on SQLite): the
rules cursor, flags and the rules' removals, the review queue, decisions (two moderators at once),
removal requests, the moderation panels and the write-back outbox. Every @CONTRACT test runs on all
three backends with the same body; the property test compares a cluster with SQLite directly."""
from __future__ import annotations

import sqlite3
import threading
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from hypothesis import HealthCheck, Phase, given, settings as hsettings, strategies as st

from core.domain import (Action, Analysis, AuditEvent, Decision, Flag, FlagStatus, Post, ReasonCode, Sentiment,
                         WriteBack, WriteBackState, utcnow)
from store.base import RuleResults
from store.sqlite import SqliteStore
from tests.store.conftest import CONTRACT, SEARCH, SEARCH_STORES, _tokens

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def post(sid: str, text: str, minutes: int = 0, channel: str = "weibo", author: str = "u1") -> Post:
    return Post(channel=channel, source_id=sid, author=author, text=text, created_at=T0 + timedelta(minutes=minutes))


def analysis(**kw) -> Analysis:
    return Analysis(normalized="x", tokens=[], sentiment=kw.pop("sentiment", Sentiment.NEU), polarity=0.0,
                    spam=kw.pop("spam", 0.0), rumour=kw.pop("rumour", 0.0), model_version="test-1", **kw)


def analysed(store, posts: list[Post]) -> list[Post]:
    store.ingest("inbox", posts, None)
    todo = store.posts_to_analyze(1000)
    store.save_analyses([(p, analysis()) for p in todo])
    by_key = {p.key: p for p in todo}
    return [by_key[p.key] for p in posts]  # in the order given


def decide(store, pid: int, action: Action = Action.REMOVE, who: str = "mod", at: datetime | None = None,
           code: ReasonCode = ReasonCode.SPAM) -> Decision:
    d = Decision(pid, who, action, code if action is Action.REMOVE else ReasonCode.OK, "",
                 at or utcnow())
    return store.decide(d, AuditEvent(who, f"decision.{action.value}", f"post:{pid}"))


def twin(store, request):
    """Another store object on the same data (another process, another instance)."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path, tokenize=_tokens)
    backend = request.node.callspec.params["store"]
    cluster = request.getfixturevalue(f"{backend}_cluster")
    return SEARCH_STORES[backend].from_settings({"hosts": cluster.hosts, "index_prefix": store.names.prefix},
                                                tokenize=_tokens)


# ---- the rules pass --------------------------------------------------------------------------------

@CONTRACT
def test_rules_cursor_flags_and_the_rules_removals(store):
    a, b, c = analysed(store, [post("1", "听说下个月绩效要砍"), post("2", "加薇信领红包", 1), post("3", "又是广告", 2)])
    pairs = store.posts_for_rules(10)
    assert [p.source_id for p, _ in pairs] == ["1", "2", "3"] and pairs[0][1].model_version == "test-1"
    assert [p.source_id for p, _ in store.posts_for_rules(2)] == ["1", "2"]
    decide(store, c.id, Action.APPROVE, who="mod")  # a person decided on post 3 before the rule removes it
    flags = [Flag(a.id, "rumour", "疑似谣言", T0), Flag(b.id, "spam", "疑似广告", T0), Flag(c.id, "spam", "疑似广告", T0)]
    store.commit_rule_results(RuleResults(
        seen=[(p.id, p.version) for p, _ in pairs], flags=flags,
        removals=[(b.id, "spam", ReasonCode.SPAM, T0), (c.id, "spam", ReasonCode.SPAM, T0)]))
    assert all(f.id for f in flags) and len({f.id for f in flags}) == 3
    assert store.posts_for_rules(10) == []
    assert store.counts()["flagged"] == 3 and store.counts()["pending"] == 2
    assert store.queue_count() == 2 and store.queue_count(FlagStatus.REMOVED) == 1
    assert [i.post.source_id for i in store.review_queue()] == ["3", "1"]  # same flag time: higher id first
    auto = store.queue_item(b.id)
    assert auto.status is FlagStatus.REMOVED and auto.decision.moderator == "auto:spam"
    assert store.queue_item(c.id).decision.moderator == "mod"  # the person's decision stands
    assert [(d.post_id, d.moderator) for d in store.decisions()] == [(c.id, "mod"), (b.id, "auto:spam")]
    [event] = [e for e in store.audit_log() if e.action == "decision.auto_remove"]
    assert (event.actor, event.target, event.detail) == ("system", f"post:{b.id}",
                                                          {"rule": "spam", "reason_code": "spam"})
    assert len(store.recent_analyzed(T0 - timedelta(hours=1), ruled_only=True)) == 3
    # an edit analysed again needs the rules again; the cursor only moves forward
    store.ingest("inbox", [post("1", "听说下个月绩效要砍一半")], None)
    [v2] = store.posts_to_analyze(10)
    store.save_analyses([(v2, analysis(rumour=0.8))])
    assert [(p.id, p.version) for p, _ in store.posts_for_rules(10)] == [(a.id, 2)]
    assert [p.id for p, _ in store.recent_analyzed(T0 - timedelta(hours=1), ruled_only=True)] == [b.id, c.id]
    store.commit_rule_results(RuleResults(seen=[(a.id, 1)]))  # a late commit of the old version
    assert [(p.id, p.version) for p, _ in store.posts_for_rules(10)] == [(a.id, 2)]
    store.commit_rule_results(RuleResults(seen=[(a.id, 2)]))
    assert store.posts_for_rules(10) == []


@CONTRACT
def test_the_same_rule_results_committed_again_after_a_crash_add_nothing(store):
    a, b = analysed(store, [post("1", "一"), post("2", "二", 1)])

    def results() -> RuleResults:  # the rules pass run again over the same posts makes the same results
        return RuleResults(seen=[(a.id, 1), (b.id, 1)],
                           flags=[Flag(a.id, "rumour", "疑似谣言", T0), Flag(b.id, "spam", "疑似广告", T0),
                                  Flag(b.id, "spam", "疑似广告", T0)],
                           removals=[(b.id, "spam", ReasonCode.SPAM, T0)])

    first = results()
    store.commit_rule_results(first)
    audit = len(store.audit_log())
    if isinstance(store, SqliteStore):
        return  # one transaction: a crash leaves nothing to commit again (the cursor did not move either)
    again = results()
    store.commit_rule_results(again)
    assert [f.id for f in again.flags] == [f.id for f in first.flags]
    assert [len(store.queue_item(p).flags) for p in (a.id, b.id)] == [1, 2]
    assert len(store.decisions()) == 1 and len(store.audit_log()) == audit
    assert store.counts()["flagged"] == 2 and store.queue_count() == 1 and store.queue_count(FlagStatus.REMOVED) == 1


@CONTRACT
def test_rule_results_naming_a_missing_post_commit_nothing(store):
    a, b = analysed(store, [post("1", "一"), post("2", "二", 1)])
    broken = RuleResults(seen=[(a.id, 1)], flags=[Flag(a.id, "x", "有"), Flag(999999, "x", "不存在的帖子")])
    with pytest.raises((sqlite3.IntegrityError, ValueError)):
        store.commit_rule_results(broken)
    assert len(store.posts_for_rules(10)) == 2
    assert store.counts()["flagged"] == 0 and store.queue_count() == 0


@CONTRACT
def test_recent_analyzed_reads_every_post_of_the_window_in_order(store, monkeypatch):
    import store.search.review as review

    monkeypatch.setattr(review, "PAGE", 3)  # the clusters page: make a few pages of a small window
    posts = analysed(store, [post(str(i), f"第{i}条", minutes=i % 4) for i in range(11)])
    got = store.recent_analyzed(T0, T0 + timedelta(minutes=3))
    want = sorted((p for p in posts if p.created_at < T0 + timedelta(minutes=3)), key=lambda p: (p.created_at, p.id))
    assert [p.id for p, _ in got] == [p.id for p in want] and len(got) == 9
    assert all(a.model_version == "test-1" for _, a in got)
    assert store.recent_analyzed(T0, T0 + timedelta(minutes=3), ruled_only=True) == []


# ---- the review queue ------------------------------------------------------------------------------

@CONTRACT
def test_the_queue_pages_filters_and_counts_as_moderators_see_it(store):
    posts = analysed(store, [post(str(i), f"帖子{i}", i, channel="qq" if i % 3 == 0 else "weibo") for i in range(8)])
    ids = [p.id for p in posts]
    flags = []
    for i, p in enumerate(posts):
        flags.append(Flag(p.id, "spam" if i % 2 else "rumour", "原因", T0 + timedelta(minutes=10 - i)))
        if i in (2, 5):
            flags.append(Flag(p.id, "abuse", "辱骂", T0 + timedelta(minutes=30 + i)))
    store.commit_rule_results(RuleResults(seen=[(p.id, 1) for p in posts], flags=flags))
    # most recently flagged first, each post once at its latest flag
    order = [5, 2, 0, 1, 3, 4, 6, 7]
    assert [i.post.id for i in store.review_queue()] == [ids[k] for k in order]
    assert [i.post.id for i in store.review_queue(limit=3, offset=2)] == [ids[k] for k in order[2:5]]
    walked, after = [], None
    while True:
        page = store.review_page(after=after, limit=3)
        walked += page
        if len(page) < 3:
            break
        after = (page[-1][0], page[-1][1].post.id)
    assert [i.post.id for _, i in walked] == [ids[k] for k in order]
    assert walked[0][0] == T0 + timedelta(minutes=35)
    # by rule: ordered by that rule's latest flag
    assert [(at, i.post.id) for at, i in store.review_page(rule="spam")] == [
        (T0 + timedelta(minutes=10 - k), ids[k]) for k in (1, 3, 5, 7)]
    assert [i.post.id for _, i in store.review_page(channels=["qq"])] == [ids[k] for k in (0, 3, 6)]
    assert store.queue_rules() == [("rumour", 4), ("spam", 4), ("abuse", 2)]
    assert store.queue_count(channel="qq") == 3 and store.queue_count(channel=["qq", "weibo"]) == 8
    assert store.queue_count(rule="abuse") == 2 and store.queue_count(channel="qq", rule="spam") == 1
    # a decision moves every flag of the post; a new flag afterwards waits again
    decide(store, ids[5], Action.REMOVE)
    decide(store, ids[0], Action.APPROVE)
    store.commit_rule_results(RuleResults(flags=[Flag(ids[0], "rumour", "又被标记", T0 + timedelta(hours=2))]))
    assert store.queue_count() == 7 and store.queue_count(FlagStatus.APPROVED) == 1
    assert store.queue_rules(FlagStatus.REMOVED) == [("abuse", 1), ("spam", 1)]
    assert [i.post.id for i in store.review_queue(FlagStatus.REMOVED)] == [ids[5]]
    items = store.queue_items([ids[0], ids[5], ids[1], 999999])
    assert set(items) == {ids[0], ids[5], ids[1]}
    assert (items[ids[0]].status, items[ids[5]].status) == (FlagStatus.PENDING, FlagStatus.REMOVED)
    assert [f.reason for f in items[ids[0]].flags] == ["原因", "又被标记"]
    assert items[ids[0]].decision.action is Action.APPROVE and items[ids[1]].decision is None
    assert store.queue_item(ids[1]).analysis.model_version == "test-1" and store.queue_item(999999) is None


@CONTRACT
def test_two_moderators_deciding_the_same_posts_at_once_are_both_recorded(store, request):
    posts = analysed(store, [post(str(i), f"帖子{i}", i) for i in range(4)])
    store.commit_rule_results(RuleResults(flags=[Flag(p.id, r, "原因", T0) for p in posts for r in ("spam", "rumour")]))
    other = twin(store, request)
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def moderator(s, who: str, action: Action) -> None:
        try:
            for p in posts:
                barrier.wait()
                decide(s, p.id, action, who=who)
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=moderator, args=(store, "alice", Action.APPROVE)),
               threading.Thread(target=moderator, args=(other, "bob", Action.REMOVE))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    decisions = store.decisions()
    assert len(decisions) == 8 and len({d.id for d in decisions}) == 8
    for p in posts:
        item = store.queue_item(p.id)
        want = FlagStatus.APPROVED if item.decision.action is Action.APPROVE else FlagStatus.REMOVED
        assert item.status is want and len(item.flags) == 2  # every flag in the status of the decision shown
        assert {d.moderator for d in decisions if d.post_id == p.id} == {"alice", "bob"}
    assert store.queue_count(FlagStatus.APPROVED) + store.queue_count(FlagStatus.REMOVED) == 4
    assert len([e for e in store.audit_log() if e.action.startswith("decision.")]) == 8
    other.close()


@CONTRACT
def test_decisions_made_together_are_recorded_as_each_would_be(store):
    posts = analysed(store, [post(str(i), f"帖子{i}", i) for i in range(6)])
    store.commit_rule_results(RuleResults(flags=[Flag(p.id, "spam", "原因", T0) for p in posts]))
    store.request_removal(posts[1].id, "mod1", "spam", "", AuditEvent("mod1", "decision.remove_requested", "x"))
    pairs = [(Decision(p.id, who, action, ReasonCode.SPAM if action is Action.REMOVE else ReasonCode.OK, f"备注{n}",
                       T0 + timedelta(minutes=n)), AuditEvent(who, f"decision.{action.value}", f"post:{p.id}"))
             for n, (p, who, action) in enumerate([(posts[0], "mod1", Action.REMOVE), (posts[1], "mod2", Action.REMOVE),
                                                   (posts[2], "auto:spam", Action.REMOVE), (posts[3], "mod1", Action.APPROVE),
                                                   (posts[0], "mod2", Action.APPROVE), (posts[3], "auto:spam", Action.REMOVE)])]
    # posts[0] and posts[3] twice: the last decision holds; posts[3] was still decided by a person
    made = store.decide_many(pairs)
    assert [d.id for d in made] == [d.id for d, _ in pairs] and len({d.id for d in made}) == 6
    assert store.decide_many([]) == []
    items = store.queue_items([p.id for p in posts])
    assert {p.id: (items[p.id].status, items[p.id].decision and items[p.id].decision.moderator) for p in posts} == {
        posts[0].id: (FlagStatus.APPROVED, "mod2"), posts[1].id: (FlagStatus.REMOVED, "mod2"),
        posts[2].id: (FlagStatus.REMOVED, "auto:spam"), posts[3].id: (FlagStatus.REMOVED, "auto:spam"),
        posts[4].id: (FlagStatus.PENDING, None), posts[5].id: (FlagStatus.PENDING, None)}
    assert store.removal_requests([posts[1].id]) == {}  # decided now
    assert [(d.post_id, d.moderator, d.action, d.note) for d in store.decisions()] == [
        (d.post_id, d.moderator, d.action, d.note) for d, _ in pairs]
    assert [e.actor for e in store.audit_log(limit=6)][::-1] == [a.actor for _, a in pairs]
    assert store.rule_outcomes()["spam"][1] == 3  # decided by a person: posts 0, 1 and 3 (a rule came after), not 2


@SEARCH
def test_the_flag_documents_end_in_the_status_the_queue_shows(store, request):
    """P-flags is a projection of each post's review document, written with external versions: the
    state written last wins even when two projections arrive out of order."""
    posts = analysed(store, [post(str(i), f"帖子{i}", i) for i in range(3)])
    store.commit_rule_results(RuleResults(flags=[Flag(p.id, "spam", "原因", T0) for p in posts]))
    other = twin(store, request)
    threads = [threading.Thread(target=lambda s=s, a=a: [decide(s, p.id, a) for p in posts for _ in range(3)])
               for s, a in ((store, Action.APPROVE), (other, Action.REMOVE))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    hits = store.client.search(store.names.of("flags"), {"size": 100, "query": {"match_all": {}}})["hits"]["hits"]
    projected = {int(h["_source"]["post_id"]): h["_source"]["status"] for h in hits}
    assert projected == {p.id: store.queue_item(p.id).status.value for p in posts}
    other.close()


# ---- decisions, removal requests, outcomes -----------------------------------------------------------

@CONTRACT
def test_decisions_feed_pages_in_time_order_and_removal_requests_end_with_a_decision(store):
    posts = analysed(store, [post(str(i), f"帖子{i}", i) for i in range(5)])
    store.commit_rule_results(RuleResults(flags=[Flag(p.id, "spam", "原因", T0) for p in posts]))
    times = [T0 + timedelta(minutes=m) for m in (5, 1, 5, 3, 9)]  # decided out of order, two at the same time
    made = [decide(store, p.id, at=at) for p, at in zip(posts, times)]
    assert [d.id for d in store.decisions()] == [d.id for d in made]  # oldest first = by id
    assert [d.id for d in store.decisions(T0 + timedelta(minutes=4))] == [made[0].id, made[2].id, made[4].id]
    want = [d.id for d in sorted(made, key=lambda d: (d.created_at, d.id))]
    got, after = [], None
    while True:
        page = store.decisions_page(T0 + timedelta(minutes=2), after, 2)
        got += [d.id for d in page]
        if len(page) < 2:
            break
        after = (page[-1].created_at, page[-1].id)
    assert got == want[1:]
    assert store.decisions_page(T0 + timedelta(minutes=10), None, 10) == []
    # the two-person removal: the request is kept until a decision
    p = posts[0]
    store.request_removal(p.id, "alice", "off_topic", "跑题", AuditEvent("alice", "decision.remove_requested"))
    store.request_removal(p.id, "carol", "rumour", "", AuditEvent("carol", "decision.remove_requested"))
    [(by, code, note, at)] = store.removal_requests([p.id, posts[1].id]).values()
    assert (by, code, note) == ("carol", "rumour", "") and at.tzinfo is not None
    decide(store, p.id, who="bob")
    assert store.removal_requests([p.id]) == {}


@CONTRACT
def test_rule_outcomes_count_only_what_people_decided(store):
    posts = analysed(store, [post(str(i), f"帖子{i}", i) for i in range(5)])
    ids = [p.id for p in posts]
    store.commit_rule_results(RuleResults(
        flags=[Flag(ids[0], "spam", "x", T0), Flag(ids[1], "spam", "x", T0), Flag(ids[2], "spam", "x", T0),
               Flag(ids[2], "rumour", "x", T0), Flag(ids[3], "rumour", "x", T0), Flag(ids[4], "spam", "x", T0)],
        removals=[(ids[4], "spam", ReasonCode.SPAM, T0)]))  # a rule's own removal says nothing of its precision
    decide(store, ids[0], Action.REMOVE)
    decide(store, ids[1], Action.APPROVE)
    decide(store, ids[2], Action.REMOVE)
    assert store.rule_outcomes() == {"spam": (4, 3, 2), "rumour": (2, 1, 1)}


# ---- the moderation panels ---------------------------------------------------------------------------

@CONTRACT
def test_moderation_and_flag_times_are_bounded_by_the_period_and_channel(store):
    now = utcnow()
    a, b = analysed(store, [Post("weibo", "m1", "u1", "一", now - timedelta(hours=5)),
                            Post("qq", "m2", "u1", "二", now - timedelta(days=40))])
    store.commit_rule_results(RuleResults(
        flags=[Flag(a.id, "r", "x", now - timedelta(hours=4)), Flag(a.id, "r2", "x", now - timedelta(hours=3, minutes=30)),
               Flag(b.id, "r", "x", now - timedelta(days=40))],
        removals=[(b.id, "r", ReasonCode.SPAM, now - timedelta(days=39))]))
    decide(store, a.id, Action.APPROVE, at=now - timedelta(hours=3))
    since = now - timedelta(days=7)
    [(decided, flagged, auto)] = store.moderation_times(since, now)
    assert round((decided - flagged).total_seconds() / 60) == 60 and not auto
    assert store.moderation_times(since, now, channel="qq") == []
    [(_, first, auto)] = store.moderation_times(now - timedelta(days=60), now, channel="qq")
    assert auto and first == now - timedelta(days=40)
    assert store.flag_times(since, now) == [now - timedelta(hours=4)] and store.flag_times(since, now, "qq") == []
    assert store.flag_times(now - timedelta(hours=3, minutes=45), now) == [now - timedelta(hours=3, minutes=30)]


# ---- an author's history ------------------------------------------------------------------------------

@CONTRACT
def test_an_authors_history_counts_their_posts_flags_decisions_and_platform_actions(store):
    posts = analysed(store, [post(str(i), f"帖子{i}", i, author="u9") for i in range(5)]
                     + [post("x", "别人的", 1, author="u2"), post("y", "别处的", 2, channel="qq", author="u9")])
    mine = [p for p in posts if p.author == "u9" and p.channel == "weibo"]
    store.commit_rule_results(RuleResults(flags=[Flag(mine[0].id, "spam", "x", T0), Flag(mine[1].id, "spam", "x", T0),
                                                 Flag(mine[1].id, "abuse", "x", T0), Flag(mine[2].id, "abuse", "x", T0),
                                                 Flag(posts[5].id, "spam", "x", T0)]))
    store.decide(Decision(mine[0].id, "mod", Action.REMOVE, ReasonCode.SPAM), AuditEvent("mod", "decision.remove"),
                 [WriteBack(mine[0].id, "wb", "delete", "mod"), WriteBack(mine[0].id, "wb", "ban", "mod")])
    decide(store, mine[1].id, Action.APPROVE)
    store.request_removal(mine[2].id, "alice", "rumour", "", AuditEvent("alice", "decision.remove_requested"))
    h = store.author_history("weibo", "u9")
    assert (h.posts, h.flagged, h.pending, h.removed, h.approved, h.removal_requests) == (5, 3, 1, 1, 1, 1)
    assert (h.first_at, h.last_at) == (T0, T0 + timedelta(minutes=4))
    assert h.rules == [("abuse", 2), ("spam", 2)]
    assert h.platform_actions == [("ban", "pending", 1), ("delete", "pending", 1)]
    empty = store.author_history("weibo", "nobody")
    assert (empty.posts, empty.flagged, empty.first_at, empty.rules) == (0, 0, None, [])
    ids = [p.id for p in store.author_posts("weibo", "u9", limit=3)]
    assert ids == [p.id for p in sorted(mine, key=lambda p: -p.id)][:3]
    assert [p.id for p in store.author_posts("weibo", "u9", before_id=ids[-1])] == [p.id for p in sorted(mine, key=lambda p: -p.id)][3:]


# ---- the write-back outbox ----------------------------------------------------------------------------

@CONTRACT
def test_writebacks_are_queued_retried_and_done_with_their_audit(store):
    a, b = analysed(store, [post("1", "一"), post("2", "二", 1)])
    now = utcnow()
    first = store.queue_writeback(WriteBack(a.id, "wb", "reply", "leader", {"text": "已回复"}, created_at=now),
                                  AuditEvent("leader", "writeback.request.reply", f"post:{a.id}"))
    second = store.queue_writeback(WriteBack(b.id, "wb", "delete", "mod", created_at=now + timedelta(seconds=1)),
                                   AuditEvent("mod", "writeback.request.delete", f"post:{b.id}"))
    assert first.id and second.id and first.id != second.id
    assert [w.id for w in store.due_writebacks(now + timedelta(seconds=5))] == [first.id, second.id]
    assert [w.id for w in store.due_writebacks(now + timedelta(seconds=5), limit=1)] == [first.id]
    assert [w.id for w in store.due_writebacks(now)] == [first.id]
    store.writeback_failed(first.id, "平台超时", now + timedelta(minutes=5))
    assert [w.id for w in store.due_writebacks(now + timedelta(seconds=5))] == [second.id]
    store.writeback_done(second.id, WriteBackState.REFUSED, "评论已不存在", now, AuditEvent("system", "writeback.refused"))
    store.writeback_done(first.id, WriteBackState.SENT, "ok", now + timedelta(minutes=6),
                         AuditEvent("system", "writeback.sent"))
    assert store.due_writebacks(now + timedelta(hours=1)) == []
    got = store.writebacks_for([a.id, b.id, 999999])
    [wa], [wb] = got[a.id], got[b.id]
    assert (wa.state, wa.attempts, wa.payload, wa.result, wa.last_error) == (WriteBackState.SENT, 2, {"text": "已回复"}, "ok", "")
    assert (wb.state, wb.attempts, wb.last_error) == (WriteBackState.REFUSED, 1, "评论已不存在")
    assert wa.done_at == now + timedelta(minutes=6) and 999999 not in got
    assert [e.action for e in store.audit_log()][:4] == ["writeback.sent", "writeback.refused",
                                                        "writeback.request.delete", "writeback.request.reply"]


# ---- the queue on a cluster equals the queue on SQLite, for any history of flags and decisions ----------

ops = st.lists(st.one_of(
    st.tuples(st.just("flag"), st.integers(0, 3), st.sampled_from(["spam", "rumour", "abuse"]), st.integers(0, 5)),
    st.tuples(st.just("decide"), st.integers(0, 3), st.sampled_from([Action.APPROVE, Action.REMOVE]), st.integers(0, 5)),
    st.tuples(st.just("auto"), st.integers(0, 3), st.sampled_from(["spam", "rumour"]), st.integers(0, 5)),
), min_size=1, max_size=12, unique_by=lambda op: (op[1], str(op[2]), op[3]))
# a flag is known by its post, rule and match time: the same three in a later commit are the same flag
# committed again (after a crash), so a history holds each at most once


def _apply(s, ids: list[int], history) -> None:
    for kind, k, what, minute in history:
        at = T0 + timedelta(minutes=minute)
        if kind == "flag":
            s.commit_rule_results(RuleResults(flags=[Flag(ids[k], what, "原因", at)]))
        elif kind == "auto":
            s.commit_rule_results(RuleResults(flags=[Flag(ids[k], what, "原因", at)],
                                              removals=[(ids[k], what, ReasonCode.SPAM, at)]))
        else:
            decide(s, ids[k], what, at=at)


def _view(s, ids: list[int]):
    pages = {(st_, rule): [(at, i.post.id - ids[0], i.status) for at, i in s.review_page(st_, rule=rule, limit=50)]
             for st_ in FlagStatus for rule in (None, "spam", "rumour")}
    items = {pid - ids[0]: (i.status, [(f.rule, f.created_at) for f in i.flags], i.decision and i.decision.moderator)
             for pid, i in s.queue_items(ids).items()}
    return (pages, items, {st_: s.queue_rules(st_) for st_ in FlagStatus}, s.rule_outcomes(),
            {k: v for k, v in s.counts().items() if k in ("flagged", "pending")},
            [(d.post_id - ids[0], d.moderator, d.action) for d in s.decisions()])


@SEARCH
@hsettings(max_examples=4, deadline=None, phases=[Phase.explicit, Phase.reuse, Phase.generate], suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(history=ops)
def test_any_history_of_flags_and_decisions_reads_back_the_same_on_a_cluster(store, request, tmp_path_factory, history):
    backend = request.node.callspec.params["store"]
    cluster = request.getfixturevalue(f"{backend}_cluster")
    search = SEARCH_STORES[backend].from_settings({"hosts": cluster.hosts, "index_prefix": f"p{uuid.uuid4().hex[:10]}"},
                                                  tokenize=_tokens)
    search.migrate()
    sqlite = SqliteStore(tmp_path_factory.mktemp("q") / "s.db", tokenize=_tokens)
    sqlite.migrate()
    try:
        views = []
        for s in (sqlite, search):
            ids = [p.id for p in analysed(s, [post(str(i), f"帖子{i}", i) for i in range(4)])]
            _apply(s, ids, history)
            views.append(_view(s, ids))
        assert views[0] == views[1]
    finally:
        search.drop_indices()
        search.close()
        sqlite.close()
