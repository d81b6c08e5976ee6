"""Cases, alerts and the alert outbox against the contract in store/base.py: @CONTRACT tests run on
SQLite and both search clusters with the same body; @SEARCH tests show what only the cluster stores
have to: a rules pass committed again after a crash adds nothing, and writers racing on one cluster.
(The rules pass here carries alerts and cases only; flags and the rules cursor are another area's.)"""
from __future__ import annotations

import itertools
import threading
from datetime import datetime, timedelta, timezone

from hypothesis import HealthCheck, given, settings as hsettings, strategies as st

from core.domain import (Alert, AuditEvent, Case, CaseKind, CaseResponse, CaseState, DeliveryState, Level, Post,
                         utcnow)
from store.base import RuleResults, Store
from store.search.client import Connection
from store.sqlite import SqliteStore
from tests.store.conftest import CONTRACT, SEARCH

CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=CST)


def ingest(store: Store, *specs: tuple[str, int, str]) -> list[int]:
    """Posts (source id, minutes after T0, channel); returns their ids in order."""
    store.ingest("t", [Post(channel=ch, source_id=sid, author="u1", text=f"帖子{sid}",
                            created_at=T0 + timedelta(minutes=m)) for sid, m, ch in specs], None)
    return [store.find_post(ch, sid).id for sid, _, ch in specs]


def alert(key: str, minutes: int = 0, level: Level = Level.ORANGE, posts: list[int] | None = None,
          routes: list[tuple[str, str, str]] | None = None, **kw) -> Alert:
    return Alert("rumour_spread", level, f"传言：{key}", "……", key, posts or [], ["邮件"],
                 created_at=T0 + timedelta(minutes=minutes), routes=routes, **kw)


def twin(store: Store, request) -> Store:
    """A second store object on the same data (another process, another service instance)."""
    if isinstance(store, SqliteStore):
        return SqliteStore(store.path)
    cluster = request.getfixturevalue(f"{request.node.callspec.params['store']}_cluster")
    return type(store)(type(store.client)(Connection(hosts=tuple(cluster.hosts))), store.names.prefix)


@CONTRACT
def test_a_rules_pass_upserts_cases_and_queues_each_alert_for_each_route(store):
    p1, p2, p3 = ingest(store, ("1", 0, "weibo"), ("2", 1, "weibo"), ("3", 2, "qq"))
    now = utcnow()
    first = RuleResults(
        alerts=[alert("rumour:c1", 1, posts=[p1, p2], routes=[("邮件", "", "规则"), ("wecom", "lead", "订阅"),
                                                            ("邮件", "", "重复的路由只发一次")]),
                alert("flood:f1", 2, Level.YELLOW, posts=[p3], hold_until=now + timedelta(hours=9))],
        cases=[Case(CaseKind.RUMOUR, "c1", "下月绩效砍三成", [p2, p1]), Case(CaseKind.FLOOD, "f1", "广告一", [p3])],
        alert_case={0: ("rumour", "c1"), 1: ("flood", "f1")})
    rumour_alert, flood_alert = store.commit_rule_results(first)
    rumour, flood = first.cases
    assert rumour.id and flood.id and rumour.id != flood.id
    assert (rumour_alert.case_id, flood_alert.case_id) == (rumour.id, flood.id)
    assert [(d.notifier, d.recipient, d.reason, d.state) for d in store.deliveries(rumour_alert.id)] == [
        ("邮件", "", "规则", DeliveryState.PENDING), ("wecom", "lead", "订阅", DeliveryState.PENDING)]
    # quiet hours: the flood alert's delivery waits until its hold time
    assert [d.alert_id for d in store.due_deliveries(now + timedelta(hours=1))] == [rumour_alert.id] * 2
    assert {d.alert_id for d in store.due_deliveries(now + timedelta(hours=9))} == {rumour_alert.id, flood_alert.id}
    assert store.counts()["alerts"] == 2 and store.counts()["outbox_pending"] == 3
    assert store.last_alert_at("rumour:c1") == T0 + timedelta(minutes=1) and store.last_alert_at("nope") is None

    # the next pass: the same cases grow; a rumour case keeps the claim as first told, others take the new title
    store.set_case_state(flood.id, CaseState.FALSE_ALARM, AuditEvent("mod", "case.state"))
    second = RuleResults(cases=[Case(CaseKind.RUMOUR, "c1", "另一种说法", [p3, p1]), Case(CaseKind.FLOOD, "f1", "广告二", [])])
    store.commit_rule_results(second)
    assert [cs.id for cs in second.cases] == [rumour.id, flood.id]
    got = store.get_case(rumour.id)
    assert (got.title, got.post_ids, got.kind, got.key) == ("下月绩效砍三成", sorted([p1, p2, p3]), CaseKind.RUMOUR, "c1")
    again = store.get_case(flood.id)
    assert (again.title, again.status, again.post_ids) == ("广告二", "open", [p3])  # a new post reopens it
    assert again.updated_at >= got.created_at and store.get_case(999_999) is None
    assert store.last_alert_at("rumour:c1") == T0 + timedelta(minutes=1)


