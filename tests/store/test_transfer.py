"""Copying a store into another backend (store/transfer.py, `python -m store.migrate --to`): every post
once, with its analysis, resumable after a crash at any point."""
from __future__ import annotations

from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Iterator

import pytest

from core.domain import (Action, Analysis, AuditEvent, Case, CaseKind, CaseResponse, CaseState, Decision, Flag, Post,
                         ReasonCode, Sentiment)
from store.base import RuleResults
from store.sqlite import SqliteStore
from store.transfer import (TransferReport, collector_name, copy_alerts, copy_audit, copy_cases, copy_people,
                            copy_posts)

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def source_store(path, n: int = 230) -> SqliteStore:
    s = SqliteStore(path)
    s.migrate()
    # created out of order, some at the same moment, one edited: the copy goes by (created_at, id)
    posts = [Post(["qq", "weibo"][i % 2], f"s{i}", f"u{i % 7}", f"第{i}条关于食堂的意见",
                  T0 + timedelta(minutes=(i * 37) % 101)) for i in range(n)]
    s.ingest("inbox", posts, None)
    s.ingest("inbox", [Post("qq", "s0", "u0", "第0条改过了", posts[0].created_at)], None)
    pending = s.posts_to_analyze(n + 10)
    s.save_analyses([(p, Analysis(normalized=p.text, tokens=[], sentiment=Sentiment.NEG, polarity=-0.4,
                                  spam=0.01 * (p.id % 50), rumour=0.2, model_version="m1"))
                     for p in pending if p.id % 5])  # every fifth post never analysed
    s.ingest("inbox", [Post("weibo", "s1", "u1", "第1条分析后又改了", posts[1].created_at)], None)  # stale analysis
    return s


def snapshot(store) -> dict:
    """Each post's text and, when it is of the current version, its analysis."""
    out = {}
    after = None
    while page := store.posts_page(datetime(1970, 1, 1, tzinfo=timezone.utc), after, 100):
        for p, a in page:
            out[(p.channel, p.source_id)] = (p.text, p.author, p.created_at,
                                             None if a is None or a.post_version != p.version
                                             else (a.spam, a.sentiment, a.model_version))
        after = (page[-1][0].created_at, page[-1][0].id)
    return out


@contextmanager
def killed_at(store, method: str, call: int) -> Iterator[None]:
    """The `call`-th call of `store.method` raises KeyboardInterrupt (a kill) instead of running."""
    real = getattr(store, method)
    calls = []

    def crash(*args, **kwargs):
        calls.append(1)
        if len(calls) == call:
            raise KeyboardInterrupt("killed")
        return real(*args, **kwargs)

    setattr(store, method, crash)
    try:
        yield
    finally:
        setattr(store, method, real)


def moderate(store) -> None:
    """Flags on a third of the analysed posts, a decision on half of those (both actions, by a person
    and by a rule), and a removal request on one still pending. Times in whole seconds (a cluster
    keeps milliseconds)."""
    ids = sorted(p.id for p, a in _all(store) if a is not None and a.post_version == p.version)[::3]
    flags = [Flag(pid, rule, f"规则 {rule} 命中", T0 + timedelta(hours=1, seconds=pid))
             for pid in ids for rule in (["spam"] if pid % 2 else ["spam", "rumour"])]
    store.commit_rule_results(RuleResults(flags=flags))
    for n, pid in enumerate(ids[::2]):
        store.decide(Decision(pid, "auto:spam" if n % 3 == 0 else f"mod{n % 2}",
                              Action.REMOVE if n % 2 else Action.APPROVE,
                              ReasonCode.SPAM if n % 2 else ReasonCode.FALSE_POSITIVE, note=f"备注{n}",
                              created_at=T0 + timedelta(hours=2, seconds=pid)),
                     AuditEvent(f"mod{n % 2}", "decision.remove", f"post:{pid}"))
    store.request_removal(ids[1], "mod0", "spam", "请删除", AuditEvent("mod0", "removal.request", f"post:{ids[1]}",
                                                                         at=T0 + timedelta(hours=3)))


