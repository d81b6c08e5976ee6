"""The rumour-response loop below the dashboard: allowed state changes, the volume before and after
an answer, the store's loop methods, and auto-subside (`Sentinel.maintain`) with the clock moved."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from core.caseflow import TRANSITIONS, allowed, case_volume, subside_quiet_cases, verdict
from core.config import load_settings
from core.domain import Alert, AuditEvent, Case, CaseKind, CaseResponse, CaseState, Level, Post, utcnow
from core.errors import ConfigError
from store.base import RuleResults

S = CaseState
TZ = ZoneInfo("Asia/Shanghai")
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


# ---------------------------------------------------------------------------- transitions
@pytest.mark.parametrize("a,b", [(S.SUSPECTED, S.VERIFYING), (S.VERIFYING, S.CLARIFIED), (S.CLARIFIED, S.SUBSIDED),
                                 (S.SUSPECTED, S.FALSE_ALARM), (S.VERIFYING, S.FALSE_ALARM),
                                 (S.CLARIFIED, S.VERIFYING), (S.SUBSIDED, S.VERIFYING), (S.FALSE_ALARM, S.SUSPECTED)])
def test_the_loop_allows_these_steps(a, b):
    assert allowed(a, b)


def test_and_nothing_else():
    allowed_pairs = {(a, b) for a, tos in TRANSITIONS.items() for b in tos}
    assert len(allowed_pairs) == 8
    for a in S:
        assert not allowed(a, a)
        for b in S:
            assert allowed(a, b) == ((a, b) in allowed_pairs)
    assert not allowed(S.SUSPECTED, S.CLARIFIED) and not allowed(S.SUSPECTED, S.SUBSIDED)
    assert not allowed(S.FALSE_ALARM, S.CLARIFIED) and not allowed(S.SUBSIDED, S.CLARIFIED)


# ---------------------------------------------------------------------------- volume
@pytest.mark.parametrize("before,after,text", [
    (10, 2, "澄清后 24 小时新增帖子比之前 24 小时减少 80%（10 → 2 条）。"),
    (4, 6, "澄清后 24 小时新增帖子比之前 24 小时增加 50%（4 → 6 条）。"),
    (3, 3, "澄清后 24 小时新增帖子与之前 24 小时持平（3 → 3 条）。"),
    (0, 2, "澄清前 24 小时没有新增帖子，澄清后 24 小时新增 2 条。"),
    (0, 0, "澄清前后各 24 小时都没有新增帖子。"),
    (3, 0, "澄清后 24 小时新增帖子比之前 24 小时减少 100%（3 → 0 条）。"),
])
def test_the_verdict_in_one_line(before, after, text):
    assert verdict("澄清", 24, before, after) == text


def hours(pivot: datetime, *offsets: float) -> list[datetime]:
    return [pivot + timedelta(hours=h) for h in offsets]


def test_volume_counts_per_hour_with_equal_windows_around_the_clarification():
    pivot = T0
    times = hours(pivot, -30, -23.9, -12, -6, -1, -0.01, 0, 0.5, 5, 23.99, 24, 40)
    vol = case_volume(times, now=pivot + timedelta(hours=48), tz=TZ, clarified_at=pivot)
    assert vol.bucket == "hour" and (vol.before, vol.after, vol.window_hours) == (5, 4, 24)
    assert sum(vol.counts) == len(times)
    assert vol.labels()[0] == "03-01 11:00"  # local time (UTC+8), 30 hours before 17:00
    assert vol.as_json()["marks"] == [{"name": "澄清", "index": 30, "label": "03-02 17:00", "at": pivot.isoformat()}]
    assert vol.change == pytest.approx(-0.2)


def test_a_recent_answer_compares_the_hours_so_far():
    pivot = T0
    times = hours(pivot, -7, -5.5, -3, -1, 0.5, 2)
    vol = case_volume(times, now=pivot + timedelta(hours=6, minutes=40), tz=TZ, first_response=pivot)
    assert (vol.window_hours, vol.before, vol.after) == (6, 3, 2)
    assert vol.verdict == "首次回应后 6 小时新增帖子比之前 6 小时减少 33%（3 → 2 条）。"
    young = case_volume(times, now=pivot + timedelta(minutes=20), tz=TZ, first_response=pivot)
    assert young.window_hours == 0 and young.verdict == "首次回应至今不足 1 小时，稍后再看前后对比。"


def test_the_earlier_of_response_and_clarification_is_the_pivot_and_both_are_marked():
    times = hours(T0, -2, -1, 1, 2, 3)
    vol = case_volume(times, now=T0 + timedelta(hours=30), tz=TZ, first_response=T0 + timedelta(hours=2),
                      clarified_at=T0)
    assert vol.pivot == T0 and vol.pivot_name == "澄清"
    assert [m["name"] for m in vol.as_json()["marks"]] == ["澄清", "首次回应"]


def test_no_answer_no_comparison_and_no_posts():
    vol = case_volume(hours(T0, 0, 1), now=T0 + timedelta(hours=3), tz=TZ)
    assert vol.verdict == "尚未回应或澄清，暂无前后对比。" and vol.window_hours == 0 and vol.change is None
    empty = case_volume([], now=T0, tz=TZ)
    assert empty.counts == [] and empty.verdict == "本事件还没有帖子。"


def test_a_long_case_is_counted_per_local_day():
    late, early = datetime(2026, 3, 1, 15, 30, tzinfo=timezone.utc), datetime(2026, 3, 1, 16, 30, tzinfo=timezone.utc)
    times = [T0 - timedelta(days=9), late, early, T0 + timedelta(days=1)]  # 23:30 and 00:30 Beijing time
    vol = case_volume(times, now=T0 + timedelta(days=2), tz=TZ, clarified_at=T0)
    assert vol.bucket == "day" and len(vol.starts) == 11
    by_day = dict(zip(vol.labels(), vol.counts))
    assert by_day["02-21"] == 1 and by_day["03-01"] == 1 and by_day["03-02"] == 1 and by_day["03-03"] == 1
    assert vol.as_json()["marks"][0]["label"] == "03-02"


def test_odd_times_are_left_out_not_fatal():
    times = [datetime(1, 1, 1, tzinfo=timezone.utc), datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc), T0]
    vol = case_volume(times, now=T0 + timedelta(hours=1), tz=TZ, clarified_at=datetime(1, 1, 1, tzinfo=timezone.utc))
    assert isinstance(vol.verdict, str)
    assert sum(case_volume(times, now=T0 + timedelta(hours=1), tz=TZ).counts) == 1


# ---------------------------------------------------------------------------- the store's loop methods
def seed_case(store, key: str = "r1", minutes: list[int] | None = None) -> int:
    posts = [Post(channel="weibo", source_id=f"{key}-{m}", author="a", text=f"听说绩效砍三成 {m}",
                  created_at=T0 + timedelta(minutes=m)) for m in (minutes if minutes is not None else [0, 30])]
    store.ingest("test", posts, None)
    case = Case(kind=CaseKind.RUMOUR, key=key, title="绩效传言", post_ids=[p.id for p in posts])
    alert = Alert(rule="rumour", level=Level.RED, title="传言", body="…", dedupe_key=key, post_ids=case.post_ids)
    store.commit_rule_results(RuleResults(cases=[case], alerts=[alert], alert_case={0: ("rumour", key)}))
    return case.id


def audit(actor: str, action: str, at: datetime = T0) -> AuditEvent:
    return AuditEvent(actor, action, "", at=at)


def test_set_case_state_with_an_expected_state_changes_and_audits_only_then(store):
    case_id = seed_case(store)
    assert store.set_case_state(case_id, S.VERIFYING, audit("officer", "case.state"), expect=S.SUSPECTED)
    assert not store.set_case_state(case_id, S.CLARIFIED, audit("officer", "case.state"), expect=S.SUSPECTED)
    assert store.get_case(case_id).state is S.VERIFYING
    assert [e.action for e in store.audit_log()] == ["case.state"]
    at = T0 + timedelta(hours=1)
    store.set_case_state(case_id, S.CLARIFIED, audit("officer", "case.state", at))
    store.set_case_state(case_id, S.VERIFYING, audit("officer", "case.state"))
    store.set_case_state(case_id, S.CLARIFIED, audit("officer", "case.state", at + timedelta(hours=5)))
    assert store.get_case(case_id).clarified_at == at  # the first clarification counts


def test_claim_and_ack_audit_only_the_winner(store):
    seed_case(store)
    [alert] = store.alerts()
    assert store.claim_alert(alert.id, audit("leader", "alert.claim"))
    assert not store.claim_alert(alert.id, audit("officer", "alert.claim"))
    assert store.acknowledge_alert(alert.id, audit("officer", "alert.ack", T0 + timedelta(minutes=5)))
    assert not store.acknowledge_alert(alert.id, audit("leader", "alert.ack"))
    got = store.get_alert(alert.id)
    assert (got.claimed_by, got.claimed_at, got.acknowledged_by, got.acknowledged_at) == (
        "leader", T0, "officer", T0 + timedelta(minutes=5))
    assert [(e.actor, e.action) for e in store.audit_log()] == [("officer", "alert.ack"), ("leader", "alert.claim")]


def test_alerts_notified_are_those_with_a_delivery_to_me_nobody_handled(store):
    seed_case(store, "a")
    seed_case(store, "b")
    seed_case(store, "c")
    a, b, c = sorted(store.alerts(), key=lambda x: x.id)
    for alert in (a, b):
        store.add_deliveries(alert.id, [("企业微信应用", "leader", "路由")], T0)
    store.add_deliveries(c.id, [("企业微信应用", "officer", "路由"), ("群机器人", "", "规则指定")], T0)
    assert [x.id for x in store.alerts_notified("leader")] == [b.id, a.id]
    store.claim_alert(a.id, audit("officer", "alert.claim"))
    assert [x.id for x in store.alerts_notified("leader")] == [b.id]
    assert [x.id for x in store.alerts_notified("leader", open_only=False)] == [b.id, a.id]
    assert [x.id for x in store.alerts_notified("officer")] == [c.id]


def test_case_post_times_responses_and_assignments(store):
    case_id = seed_case(store, minutes=[45, 0, 30])
    assert store.case_post_times(case_id) == [T0, T0 + timedelta(minutes=30), T0 + timedelta(minutes=45)]
    store.assign_case(case_id, ["li", "leader"], audit("officer", "case.assign"))
    store.assign_case(case_id, ["leader"], audit("officer", "case.assign"))  # already there: kept once
    assert sorted(store.get_case(case_id).assignees) == ["leader", "li"]
    assert [c.id for c in store.cases_assigned("li")] == [case_id]
    store.add_case_response(CaseResponse(case_id, "li", "教职工QQ群", "已说明", created_at=T0),
                            audit("li", "case.respond"))
    assert [(r.username, r.where) for r in store.case_responses(case_id)] == [("li", "教职工QQ群")]
    store.set_case_state(case_id, S.FALSE_ALARM, audit("officer", "case.state"))
    assert store.cases_assigned("li") == [] and len(store.cases_assigned("li", open_only=False)) == 1


# ---------------------------------------------------------------------------- auto-subside
def test_quiet_clarified_cases_subside_and_nothing_else_does(store):
    quiet = seed_case(store, "quiet", minutes=[0, 60])  # last post T0+1h
    busy = seed_case(store, "busy", minutes=[0, 60 * 40])  # a post 40 hours later
    verifying = seed_case(store, "verifying", minutes=[0])
    late = seed_case(store, "late", minutes=[0])  # clarified long after its last post
    for case_id in (quiet, busy):
        store.set_case_state(case_id, S.CLARIFIED, audit("officer", "case.state", T0 + timedelta(hours=2)))
    store.set_case_state(verifying, S.VERIFYING, audit("officer", "case.state"))
    store.set_case_state(late, S.CLARIFIED, audit("officer", "case.state", T0 + timedelta(hours=30)))
    after = timedelta(hours=48)  # quiet since the later of the last post and the clarification
    assert subside_quiet_cases(store, T0 + timedelta(hours=49, minutes=59), after) == []
    assert subside_quiet_cases(store, T0 + timedelta(hours=50), after) == [quiet]
    assert subside_quiet_cases(store, T0 + timedelta(hours=78), after) == [late]
    assert subside_quiet_cases(store, T0 + timedelta(hours=88), after) == [busy]
    assert store.get_case(verifying).state is S.VERIFYING
    case = store.get_case(quiet)
    assert (case.state, case.status) == (S.SUBSIDED, "closed")
    events = [e for e in store.audit_log() if e.action == "case.subside"]
    assert [e.target for e in reversed(events)] == [f"case:{quiet}", f"case:{late}", f"case:{busy}"]
    assert events[-1].actor == "system" and events[-1].at == T0 + timedelta(hours=50)
    assert events[-1].detail == {"from": "clarified", "to": "subsided", "quiet_hours": 48,
                                 "last_post_at": (T0 + timedelta(hours=1)).isoformat()}


def test_the_service_subsides_cases_on_schedule_with_the_configured_quiet_time(tmp_path):
    from core.service import Sentinel

    cfg = tmp_path / "s.yaml"
    cfg.write_text("cases:\n  subside_after_hours: 12\n", encoding="utf-8")
    settings = load_settings(cfg, overrides={"data_dir": str(tmp_path / "data")}, env={})
    assert settings.subside_after == timedelta(hours=12)
    now = [utcnow()]
    service = Sentinel.build(settings, clock=lambda: now[0])
    try:
        store = service.store
        post = Post(channel="weibo", source_id="p1", author="a", text="听说绩效砍三成", created_at=now[0])
        store.ingest("test", [post], None)
        case = Case(kind=CaseKind.RUMOUR, key="k", title="绩效传言", post_ids=[post.id])
        store.commit_rule_results(RuleResults(cases=[case]))
        store.set_case_state(case.id, S.CLARIFIED, AuditEvent("officer", "case.state", at=now[0]))
        now[0] += timedelta(hours=11)
        assert service.maintain() == []
        now[0] += timedelta(hours=2)  # the clock moves: 13 quiet hours
        assert service.maintain() == [case.id]
        assert store.get_case(case.id).state is S.SUBSIDED
        [event] = [e for e in store.audit_log() if e.action == "case.subside"]
        assert event.actor == "system" and event.detail["quiet_hours"] == 12
        assert service.status()["jobs"]["maintain"]["consecutive_failures"] == 0
    finally:
        service.close()


def test_the_default_quiet_time_and_bad_values(tmp_path):
    assert load_settings(env={}, overrides={"data_dir": str(tmp_path)}).subside_after == timedelta(hours=48)
    for body in ("cases:\n  subside_after_hours: 0\n", "cases:\n  subside_after_hours: 多久\n",
                 "cases:\n  quiet: 3\n"):
        cfg = tmp_path / "bad.yaml"
        cfg.write_text(body, encoding="utf-8")
        with pytest.raises(ConfigError) as err:
            load_settings(cfg, env={})
        assert "cases" in str(err.value)