@CONTRACT
def test_cases_are_listed_most_recently_updated_first_and_filtered(store):
    [p] = ingest(store, ("1", 0, "weibo"))
    store.commit_rule_results(RuleResults(cases=[Case(CaseKind.RUMOUR, f"r{i}", f"传言{i}", [p]) for i in range(3)]))
    store.commit_rule_results(RuleResults(cases=[Case(CaseKind.SURGE, "s", "负面激增", [p]),
                                                 Case(CaseKind.RUMOUR, "r1", "又一次", [p])]))
    r2 = next(c for c in store.cases() if c.key == "r2")
    assert [c.key for c in store.cases()] == ["r1", "s", "r0", "r2"]  # one pass shares its time: then by id
    assert [c.key for c in store.cases(kind="rumour", limit=2)] == ["r1", "r0"]
    assert store.set_case_state(r2.id, CaseState.SUBSIDED, AuditEvent("mod", "case.state"))
    assert [c.key for c in store.cases(kind="rumour")] == ["r1", "r0"]
    assert [c.key for c in store.cases(status="closed")] == ["r2"]
    assert [c.key for c in store.cases(status=None, limit=100)] == ["r1", "s", "r0", "r2"]
    assert store.cases(kind="flood") == [] and store.cases(limit=0) == []