def _all(store) -> list:
    out, after = [], None
    while page := store.posts_page(datetime(1970, 1, 1, tzinfo=timezone.utc), after, 100):
        out += page
        after = (page[-1][0].created_at, page[-1][0].id)
    return out


def moderation(store) -> dict:
    """By post key: review status, flags (rule, reason, time), the decision and a removal request."""
    posts = {p.id: p for p, _ in _all(store)}
    items = store.queue_items(list(posts))
    requests = store.removal_requests(list(posts))
    out = {}
    for pid, item in items.items():
        d = item.decision
        out[posts[pid].key] = (
            item.status, sorted((f.rule, f.reason, f.created_at) for f in item.flags),
            None if d is None else (d.moderator, d.action, d.reason_code, d.note, d.created_at),
            requests.get(pid))
    return out


def test_copies_every_post_and_analysis_once(tmp_path):
    source, target = source_store(tmp_path / "a.db"), SqliteStore(tmp_path / "b.db")
    target.migrate()
    seen = []
    report = copy_posts(source, target, batch=40, progress=seen.append)
    assert report.copied == 230 and report.analysed == len([1 for v in snapshot(source).values() if v[3]])
    assert snapshot(target) == snapshot(source)
    assert seen == sorted(seen) and seen[-1] == 230
    again = copy_posts(source, target, batch=40)  # nothing new: nothing copied
    assert again.copied == 0 and target.counts()["posts"] == 230


@pytest.mark.parametrize("fail_at", ["ingest", "save_analyses", "checkpoint"])
@pytest.mark.parametrize("call", [1, 3, 6])
def test_a_crash_anywhere_resumes_without_loss_or_duplicates(tmp_path, fail_at, call):
    source, target = source_store(tmp_path / "a.db", n=150), SqliteStore(tmp_path / "b.db")
    target.migrate()
    calls = {"ingest": 0, "save_analyses": 0, "checkpoint": 0}
    real_ingest, real_save = target.ingest, target.save_analyses

    def crash(kind: str) -> None:
        calls[kind] += 1
        if kind == fail_at and calls[kind] == call:
            raise KeyboardInterrupt("killed")

    def ingest(name, posts, checkpoint, dead=()):
        crash("checkpoint" if not posts else "ingest")
        return real_ingest(name, posts, checkpoint, dead)

    def save(pairs):
        crash("save_analyses")
        return real_save(pairs)

    target.ingest, target.save_analyses = ingest, save
    with pytest.raises(KeyboardInterrupt):
        copy_posts(source, target, batch=25)
    target.ingest, target.save_analyses = real_ingest, real_save
    resumed = copy_posts(source, target, batch=25)
    assert resumed.resumed_after is None or "|" in resumed.resumed_after
    assert snapshot(target) == snapshot(source)
    assert target.counts()["posts"] == 150
    assert target.checkpoint(collector_name("sqlite")) is not None


def test_the_command_needs_hosts_and_a_store_to_copy(tmp_path, capsys):
    from store.migrate import main

    assert main(["--data-dir", str(tmp_path / "d"), "--to", "opensearch"]) == 2
    assert "--hosts" in capsys.readouterr().err
    assert main(["--data-dir", str(tmp_path / "none"), "--to", "opensearch", "--hosts", "http://127.0.0.1:9"]) == 2
    assert "还没有数据库" in capsys.readouterr().err
    assert main(["--data-dir", str(tmp_path / "d")]) == 0  # the schema migrations, as before
    assert "已是最新版本" in capsys.readouterr().out


def test_the_copy_is_not_ruled_again_and_carries_users_and_debunks(tmp_path):
    from core.domain import AuditEvent, Debunk, Role, User
    from store.transfer import TransferReport, copy_people

    source = source_store(tmp_path / "a.db", n=40)
    source.add_user(User("zhang3", Role.MODERATOR, "hash-1", email="z@univ.edu.cn"))
    source.save_debunk(Debunk("食堂要涨价", "价格不变", ["涨价"], created_by="admin"), AuditEvent("admin", "debunk.create"))
    target = SqliteStore(tmp_path / "b.db")
    target.migrate()
    report = copy_posts(source, target, batch=7)
    assert report.analysed > 0
    assert target.posts_for_rules(1000) == []  # the analysed ones count as seen by the rules
    waiting = target.posts_to_analyze(1000)
    assert len(waiting) == report.copied - report.analysed  # the rest are analysed (then ruled) on the target
    again = TransferReport()
    copy_people(source, target, again)
    copy_people(source, target, again)  # a second run adds nothing
    assert (again.users, again.debunks) == (1, 1)
    assert target.get_user("zhang3").password_hash == "hash-1" and target.get_user("zhang3").email == "z@univ.edu.cn"
    assert [d.claim for d in target.debunks()] == ["食堂要涨价"]


