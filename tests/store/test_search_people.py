"""The people area of the store contract on every backend (@CONTRACT: SQLite and both search
clusters): users, sessions, the debunk registry, saved filters, API clients and the posts feed, the
report mail outbox and releasing quarantined posts — what the dashboard, the API and the report
mailer rely on, including writers racing each other."""
from __future__ import annotations

import threading
from datetime import date, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from core.domain import Analysis, AuditEvent, Debunk, Level, Post, Role, Sentiment, User
from store.base import ApiToken, SavedFilter, SessionRecord
from tests.store.conftest import CONTRACT, SEARCH

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def race(n: int, fn) -> list:
    """Run fn(i) in n threads released at once; each result, or the exception it raised."""
    results: list = [None] * n
    barrier = threading.Barrier(n)

    def run(i: int) -> None:
        barrier.wait()
        try:
            results[i] = fn(i)
        except Exception as exc:  # noqa: BLE001 - the test looks at what each racer got
            results[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def session(token: str, username: str, at: datetime = T0, hours: int = 8) -> SessionRecord:
    return SessionRecord(token_hash=token, username=username, created_at=at, last_seen=at,
                         expires_at=at + timedelta(hours=hours), net="10.0.0.0/24")


# ---- users ---------------------------------------------------------------------------------------------

@CONTRACT
def test_users_keep_every_field_sort_by_name_and_names_are_unique(store):
    full = User("zhang.san", Role.OFFICER, "h1", email="zs@example.edu.cn", wecom_userid="ZhangSan",
                dingtalk_userid="d1", feishu_userid="ou_1", topics=["薪酬", "后勤"], channels=["weibo"],
                min_level=Level.RED, reports=["weekly"], review_channels=["qq"])
    added = store.add_user(full)
    assert added.id is not None
    for name in ("mod", "Admin", "_x"):
        store.add_user(User(name, Role.MODERATOR, "h"))
    assert store.get_user("zhang.san") == full and store.get_user("nobody") is None
    assert [u.username for u in store.users()] == sorted(["zhang.san", "mod", "Admin", "_x"])  # byte order
    assert len({u.id for u in store.users()}) == 4
    with pytest.raises(ValueError):
        store.add_user(User("mod", Role.ADMIN, "other"))
    assert store.get_user("mod").role is Role.MODERATOR


@CONTRACT
def test_two_admins_creating_the_same_user_at_once_make_one(store):
    got = race(4, lambda i: store.add_user(User("li.si", Role.LEADER, f"hash{i}")))
    made = [r for r in got if isinstance(r, User)]
    assert len(made) == 1 and all(isinstance(r, ValueError) for r in got if r is not made[0])
    assert [u.password_hash for u in store.users()] == [made[0].password_hash]


@CONTRACT
def test_role_activity_and_profile_changes_are_audited_and_deactivation_signs_out(store):
    store.add_user(User("mod", Role.MODERATOR, "h"))
    store.create_session(session("s1", "mod"))
    store.create_session(session("s2", "mod"))
    store.update_user("mod", AuditEvent("admin", "user.update", "user:mod", {"role": "officer"}, T0),
                      role=Role.OFFICER)
    assert store.get_user("mod").role is Role.OFFICER and store.get_user("mod").active
    assert store.get_session("s1").revoked_at is None  # a role change keeps the sessions
    at = T0 + timedelta(minutes=5)
    store.update_user("mod", AuditEvent("admin", "user.update", "user:mod", {"active": False}, at), active=False)
    assert not store.get_user("mod").active and store.get_user("mod").role is Role.OFFICER
    assert store.get_session("s1").revoked_at == at and store.get_session("s2").revoked_at == at
    store.update_profile("mod", AuditEvent("mod", "user.profile", "user:mod", {}, at), email="m@x.cn",
                         topics=("食堂",), min_level="orange")
    u = store.get_user("mod")
    assert (u.email, u.topics, u.min_level, u.channels) == ("m@x.cn", ["食堂"], Level.ORANGE, [])
    store.update_profile("mod", AuditEvent("mod", "user.profile"))  # nothing to change: nothing written
    with pytest.raises(ValueError):
        store.update_profile("mod", AuditEvent("mod", "user.profile"), password_hash="x")
    for change in (lambda a: store.update_user("ghost", a, role=Role.ADMIN),
                   lambda a: store.update_profile("ghost", a, email="g@x.cn"),
                   lambda a: store.set_password("ghost", "h")):
        with pytest.raises(ValueError):
            change(AuditEvent("admin", "ghost"))
    assert [(e.action, e.detail) for e in store.audit_log()] == [
        ("user.profile", {}), ("user.update", {"active": False}), ("user.update", {"role": "officer"})]


@CONTRACT
def test_a_new_password_ends_every_session_of_that_user_only(store):
    for name in ("a", "b"):
        store.add_user(User(name, Role.OFFICER, "old"))
    store.create_session(session("a1", "a"))
    store.create_session(session("a2", "a"))
    store.create_session(session("b1", "b"))
    store.set_password("a", "new")
    assert store.get_user("a").password_hash == "new" and store.get_user("b").password_hash == "old"
    assert store.get_session("a1").revoked_at is not None and store.get_session("a2").revoked_at is not None
    assert store.get_session("b1").revoked_at is None


# ---- sessions ------------------------------------------------------------------------------------------

@CONTRACT
def test_sessions_are_touched_forward_revoked_once_and_old_ones_forgotten(store):
    record = session("t1", "mod")
    store.create_session(record)
    assert store.get_session("t1") == record and store.get_session("nope") is None
    store.touch_session("t1", T0 + timedelta(minutes=10))
    store.touch_session("t1", T0 + timedelta(minutes=3))  # late and out of order: ignored
    assert store.get_session("t1").last_seen == T0 + timedelta(minutes=10)
    store.revoke_session("t1", T0 + timedelta(minutes=20))
    store.revoke_session("t1", T0 + timedelta(minutes=30))  # already ended: the first end stays
    assert store.get_session("t1").revoked_at == T0 + timedelta(minutes=20)
    store.touch_session("gone", T0)
    store.revoke_session("gone", T0)  # unknown tokens change nothing
    assert store.get_session("gone") is None
    # a sign-in two days later forgets sessions that ended more than a day before it
    store.create_session(session("old", "mod", T0 - timedelta(days=3), hours=1))
    store.create_session(session("t2", "mod", T0 + timedelta(days=2)))
    assert store.get_session("old") is None and store.get_session("t1") is None
    assert store.get_session("t2") is not None


@CONTRACT
def test_revoking_a_users_sessions_counts_each_open_one_once_even_when_raced(store):
    for i in range(12):
        store.create_session(session(f"m{i}", "mod"))
    store.create_session(session("other", "officer"))
    store.revoke_session("m0", T0)
    counts = race(3, lambda i: store.revoke_user_sessions("mod", T0 + timedelta(minutes=1)))
    assert sum(counts) == 11
    assert store.revoke_user_sessions("mod", T0 + timedelta(minutes=2)) == 0
    assert store.get_session("m0").revoked_at == T0 and store.get_session("m5").revoked_at == T0 + timedelta(minutes=1)
    assert store.get_session("other").revoked_at is None


# ---- the debunk registry and saved filters ---------------------------------------------------------------

@CONTRACT
def test_the_audit_log_is_read_in_order_from_any_event_and_takes_many_at_once(store):
    store.audit(AuditEvent("admin", "user.create", "user:a", {"role": "moderator"}, at=T0))
    many = [AuditEvent(f"mod{i % 3}", "decision.remove", f"post:{i}", {"n": i, "why": "广告"},
                       at=T0 + timedelta(seconds=i)) for i in range(25)]
    store.audit_batch(many)
    store.audit_batch([])  # nothing to write: nothing written
    assert all(e.id is not None for e in many) and len({e.id for e in many}) == 25
    newest_first = store.audit_log(limit=100)
    assert len(newest_first) == 26 and [e.id for e in newest_first] == sorted((e.id for e in newest_first), reverse=True)
    read, after = [], 0
    while page := store.audit_page(after, 7):
        read += page
        after = page[-1].id
    shown = [(e.id, e.actor, e.action, e.target, e.detail, e.at) for e in read]
    assert shown == [(e.id, e.actor, e.action, e.target, e.detail, e.at) for e in reversed(newest_first)]
    assert shown[1:] == [(e.id, e.actor, e.action, e.target, e.detail, e.at) for e in many]  # in the order given
    assert [e.id for e in store.audit_page(many[20].id, 100)] == [e.id for e in many[21:]]
    assert store.audit_page(many[-1].id, 10) == []


@CONTRACT
def test_debunks_in_id_order_updated_in_place_and_audited(store):
    made = [store.save_debunk(Debunk(f"传言 {i}", f"澄清 {i}", keywords=[f"词{i}"], created_by="officer",
                                     created_at=T0 + timedelta(minutes=i)), AuditEvent("officer", "debunk.create"))
            for i in range(3)]
    assert [d.id for d in store.debunks()] == sorted(d.id for d in made) and len({d.id for d in made}) == 3
    edit = Debunk("传言 1（更正）", "新的澄清", keywords=["新词"], source_url="https://u.example.edu.cn/n/1",
                  active=False, created_by="someone-else", created_at=T0 + timedelta(days=9), id=made[1].id)
    store.save_debunk(edit, AuditEvent("admin", "debunk.update"))
    got = store.get_debunk(made[1].id)
    assert (got.claim, got.clarification, got.keywords, got.source_url, got.active) == (
        "传言 1（更正）", "新的澄清", ["新词"], "https://u.example.edu.cn/n/1", False)
    assert (got.created_by, got.created_at) == ("officer", T0 + timedelta(minutes=1))  # creation stays
    assert [d.id for d in store.debunks()] == [made[0].id, made[2].id]
    assert [d.claim for d in store.debunks(active_only=False)] == ["传言 0", "传言 1（更正）", "传言 2"]
    assert store.get_debunk(10_000) is None
    assert [e.target for e in store.audit_log()] == [f"debunk:{made[1].id}"] + [f"debunk:{d.id}" for d in made[::-1]]


@CONTRACT
def test_saved_filters_replace_by_name_stay_under_the_limit_and_belong_to_their_user(store):
    a = store.save_filter(SavedFilter("mod", "review.queue", "微博待审", "status=pending&channel=weibo"), 3)
    store.save_filter(SavedFilter("mod", "review.queue", "QQ", "channel=qq"), 3)
    again = store.save_filter(SavedFilter("mod", "review.queue", "微博待审", "channel=weibo"), 3)
    assert again.id == a.id
    store.save_filter(SavedFilter("mod", "review.queue", "全部", ""), 3)
    with pytest.raises(ValueError):
        store.save_filter(SavedFilter("mod", "review.queue", "第四个", "x=1"), 3)
    store.save_filter(SavedFilter("mod", "review.queue", "全部", "status=all"), 3)  # replacing is not adding
    store.save_filter(SavedFilter("mod", "cases", "第四个", "x=1"), 3)  # the limit is per page
    store.save_filter(SavedFilter("other", "review.queue", "QQ", "channel=qq&x=2"), 3)
    mine = store.saved_filters("mod", "review.queue")
    assert [(f.name, f.query) for f in mine] == sorted([("微博待审", "channel=weibo"), ("QQ", "channel=qq"),
                                                        ("全部", "status=all")])
    assert not store.delete_filter("other", a.id)  # not theirs
    assert store.delete_filter("mod", a.id) and not store.delete_filter("mod", a.id)
    assert [f.name for f in store.saved_filters("mod", "review.queue")] == sorted(["QQ", "全部"])


@CONTRACT
def test_saves_racing_past_the_filter_limit_keep_it(store):
    for page in ("review.queue", "cases", "grievances"):  # a few rounds: a race goes differently each time
        got = race(4, lambda i: store.save_filter(SavedFilter("mod", page, f"f{i}", f"q={i}"), 2))
        kept = store.saved_filters("mod", page)
        assert len(kept) == 2  # the limit is reached, not passed; a refused save never takes a kept one along
        assert sorted(r.id for r in got if isinstance(r, SavedFilter)) == sorted(f.id for f in kept)
        assert all(isinstance(r, (SavedFilter, ValueError)) for r in got)


# ---- API clients and the posts feed ------------------------------------------------------------------------

@CONTRACT
def test_api_clients_unique_by_name_revoked_once_and_touched(store):
    t = store.add_api_token(ApiToken("教务处看板", ["posts:read", "cases:read"], T0, "admin"), "hash-a",
                            AuditEvent("admin", "api_token.create", "教务处看板", at=T0))
    assert t.id is not None
    store.add_api_token(ApiToken("archive", ["posts:read"], T0, "admin"), "hash-b",
                        AuditEvent("admin", "api_token.create", "archive", at=T0))
    with pytest.raises(ValueError):
        store.add_api_token(ApiToken("archive", ["pii:read"], T0, "admin"), "hash-c", AuditEvent("admin", "x"))
    got = store.api_token("hash-a")
    assert (got.name, got.scopes, got.created_at, got.created_by, got.active, got.last_used_at) == (
        "教务处看板", ["cases:read", "posts:read"], T0, "admin", True, None)
    assert store.api_token("hash-c") is None
    assert [x.name for x in store.api_tokens()] == sorted(["教务处看板", "archive"])
    store.touch_api_token("hash-b", T0 + timedelta(minutes=1))
    assert store.api_token("hash-b").last_used_at == T0 + timedelta(minutes=1)
    at = T0 + timedelta(hours=1)
    assert store.revoke_api_token("archive", AuditEvent("admin", "api_token.revoke", "archive", at=at))
    assert not store.revoke_api_token("archive", AuditEvent("admin", "api_token.revoke", "archive", at=at))
    assert not store.revoke_api_token("nobody", AuditEvent("admin", "api_token.revoke", "nobody", at=at))
    store.touch_api_token("hash-b", at + timedelta(minutes=1))  # a revoked token is still read (the caller refuses it)
    revoked = store.api_token("hash-b")
    assert (revoked.revoked_at, revoked.active, revoked.last_used_at) == (at, False, at + timedelta(minutes=1))
    with pytest.raises(ValueError):  # a revoked client keeps its name
        store.add_api_token(ApiToken("archive", ["posts:read"], T0, "admin"), "hash-d", AuditEvent("admin", "x"))
    assert [e.action for e in store.audit_log()] == ["api_token.revoke", "api_token.create", "api_token.create"]


@CONTRACT
def test_two_admins_adding_the_same_client_name_make_one(store):
    got = race(3, lambda i: store.add_api_token(ApiToken("bi", ["posts:read"], T0, f"admin{i}"), f"h{i}",
                                                AuditEvent(f"admin{i}", "api_token.create", "bi")))
    made = [r for r in got if isinstance(r, ApiToken)]
    assert len(made) == 1 and sum(isinstance(r, ValueError) for r in got) == 2
    [only] = store.api_tokens()
    assert only.created_by == made[0].created_by
    assert sum(store.api_token(f"h{i}") is not None for i in range(3)) == 1


def _post(sid: str, at: datetime) -> Post:
    return Post(channel="weibo", source_id=sid, author="u1", text=f"评论 {sid}", created_at=at)


@CONTRACT
def test_the_posts_feed_pages_oldest_first_with_ties_by_id_and_its_analyses(store):
    times = [T0 + timedelta(minutes=m) for m in (5, 0, 5, 9, 2, 5, -30)]  # ties at +5, one before `since`
    store.ingest("inbox", [_post(str(i), at) for i, at in enumerate(times)], None)
    analysed = store.posts_to_analyze(2)
    store.save_analyses([(p, Analysis(normalized="x", tokens=[], sentiment=Sentiment.NEG, polarity=-0.5, spam=0.0,
                                      rumour=0.0, topic="后勤")) for p in analysed])
    ids = {str(i): store.find_post("weibo", str(i)).id for i in range(len(times))}
    expected = sorted((at, ids[str(i)]) for i, at in enumerate(times) if at >= T0)
    seen, after = [], None
    while page := store.posts_page(T0, after, 2):
        assert len(page) <= 2
        seen += page
        after = (page[-1][0].created_at, page[-1][0].id)
    assert [(p.created_at, p.id) for p, _ in seen] == expected
    assert {p.id: (a.topic if a else None) for p, a in seen} == {
        p.id: ("后勤" if p.id in {x.id for x in analysed} else None) for p, _ in seen}
    assert len(store.posts_page(T0 - timedelta(hours=1), None, 100)) == 7
    assert store.posts_page(T0 + timedelta(minutes=10), None, 5) == []
    # `since` is exact to the microsecond, also inside one millisecond
    edge = T0 + timedelta(hours=1, microseconds=500)
    store.ingest("inbox", [_post("early", edge - timedelta(microseconds=400)), _post("late", edge + timedelta(microseconds=300))],
                 None)
    assert [p.source_id for p, _ in store.posts_page(edge, None, 5)] == ["late"]


# ---- the report mail outbox ---------------------------------------------------------------------------------

@CONTRACT
def test_report_mails_are_queued_once_per_period_and_user_even_from_two_processes(store):
    week = date(2026, 3, 2)
    assert not store.report_mails_exist("weekly", week)
    new = race(3, lambda i: store.enqueue_report_mails("weekly", week, ["wang", "li", "zhao", "li"], T0))
    assert sum(new) == 3
    assert store.enqueue_report_mails("weekly", week, ["li", "qian"], T0) == 1
    assert store.report_mails_exist("weekly", week) and not store.report_mails_exist("monthly", week)
    assert not store.report_mails_exist("weekly", date(2026, 3, 9))
    mails = store.report_mails("weekly", week)
    assert [m.username for m in mails] == ["li", "qian", "wang", "zhao"]
    assert all((m.state, m.attempts, m.next_attempt_at, m.start) == ("pending", 0, T0, week) for m in mails)
    assert len({m.id for m in mails}) == 4


@CONTRACT
def test_due_report_mails_retry_later_and_finished_ones_leave_the_queue(store):
    week = date(2026, 3, 2)
    store.enqueue_report_mails("weekly", week, ["a", "b"], T0)
    store.enqueue_report_mails("daily", date(2026, 3, 3), ["c"], T0 + timedelta(minutes=1))
    assert store.due_report_mails(T0 - timedelta(seconds=1)) == []
    due = store.due_report_mails(T0 + timedelta(minutes=1))
    assert [m.username for m in due] == ["a", "b", "c"]  # by due time, then queue order
    assert [m.username for m in store.due_report_mails(T0 + timedelta(minutes=1), limit=2)] == ["a", "b"]
    a, b, c = due
    store.report_mail_failed(a.id, "连接被拒绝", T0 + timedelta(minutes=10))
    store.report_mail_done(b.id, "sent", T0 + timedelta(minutes=2))
    store.report_mail_done(c.id, "dropped", T0 + timedelta(minutes=2), "收件人已停用")
    assert store.due_report_mails(T0 + timedelta(minutes=9, seconds=59)) == []
    [again] = store.due_report_mails(T0 + timedelta(minutes=10))
    assert (again.username, again.state, again.attempts, again.last_error) == ("a", "failing", 1, "连接被拒绝")
    store.report_mail_done(a.id, "sent", T0 + timedelta(minutes=11))
    by_user = {m.username: m for m in store.report_mails("weekly", week)}
    assert (by_user["a"].state, by_user["a"].attempts, by_user["a"].sent_at) == ("sent", 2, T0 + timedelta(minutes=11))
    assert (by_user["b"].state, by_user["b"].attempts) == ("sent", 1)
    assert store.report_mails("daily", date(2026, 3, 3))[0].last_error == "收件人已停用"
    assert store.due_report_mails(T0 + timedelta(days=1)) == []


# ---- the quarantine -----------------------------------------------------------------------------------------

@CONTRACT
def test_releasing_a_post_forgets_its_failures_in_that_stage_only(store):
    store.ingest("inbox", [_post("1", T0), _post("2", T0)], None)
    p1, p2 = (store.find_post("weibo", s).id for s in ("1", "2"))
    for version in (1, 2):
        store.quarantine_failure("analyze", p1, version, "坏数据", T0)
    store.quarantine_failure("rules", p1, 1, "规则出错", T0)
    store.quarantine_failure("analyze", p2, 1, "坏数据", T0)
    assert store.release_quarantine("analyze", p1)
    assert not store.release_quarantine("analyze", p1)
    assert sorted((q.stage, q.post_id) for q in store.quarantined()) == sorted([("rules", p1), ("analyze", p2)])


# ---- only the search-cluster stores: what a crash leaves behind --------------------------------------------

@SEARCH
def test_a_client_name_claimed_by_an_add_that_was_killed_is_free_after_the_write_lease(store):
    from store.codec import ts

    guard = store._name_guard("bi")
    # an add of "bi" that claimed the name and died before writing its token, just now
    store.client.put(store.names.meta, guard, {"value": "never-written", "updated_at": ts(datetime.now(timezone.utc))})
    with pytest.raises(ValueError):  # it may still be writing: the name is taken
        store.add_api_token(ApiToken("bi", ["posts:read"], T0, "admin"), "h1", AuditEvent("admin", "x"))
    long_ago = datetime.now(timezone.utc) - store.write_lease - timedelta(seconds=1)
    store.client.put(store.names.meta, guard, {"value": "never-written", "updated_at": ts(long_ago)})
    made = store.add_api_token(ApiToken("bi", ["posts:read"], T0, "admin"), "h1", AuditEvent("admin", "x"))
    assert made.id is not None and [t.name for t in store.api_tokens()] == ["bi"]
    assert store.revoke_api_token("bi", AuditEvent("admin", "api_token.revoke", "bi", at=T0))
    assert store.api_token("h1").revoked_at == T0


@given(st.tuples(st.text(max_size=6), st.text(max_size=6)), st.tuples(st.text(max_size=6), st.text(max_size=6)))
def test_document_ids_of_different_parts_differ(a, b):
    from store.search.people import digest_id

    assert (digest_id(*a) == digest_id(*b)) == (a == b)
    assert digest_id("a\x00b", "c") != digest_id("a", "\x00bc") and digest_id("ab") != digest_id("a", "b")


@SEARCH
def test_a_create_answered_429_that_landed_is_recognised_as_ones_own(store, monkeypatch):
    """The cluster stored the document but answered 429 (a busy node, an answer lost on the way): the
    store sends it again, meets its own document (409) and counts it as written, not as someone else's."""
    real = store.client.bulk

    def overloaded_once(operations, refresh=False):
        response = real(operations, refresh)
        last = next(iter(response["items"][-1]))
        response["items"][-1][last] = {"status": 429, "error": {"type": "es_rejected_execution_exception"}}
        store.client.bulk = real  # only the first answer is lost
        return response

    monkeypatch.setattr(store.client, "bulk", overloaded_once)
    assert store.add_user(User("wang", Role.OFFICER, "h")).id is not None
    assert [u.username for u in store.users()] == ["wang"]
    monkeypatch.setattr(store.client, "bulk", overloaded_once)
    assert store.enqueue_report_mails("weekly", date(2026, 3, 2), ["wang", "li"], T0) == 2
    monkeypatch.setattr(store.client, "bulk", overloaded_once)
    store.add_api_token(ApiToken("bi", ["posts:read"], T0, "admin"), "h1", AuditEvent("admin", "api_token.create"))
    assert store.api_token("h1").name == "bi" and [e.action for e in store.audit_log()] == ["api_token.create"]