@CONTRACT
def test_the_rumour_loop_assignees_answers_and_states(store):
    p1, p2 = ingest(store, ("1", 0, "weibo"), ("2", 30, "weibo"))
    results = RuleResults(alerts=[alert("rumour:c", 0, posts=[p1])], cases=[Case(CaseKind.RUMOUR, "c", "传言", [p2, p1])],
                          alert_case={0: ("rumour", "c")})
    [a] = store.commit_rule_results(results)
    case_id = results.cases[0].id
    at = T0 + timedelta(hours=1)
    store.assign_case(case_id, ["zhang", "li"], AuditEvent("admin", "case.assign", f"case:{case_id}", at=at))
    store.assign_case(case_id, ["li", "wang"], AuditEvent("admin", "case.assign", f"case:{case_id}",
                                                          at=at + timedelta(minutes=5)))
    assert store.get_case(case_id).assignees == ["li", "zhang", "wang"]  # by assignment time, then name
    assert [c.id for c in store.cases_assigned("wang")] == [case_id] and store.cases_assigned("zhao") == []
    for text, minutes in (("第二条回应", 20), ("第一条回应", 10)):
        r = store.add_case_response(CaseResponse(case_id, "li", "教职工群", text, created_at=at + timedelta(minutes=minutes)),
                                    AuditEvent("li", "case.respond", f"case:{case_id}"))
        assert r.id
    assert [r.text for r in store.case_responses(case_id)] == ["第一条回应", "第二条回应"]
    assert store.case_responses(case_id + 1) == []
    assert [x.id for x in store.case_alerts(case_id)] == [a.id] and store.case_alerts(case_id + 1) == []
    assert store.case_post_times(case_id) == [T0, T0 + timedelta(minutes=30)]

    # 疑似 → 已澄清 (clarified_at set once) → 平息 only from 已澄清
    assert not store.set_case_state(case_id, CaseState.SUBSIDED, AuditEvent("sys", "case.subside"),
                                    expect=CaseState.CLARIFIED)
    first = T0 + timedelta(hours=2)
    assert store.set_case_state(case_id, CaseState.CLARIFIED, AuditEvent("li", "case.state", at=first))
    assert store.set_case_state(case_id, CaseState.CLARIFIED, AuditEvent("li", "case.state", at=first + timedelta(hours=1)))
    case = store.get_case(case_id)
    assert (case.state, case.status, case.clarified_at) == (CaseState.CLARIFIED, "open", first)
    # nothing newer than the clarification's quiet period: it may subside
    assert store.cases_to_subside(first - timedelta(minutes=1)) == []  # clarified after that time
    assert [c.id for c in store.cases_to_subside(first)] == [case_id]
    assert store.cases_to_subside(first, limit=0) == []
    ingest(store, ("3", 200, "weibo"))
    store.commit_rule_results(RuleResults(cases=[Case(CaseKind.RUMOUR, "c", "x", [store.find_post("weibo", "3").id])]))
    assert store.cases_to_subside(first + timedelta(minutes=10)) == []  # a post came after it
    assert store.set_case_state(case_id, CaseState.SUBSIDED, AuditEvent("sys", "case.subside"), expect=CaseState.CLARIFIED)
    assert store.get_case(case_id).status == "closed" and store.cases_assigned("li") == []
    assert [c.id for c in store.cases_assigned("li", open_only=False)] == [case_id]
    assert not store.set_case_state(999_999, CaseState.VERIFYING, AuditEvent("li", "case.state"))
    actions = [e.action for e in store.audit_log()]
    assert actions.count("case.assign") == 2 and actions.count("case.respond") == 2
    assert actions.count("case.state") == 2 and actions.count("case.subside") == 1  # refused moves leave no trace


@CONTRACT
def test_cases_opened_in_a_period_with_size_and_first_answer(store):
    now = utcnow()
    a, b = ingest(store, ("m1", 0, "weibo"), ("m2", 1, "qq"))
    store.commit_rule_results(RuleResults(cases=[
        Case(CaseKind.RUMOUR, "k1", "传言一", [a], created_at=now - timedelta(hours=4)),
        Case(CaseKind.RUMOUR, "k2", "传言二", [b], created_at=now - timedelta(days=40)),
        Case(CaseKind.FLOOD, "k3", "广告", [a, b], created_at=now - timedelta(hours=2))]))
    since = now - timedelta(days=7)
    assert [(c.title, c.posts, c.first_answer_at) for c in store.cases_opened(since, now)] == [
        ("广告", 2, None), ("传言一", 1, None)]
    line = store.cases_opened(since, now)[1]
    answered = now - timedelta(hours=1)
    for minutes in (30, 0):
        store.add_case_response(CaseResponse(line.id, "leader", "教职工群", "已澄清", created_at=answered + timedelta(minutes=minutes)),
                                AuditEvent("leader", "case.respond"))
    assert store.cases_opened(since, now)[1].first_answer_at == answered
    assert [c.title for c in store.cases_opened(since, now, channel="qq")] == ["广告"]
    assert [c.title for c in store.cases_opened(now - timedelta(days=60), now, channel="qq")] == ["广告", "传言二"]
    assert [c.title for c in store.cases_opened(now - timedelta(days=60), now, limit=1)] == ["广告"]
    assert store.cases_opened(since, now - timedelta(hours=4)) == []  # the end is open
    assert store.cases_opened(since, now, channel="wechat") == []