def test_the_review_queue_and_decisions_come_along(tmp_path):
    source, target = source_store(tmp_path / "a.db"), SqliteStore(tmp_path / "b.db")
    moderate(source)
    target.migrate()
    expected = moderation(source)
    assert len(expected) > 20 and any(v[2] for v in expected.values()) and any(v[3] for v in expected.values())
    looked_up = []
    find = target.find_post
    target.find_post = lambda *key: looked_up.append(key) or find(*key)
    report = copy_posts(source, target, batch=40)
    assert looked_up == []  # the ids the page already read are used, not one search per post
    assert moderation(target) == expected
    assert report.flagged == len(expected) and report.decisions == sum(1 for v in expected.values() if v[2])
    copied = [e for e in target.audit_log(limit=1000) if e.action == "decision.migrate"]
    assert len(copied) == report.decisions and all(e.actor == "system" for e in copied)
    assert target.posts_for_rules(1000) == []  # still not ruled again
    copy_posts(source, target, batch=40)  # a second run: nothing twice
    assert moderation(target) == expected and len(target.decisions()) == report.decisions


@pytest.mark.parametrize("fail_at,call", [("commit_rule_results", 2), ("commit_rule_results", 5), ("decide_many", 1),
                                          ("decide_many", 4), ("request_removal", 1)])
def test_a_crash_while_copying_moderation_resumes_without_duplicates(tmp_path, fail_at, call):
    source, target = source_store(tmp_path / "a.db", n=150), SqliteStore(tmp_path / "b.db")
    moderate(source)
    target.migrate()
    with killed_at(target, fail_at, call), pytest.raises(KeyboardInterrupt):
        copy_posts(source, target, batch=25)
    copy_posts(source, target, batch=25)
    assert moderation(target) == moderation(source)
    assert snapshot(target) == snapshot(source)
    assert len(target.decisions()) == len(source.decisions())


def open_cases(store) -> None:
    """Cases at each point of the rumour loop: three open, three closed (subsided without and after
    being clarified, and a false alarm)."""
    ids = sorted(p.id for p, _ in _all(store))
    at = T0 + timedelta(hours=5)
    for n, (key, states) in enumerate([("c1", []), ("c2", [CaseState.VERIFYING]), ("c3", [CaseState.CLARIFIED]),
                                        ("c4", [CaseState.SUBSIDED]), ("c5", [CaseState.CLARIFIED, CaseState.SUBSIDED]),
                                        ("c6", [CaseState.VERIFYING, CaseState.FALSE_ALARM])]):
        cs = Case(CaseKind.RUMOUR, key, f"传言{n}", post_ids=ids[n * 5:n * 5 + 4], created_at=at + timedelta(minutes=n))
        store.commit_rule_results(RuleResults(cases=[cs]))
        for k, state in enumerate(states):
            store.set_case_state(cs.id, state, AuditEvent("lead1", "case.state", f"case:{cs.id}",
                                                          at=at + timedelta(hours=1 + k, minutes=n)))
        if n:
            store.assign_case(cs.id, ["lead1", f"lead{n + 1}"], AuditEvent("admin", "case.assign", f"case:{cs.id}"))
            for k in range(n):
                store.add_case_response(CaseResponse(cs.id, "lead1", "教职工QQ群", f"第{k}次回应：以通知为准",
                                                     created_at=at + timedelta(hours=2, minutes=k,
                                                                               microseconds=654321 * (k % 2))),
                                        AuditEvent("lead1", "case.respond", f"case:{cs.id}"))