@CONTRACT
def test_alerts_newest_first_by_level_and_page_and_the_feed_by_cursor(store):
    [p] = ingest(store, ("1", 0, "weibo"))
    # ties on the time on purpose: the id decides, both ways
    minutes = [0, 5, 5, 5, 10, 20]
    alerts = store.commit_rule_results(RuleResults(alerts=[
        alert(f"k{i}", m, Level.RED if i % 2 else Level.YELLOW, posts=[p]) for i, m in enumerate(minutes)]))
    ids = [x.id for x in alerts]
    newest = sorted(alerts, key=lambda x: (x.created_at, x.id), reverse=True)
    assert [x.id for x in store.alerts()] == [x.id for x in newest]
    assert [x.id for x in store.alerts(limit=2, offset=2)] == [x.id for x in newest[2:4]]
    assert [x.id for x in store.alerts(level="red")] == [x.id for x in newest if x.level is Level.RED]
    assert store.alerts(level="orange") == [] and store.alerts(offset=6) == []
    got = store.get_alert(ids[1])
    assert (got.title, got.level, got.post_ids, got.notifiers, got.created_at, got.dedupe_key) == (
        "传言：k1", Level.RED, [p], ["邮件"], T0 + timedelta(minutes=5), "k1")
    assert got.raised_at is not None and got.escalated == 0 and store.get_alert(999_999) is None
    for size in (1, 2, 4):
        seen, after = [], None
        while True:
            page = store.alerts_page(T0 + timedelta(minutes=5), after, size)
            if not page:
                break
            seen += [x.id for x in page]
            after = (page[-1].created_at, page[-1].id)
        assert seen == ids[1:], size  # from `since` on, oldest first, ties by id, none twice
    assert store.alerts_page(T0 + timedelta(minutes=21), None, 10) == []


_day = itertools.count(1)


@CONTRACT
@hsettings(max_examples=4, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seconds=st.lists(st.sampled_from([0, 0.000001, 0.001, 1, 1.000001]), min_size=1, max_size=7),
       size=st.integers(1, 4))
def test_the_alert_feed_pages_every_alert_once_in_time_then_id_order(store, seconds, size):
    """Times that tie, or differ by a microsecond (below a date field's millisecond), page exactly as SQLite."""
    start = T0 + timedelta(days=next(_day))  # each example on a day of its own: the feed from it is its alerts
    made = store.commit_rule_results(RuleResults(alerts=[
        Alert("surge", Level.RED, "激增", "…", f"k{i}", created_at=start + timedelta(seconds=s))
        for i, s in enumerate(seconds)]))
    expected = [a.id for a in sorted(made, key=lambda a: (a.created_at, a.id))]
    seen, after = [], None
    while page := store.alerts_page(start, after, size):
        assert len(page) <= size
        seen += [a.id for a in page]
        after = (page[-1].created_at, page[-1].id)
    assert seen == expected

@CONTRACT
def test_acknowledging_claiming_escalating_and_the_inbox(store):
    [p] = ingest(store, ("1", 0, "weibo"))
    raised = T0 + timedelta(minutes=1)
    a, b, c = store.commit_rule_results(RuleResults(alerts=[
        alert("a", 0, Level.RED, [p], routes=[("wecom", "li", "订阅")], raised_at=raised),
        alert("b", 1, Level.ORANGE, [p], routes=[("wecom", "li", "订阅"), ("邮件", "", "规则")], raised_at=raised),
        alert("c", 2, Level.YELLOW, [p], routes=[("邮件", "", "规则")], raised_at=raised)]))
    assert [x.id for x in store.alerts_notified("li")] == [b.id, a.id]
    assert store.alerts_notified("wang") == [] and [x.id for x in store.alerts_notified("li", limit=1)] == [b.id]
    late = raised + timedelta(minutes=30)
    assert [x.id for x in store.alerts_to_escalate(["red", "orange"], late, 1)] == [a.id, b.id]
    assert store.alerts_to_escalate(["red", "orange"], raised - timedelta(seconds=1), 1) == []
    assert store.alerts_to_escalate([], late, 1) == [] and len(store.alerts_to_escalate(["red", "orange"], late, 1, limit=1)) == 1

    # escalation: new deliveries only (an existing one stays), the tier only goes up
    n = store.add_deliveries(a.id, [("wecom", "li", "升级"), ("wecom", "wang", "升级（第 1 级）"), ("wecom", "wang", "重复")],
                             late, AuditEvent("system", "alert.escalate", f"alert:{a.id}"), escalated=1)
    assert n == 1 and store.get_alert(a.id).escalated == 1
    assert [(d.recipient, d.reason) for d in store.deliveries(a.id)] == [("li", "订阅"), ("wang", "升级（第 1 级）")]
    assert [x.id for x in store.alerts_notified("wang")] == [a.id]
    assert store.add_deliveries(a.id, [], late, escalated=0) == 0 and store.get_alert(a.id).escalated == 1
    assert [x.id for x in store.alerts_to_escalate(["red", "orange"], late, 1)] == [b.id]
    assert [x.id for x in store.alerts_to_escalate(["red", "orange"], late, 2)] == [a.id, b.id]

    # 确认 and 认领: the first one counts; a second is refused and not audited
    at = late + timedelta(minutes=1)
    assert store.acknowledge_alert(a.id, AuditEvent("li", "alert.ack", f"alert:{a.id}", at=at))
    assert not store.acknowledge_alert(a.id, AuditEvent("wang", "alert.ack", f"alert:{a.id}"))
    assert store.claim_alert(b.id, AuditEvent("wang", "alert.claim", f"alert:{b.id}", at=at))
    assert not store.claim_alert(b.id, AuditEvent("li", "alert.claim", f"alert:{b.id}"))
    assert not store.claim_alert(999_999, AuditEvent("li", "alert.claim", "alert:999999"))
    got_a, got_b = store.get_alert(a.id), store.get_alert(b.id)
    assert (got_a.acknowledged_by, got_a.acknowledged_at, got_a.claimed_by) == ("li", at, None)
    assert (got_b.claimed_by, got_b.claimed_at, got_b.acknowledged_by) == ("wang", at, None)
    assert store.alerts_notified("li") == [] and [x.id for x in store.alerts_notified("li", open_only=False)] == [b.id, a.id]
    assert store.alerts_to_escalate(["red", "orange", "yellow"], late, 3) == [store.get_alert(c.id)]
    assert [(e.actor, e.action) for e in store.audit_log()] == [("wang", "alert.claim"), ("li", "alert.ack"),
                                                                ("system", "alert.escalate")]


@CONTRACT
def test_two_moderators_claiming_at_once_exactly_one_wins(store, request):
    [p] = ingest(store, ("1", 0, "weibo"))
    [a] = store.commit_rule_results(RuleResults(alerts=[alert("k", 0, posts=[p])]))
    other = twin(store, request)
    won: list[str] = []
    start = threading.Barrier(4)

    def moderator(s: Store, name: str) -> None:
        start.wait()
        if s.claim_alert(a.id, AuditEvent(name, "alert.claim", f"alert:{a.id}")):
            won.append(name)

    threads = [threading.Thread(target=moderator, args=(s, f"mod{i}"))
               for i, s in enumerate([store, other, store, other])]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert len(won) == 1 and store.get_alert(a.id).claimed_by == won[0]
    assert [(e.actor, e.action) for e in store.audit_log()] == [(won[0], "alert.claim")]