def cases_of(store) -> dict:
    posts = {p.id: p.key for p, _ in _all(store)}
    return {(c.kind, c.key): (c.title, sorted(posts[i] for i in c.post_ids), c.state, c.status, c.created_at,
                              c.clarified_at, sorted(c.assignees),
                              sorted((r.username, r.where, r.text, r.url, r.created_at)
                                     for r in store.case_responses(c.id)))
            for c in store.cases(status=None, limit=1000)}


def test_cases_come_along_open_and_closed_with_their_leaders_and_responses(tmp_path):
    source, target = source_store(tmp_path / "a.db"), SqliteStore(tmp_path / "b.db")
    open_cases(source)
    target.migrate()
    copy_posts(source, target, batch=40)
    report = TransferReport()
    copy_cases(source, target, report)
    expected = cases_of(source)
    assert len(expected) == 6 and report.cases == 6
    assert sorted(v[3] for v in expected.values()) == ["closed"] * 3 + ["open"] * 3
    assert sum(1 for v in expected.values() if v[5] is not None) == 2  # clarified_at kept, also once subsided
    assert cases_of(target) == expected
    copy_cases(source, target, TransferReport())  # again: nothing twice
    assert cases_of(target) == expected
    assert {e.action for e in target.audit_log(limit=100)} >= {"case.migrate", "case.assign.migrate",
                                                                "case.respond.migrate"}


@pytest.mark.parametrize("fail_at,call", [("commit_rule_results", 2), ("set_case_state", 1), ("set_case_state", 4),
                                          ("assign_case", 2), ("add_case_response", 2)])
def test_a_cut_copy_of_cases_is_completed_by_the_next_run(tmp_path, fail_at, call):
    source, target = source_store(tmp_path / "a.db", n=60), SqliteStore(tmp_path / "b.db")
    open_cases(source)
    target.migrate()
    copy_posts(source, target, batch=40)
    with killed_at(target, fail_at, call), pytest.raises(KeyboardInterrupt):
        copy_cases(source, target, TransferReport())
    copy_cases(source, target, TransferReport())
    assert cases_of(target) == cases_of(source)


def history(store) -> None:
    """An audit log about posts, cases, debunks, alerts, users and nothing, and a post purged after its
    event was written (its event then names the archive's id)."""
    from core.domain import Debunk

    moderate(store)
    open_cases(store)
    store.save_debunk(Debunk("食堂要涨价", "价格不变", ["涨价"], created_by="admin"),
                      AuditEvent("admin", "debunk.create", at=T0 + timedelta(hours=6)))
    raise_alerts(store)
    store.audit(AuditEvent("admin", "alert.ack", "alert:77", {"level": "red"}, at=T0 + timedelta(hours=7)))
    store.audit(AuditEvent("wang", "login.ok", "", {"net": "10.0.0.0/24"}, at=T0 + timedelta(hours=8)))
    store.audit(AuditEvent("admin", "user.create", "user:zhang3", at=T0 + timedelta(hours=9)))
    store.audit(AuditEvent("mod0", "decision.approve", "post:999999", at=T0 + timedelta(hours=10)))