@SEARCH
def test_a_claim_is_never_without_its_audit_event(store, request, monkeypatch):
    """Killed right after sending, the claim and its event both land; losing the race to another
    moderator between reading and writing, the loser's event is taken back."""
    import pytest

    [p] = ingest(store, ("1", 0, "weibo"))
    a, b = store.commit_rule_results(RuleResults(alerts=[alert("k", 0, posts=[p]), alert("j", 1, posts=[p])]))
    real = store._bulk

    def killed(actions, refresh=False):
        real(actions, refresh=refresh)  # sent and applied; the answer never arrives
        raise RuntimeError("kill -9")

    monkeypatch.setattr(store, "_bulk", killed)
    with pytest.raises(RuntimeError):
        store.claim_alert(a.id, AuditEvent("wang", "alert.claim", f"alert:{a.id}"))
    monkeypatch.setattr(store, "_bulk", real)
    assert store.get_alert(a.id).claimed_by == "wang"
    assert [(e.actor, e.target) for e in store.audit_log()] == [("wang", f"alert:{a.id}")]

    other = twin(store, request)

    def overtaken(actions, refresh=False):
        if any("index" in x and x["index"]["_id"] for x, _ in actions) and not other.get_alert(b.id).claimed_by:
            assert other.claim_alert(b.id, AuditEvent("zhao", "alert.claim", f"alert:{b.id}"))
        return real(actions, refresh=refresh)

    monkeypatch.setattr(store, "_bulk", overtaken)
    assert not store.claim_alert(b.id, AuditEvent("li", "alert.claim", f"alert:{b.id}"))
    monkeypatch.setattr(store, "_bulk", real)
    other.close()
    assert store.get_alert(b.id).claimed_by == "zhao"
    assert [(e.actor, e.target) for e in store.audit_log()] == [("zhao", f"alert:{b.id}"), ("wang", f"alert:{a.id}")]


@CONTRACT
def test_the_outbox_digests_postponing_and_failing_notifiers(store):
    [p] = ingest(store, ("1", 0, "weibo"))
    digest = [("wecom", "li", "汇总:日报"), ("邮件", "", "规则")]
    a, b, c = store.commit_rule_results(RuleResults(alerts=[
        alert(k, m, posts=[p], routes=digest) for k, m in (("a", 0), ("b", 1), ("c", 2))]))
    now = utcnow() + timedelta(minutes=1)
    due = store.due_deliveries(now)
    assert len(due) == 6 and [d.id for d in due] == sorted(d.id for d in due)  # same time: by id
    assert len(store.due_deliveries(now, limit=4)) == 4
    assert [d.alert_id for d in store.digest_deliveries("wecom", "li")] == [a.id, b.id, c.id]
    assert store.digest_deliveries("wecom", "wang") == [] and store.digest_deliveries("邮件", "") == []
    assert store.last_digest_at("wecom", "li") is None
    first = store.digest_deliveries("wecom", "li")[0]
    store.postpone_delivery(first.id, now + timedelta(hours=2))
    later = [d for d in store.deliveries(a.id) if d.id == first.id][0]
    assert (later.attempts, later.next_attempt_at, later.state) == (0, now + timedelta(hours=2), DeliveryState.PENDING)
    assert first.id not in {d.id for d in store.due_deliveries(now)}
    assert [d.id for d in store.due_deliveries(now + timedelta(days=1))][-1] == first.id  # the latest due comes last
    for d in store.digest_deliveries("wecom", "li")[:2]:
        store.delivery_sent(d.id, now + timedelta(minutes=d.alert_id), "平台无法送达：li")
    assert store.last_digest_at("wecom", "li") == now + timedelta(minutes=b.id)
    assert [d.alert_id for d in store.digest_deliveries("wecom", "li")] == [c.id]
    sent = [d for d in store.deliveries(a.id) if d.notifier == "wecom"][0]
    assert (sent.state, sent.attempts, sent.last_error, sent.sent_at) == (
        DeliveryState.SENT, 1, "平台无法送达：li", now + timedelta(minutes=a.id))

    # failing notifiers: those with a delivery failed at least n times; the latest error of each
    mails = [d for x in (a, b, c) for d in store.deliveries(x.id) if d.notifier == "邮件"]
    for i, d in enumerate(mails):
        for attempt in range(i + 1):
            store.delivery_failed(d.id, f"错误{i}-{attempt}", now + timedelta(minutes=10 * i + attempt))
    assert store.failing_notifiers(3) == [("邮件", 1, "错误2-2")]
    assert store.failing_notifiers(2) == [("邮件", 2, "错误2-2")]
    store.delivery_failed(mails[1].id, "很久以后", now + timedelta(days=1))
    store.delivery_failed(mails[0].id, "x" * 3000, now + timedelta(minutes=5))
    assert store.failing_notifiers(1)[0][1:] == (3, "很久以后")
    assert store.deliveries(a.id)[1].last_error == "x" * 2000 and store.deliveries(a.id)[1].attempts == 2
    assert store.counts()["outbox_pending"] == 4 and store.failing_notifiers(10) == []
    store.delivery_sent(999_999, now)  # an unknown delivery: nothing happens
    assert store.counts()["outbox_pending"] == 4


# ---- what only the cluster stores have to show --------------------------------------------------

def _pass(p: int, q: int) -> RuleResults:
    """The same rules pass, made afresh (as a pass run again over the same posts makes it)."""
    return RuleResults(
        alerts=[alert("rumour:c1", 1, posts=[p, q], routes=[("邮件", "", "规则"), ("wecom", "li", "订阅")]),
                alert("surge", 2, Level.RED, posts=[q])],
        cases=[Case(CaseKind.RUMOUR, "c1", "传言", [p, q])], alert_case={0: ("rumour", "c1")})


def _state(store: Store) -> tuple:
    return (store.counts()["alerts"], store.counts()["outbox_pending"],
            [(a.id, a.case_id, a.dedupe_key) for a in store.alerts()],
            [(c.id, c.post_ids) for c in store.cases(status=None)],
            sorted((d.id, d.alert_id, d.notifier, d.recipient) for a in store.alerts() for d in store.deliveries(a.id)))


@SEARCH
def test_a_rules_pass_committed_again_after_a_crash_adds_nothing(store):
    p, q = ingest(store, ("1", 0, "weibo"), ("2", 1, "weibo"))
    first = store.commit_rule_results(_pass(p, q))
    before = _state(store)
    assert before[:2] == (2, 3)
    again = store.commit_rule_results(_pass(p, q))  # the cursor had not moved: the same pass once more
    assert [a.id for a in again] == [a.id for a in first] and _state(store) == before
    # the crash came after the alerts but before their deliveries: the repeat writes just those
    store.client.bulk([{"delete": {"_index": store.names.of("deliveries"), "_id": h["_id"]}} for h in
                       store.client.search(store.names.of("deliveries"), {"size": 10, "query": {"term": {
                           "alert_id": first[0].id}}})["hits"]["hits"]], refresh=True)
    assert store.deliveries(first[0].id) == []
    store.commit_rule_results(_pass(p, q))
    assert [(d.notifier, d.recipient) for d in store.deliveries(first[0].id)] == [("邮件", ""), ("wecom", "li")]
    assert _state(store)[:3] == before[:3]
    # an alert alike in every way but raised over a later version of its post is another alert
    edited = _pass(p, q)
    edited.seen = [(q, 2)]
    store._commit_alerts(edited)  # the alerts' part of commit_rule_results (the cursor is another area's)
    assert store.counts()["alerts"] == 4 and len(store.cases(status=None)) == 1