def raise_alerts(store) -> None:
    """Four alerts: one on a case with its outbox half sent and half failing, one acknowledged, claimed
    and escalated, one with nothing done, and one still held back (due later)."""
    from core.domain import Alert, Level

    ids = sorted(p.id for p, _ in _all(store))
    case = next(c for c in store.cases(status=None, limit=100) if c.key == "c2")
    at = T0 + timedelta(hours=6)
    made = [Alert("rumour_spread", Level.RED, "传言扩散", "有传言在扩散", "rumour:c2", post_ids=ids[5:8],
                  created_at=at, case_id=case.id, kind="rumour", topics=["薪酬"], channels=["qq"],
                  routes=[("email", "lead1", "负责人"), ("wecom_group", "", ""), ("dingtalk", "lead2", "负责人")]),
            Alert("negative_spike", Level.ORANGE, "负面激增", "食堂负面帖增多", "spike:canteen", post_ids=ids[:3],
                  created_at=at + timedelta(minutes=5), kind="surge", routes=[("email", "officer", "主题")]),
            Alert("spam_flood", Level.YELLOW, "广告刷屏", "同一广告多次出现", "flood:x", post_ids=ids[10:12],
                  created_at=at + timedelta(minutes=9, microseconds=654321), kind="spam", routes=[]),
            Alert("pii_leak", Level.RED, "个人信息泄露", "帖子含手机号", "pii:1", post_ids=ids[12:13],
                  created_at=at + timedelta(minutes=12), kind="pii", routes=[("email", "mod0", "审核")],
                  hold_until=at + timedelta(days=400))]
    store.commit_rule_results(RuleResults(alerts=made))
    first = store.deliveries(made[0].id)
    store.delivery_sent(first[0].id, at + timedelta(minutes=1), "ok")
    store.delivery_sent(first[1].id, at + timedelta(minutes=2))
    store.delivery_failed(first[2].id, "钉钉返回 errcode 88", at + timedelta(minutes=30))
    second = made[1].id
    store.delivery_sent(store.deliveries(second)[0].id, at + timedelta(minutes=6))
    store.acknowledge_alert(second, AuditEvent("officer", "alert.ack", f"alert:{second}", at=at + timedelta(minutes=20)))
    store.claim_alert(second, AuditEvent("lead1", "alert.claim", f"alert:{second}", at=at + timedelta(minutes=21)))
    store.add_deliveries(second, [("email", "chair", "升级")], at + timedelta(hours=1),
                         AuditEvent("system", "alert.escalate", f"alert:{second}"), escalated=1)


def every_alert(store) -> list:
    out, after = [], None
    while page := store.alerts_page(datetime(1970, 1, 1, tzinfo=timezone.utc), after, 2):
        out += page
        after = (page[-1].created_at, page[-1].id)
    return out


def alerts_of(store) -> dict:
    """By (rule, key, time): what an alert says, what it is about, what was done with it, and its outbox
    (each delivery: where to, and when it was sent, or when it is due)."""
    posts = {p.id: p.key for p, _ in _all(store)}
    cases = {c.id: (c.kind, c.key) for c in store.cases(status=None, limit=1000)}
    return {(a.rule, a.dedupe_key, a.created_at): (
        a.level, a.title, a.body, a.kind, a.topics, a.channels, sorted(posts[p] for p in a.post_ids),
        cases.get(a.case_id), a.acknowledged_by, a.acknowledged_at, a.claimed_by, a.claimed_at, a.escalated,
        a.raised_at, sorted((d.notifier, d.recipient, d.reason, d.sent_at) for d in store.deliveries(a.id)))
        for a in every_alert(store)}


def unsent(store) -> list:
    """The outbox, by alert: what is still to be sent, and from when."""
    alerts = {a.id: (a.rule, a.dedupe_key) for a in every_alert(store)}
    return sorted((alerts[d.alert_id], d.notifier, d.recipient)
                  for d in store.due_deliveries(datetime(9000, 1, 1, tzinfo=timezone.utc), 100))


def audit_of(store, copied_only: bool = False) -> list:
    """The audit log, oldest first, with what each event names as a key that holds on any store."""
    posts = {p.id: p.key for p, _ in _all(store)}
    cases = {c.id: (c.kind, c.key) for c in store.cases(status=None, limit=1000)}
    debunks = {d.id: d.claim for d in store.debunks(active_only=False)}
    alerts = {a.id: (a.rule, a.dedupe_key, a.created_at) for a in every_alert(store)}
    names = {"post": posts, "case": cases, "debunk": debunks, "alert": alerts}
    out, events, after = [], [], 0
    while page := store.audit_page(after, 500):
        events += page
        after = page[-1].id
    for e in events:
        detail = dict(e.detail)
        if copied_only and detail.pop("migrated_from", None) != "sqlite":
            continue
        detail.pop("source_id", None)
        kind, _, num = e.target.partition(":")
        about = (kind, names[kind][int(num)]) if kind in names and int(num) in names[kind] else e.target
        out.append((e.actor, e.action, about, detail, e.at))
    return out


def copied_audit(source) -> list:
    """What the copy of a `history` log reads like in the target (`audit_of(target, copied_only=True)`)."""
    archived = {"alert:77", "post:999999"}  # not in either store: named by their id in the archive
    return [(actor, action, f"sqlite:{about}" if about in archived else about, detail, at)
            for actor, action, about, detail, at in audit_of(source)]