@SEARCH
def test_two_writers_committing_the_same_pass_store_it_once(store, request):
    p, q = ingest(store, ("1", 0, "weibo"), ("2", 1, "weibo"))
    other = twin(store, request)
    start = threading.Barrier(2)
    errors: list[BaseException] = []
    results: list[list[Alert]] = []

    def writer(s: Store) -> None:
        try:
            start.wait()
            results.append(s.commit_rule_results(_pass(p, q)))
        except BaseException as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(s,)) for s in (store, other)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    other.close()
    assert errors == []
    assert [a.id for a in results[0]] == [a.id for a in results[1]]
    alerts, pending, listed, cases, deliveries = _state(store)
    assert (alerts, pending, len(cases), len(deliveries)) == (2, 3, 1, 3)
    assert {d[1] for d in deliveries} == {a.id for a in results[0]}  # none left under an id that lost


@SEARCH
def test_reading_all_goes_past_the_clusters_result_window(store, monkeypatch):
    import store.search.alerts as area

    monkeypatch.setattr(area, "PAGE", 2)  # pages of two documents: "all" takes several requests
    monkeypatch.setattr(area, "WINDOW", 3)
    [p] = ingest(store, ("1", 0, "weibo"))
    made = store.commit_rule_results(RuleResults(alerts=[alert(f"k{i}", i, posts=[p], routes=[
        ("wecom", f"u{j}", "汇总:日报") for j in range(5)]) for i in range(4)]))
    assert [a.id for a in store.alerts(limit=3, offset=1)] == [a.id for a in reversed(made)][1:4]
    assert len(store.deliveries(made[0].id)) == 5 and len(store.digest_deliveries("wecom", "u3")) == 4
    assert [a.id for a in store.alerts_notified("u1", limit=10)] == [a.id for a in reversed(made)]


@CONTRACT
def test_reports_and_metrics_count_alerts_cases_and_deliveries(store):
    """What the stats area's reports read from this area (alerts per level, active rumour cases, the
    outbox per notifier and state), on every backend the same."""
    p1, p2, p3 = ingest(store, ("1", 0, "weibo"), ("2", 1, "weibo"), ("3", 2, "qq"))
    results = RuleResults(
        alerts=[alert("rumour:r1", 1, Level.RED, posts=[p1], routes=[("邮件", "", "规则"), ("wecom", "lead", "订阅")]),
                alert("rumour:r2", 2, Level.ORANGE, posts=[p2], routes=[("邮件", "", "规则")]),
                alert("flood:f1", 3, Level.ORANGE, posts=[p3], routes=[("邮件", "", "规则")])],
        cases=[Case(CaseKind.RUMOUR, "r1", "传言一", [p1]), Case(CaseKind.RUMOUR, "r2", "传言二", [p2]),
               Case(CaseKind.FLOOD, "f1", "广告", [p3])],
        alert_case={0: ("rumour", "r1"), 1: ("rumour", "r2"), 2: ("flood", "f1")})
    first, *_ = store.commit_rule_results(results)
    [sent, _] = store.deliveries(first.id)
    store.delivery_sent(sent.id, T0 + timedelta(minutes=5))
    now = utcnow()
    week = store.period_stats(now - timedelta(days=7), now + timedelta(days=1))  # the alerts' times are T0's
    everything = store.period_stats(T0 - timedelta(days=1), now + timedelta(days=1))
    assert week["alerts"] == {} and everything["alerts"] == {"red": 1, "orange": 2}
    rumour_ids = sorted(cs.id for cs in results.cases if cs.kind is CaseKind.RUMOUR)
    assert sorted(everything["rumour_case_ids"]) == rumour_ids and sorted(week["rumour_case_ids"]) == rumour_ids
    assert store.period_stats(T0 - timedelta(days=3), T0 - timedelta(days=2))["rumour_case_ids"] == []
    metrics = store.metrics_snapshot()
    assert metrics["alerts_by_level"] == {"red": 1, "orange": 2}
    assert metrics["deliveries"] == {("邮件", "sent"): 1, ("邮件", "pending"): 2, ("wecom", "pending"): 1}