def with_history(tmp_path, n: int = 60) -> tuple[SqliteStore, SqliteStore]:
    """A source store with posts and a `history`, and an empty target."""
    source, target = source_store(tmp_path / "a.db", n=n), SqliteStore(tmp_path / "b.db")
    history(source)
    target.migrate()
    return source, target


def migrate_all(source, target, batch: int = 25, audit: bool = True) -> TransferReport:
    """What `store.migrate --to` copies, in its order (the audit log last, or not at all)."""
    report = copy_posts(source, target, batch=batch)
    copy_people(source, target, report)
    copy_cases(source, target, report)
    copy_alerts(source, target, report)
    if audit:
        copy_audit(source, target, report, batch=batch)
    return report


def test_the_audit_log_comes_along_in_order_naming_the_targets_copies(tmp_path):
    source, target = with_history(tmp_path, n=120)
    expected = copied_audit(source)
    assert {e[2] for e in expected} >= {"sqlite:alert:77", "sqlite:post:999999", "", "user:zhang3"}
    assert {e[2][0] for e in expected if isinstance(e[2], tuple)} == {"post", "case", "debunk", "alert"}
    report = migrate_all(source, target)
    assert report.audit == len(expected) > 30
    assert audit_of(target, copied_only=True) == expected
    assert target.checkpoint(collector_name("sqlite") + ":audit") == str(source.audit_log(limit=1)[0].id)
    migrate_all(source, target)  # again: nothing twice
    assert audit_of(target, copied_only=True) == expected


@pytest.mark.parametrize("fail_at,call", [("audit_batch", 1), ("audit_batch", 3), ("ingest", 1), ("ingest", 2)])
def test_a_cut_copy_of_the_audit_log_is_completed_without_duplicates(tmp_path, fail_at, call):
    source, target = with_history(tmp_path, n=120)
    report = migrate_all(source, target, audit=False)
    with killed_at(target, fail_at, call), pytest.raises(KeyboardInterrupt):  # ingest: the checkpoint after a page
        copy_audit(source, target, report, batch=10)
    migrate_all(source, target, batch=10)
    assert audit_of(target, copied_only=True) == copied_audit(source)


def test_alerts_come_along_with_who_took_them_on_and_an_outbox_that_sends_nothing_twice(tmp_path):
    source, target = with_history(tmp_path)
    expected, outbox = alerts_of(source), unsent(source)
    assert len(expected) == 4 and len(outbox) == 3  # the failing, the held and the escalation; not the sent ones
    assert any(v[8] and v[10] and v[12] for v in expected.values())  # acknowledged, claimed, escalated
    report = migrate_all(source, target)
    assert report.alerts == 4
    assert alerts_of(target) == expected
    assert unsent(target) == outbox  # what was sent is not sent again; what was not is
    held = [d for a in every_alert(target) if a.rule == "pii_leak" for d in target.deliveries(a.id)]
    assert [d.next_attempt_at for d in held] == [T0 + timedelta(hours=6, days=400)]  # still held back
    assert target.last_alert_at("spike:canteen") == T0 + timedelta(hours=6, minutes=5)  # no second alert about it
    migrate_all(source, target)  # again: nothing twice
    assert alerts_of(target) == expected and unsent(target) == outbox
    assert audit_of(target, copied_only=True) == copied_audit(source)


@pytest.mark.parametrize("fail_at,call", [("commit_rule_results", 2), ("add_deliveries", 2), ("delivery_sent", 1),
                                          ("delivery_sent", 3), ("acknowledge_alert", 1), ("claim_alert", 1)])
def test_a_cut_copy_of_alerts_is_completed_and_sends_nothing_already_sent(tmp_path, fail_at, call):
    source, target = with_history(tmp_path)
    report = copy_posts(source, target, batch=25)
    copy_cases(source, target, report)
    with killed_at(target, fail_at, call), pytest.raises(KeyboardInterrupt):
        copy_alerts(source, target, report)
    assert unsent(target) == [d for d in unsent(target) if d in unsent(source)]  # never a sent one, even cut
    migrate_all(source, target)
    assert alerts_of(target) == alerts_of(source) and unsent(target) == unsent(source)
