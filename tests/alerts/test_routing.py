"""Routing: the right people are told, through their own routes, at the right time — subscriptions by
topic, channel and level, group notifiers, quiet hours, escalation and digests."""
from __future__ import annotations

import json
import os
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest

from alerts import NOTIFIERS, Outbox
from alerts.base import AlertMessage, Notifier, Recipient, SendReport
from alerts.routing import Router
from core.config import load_settings
from core.domain import Alert, AuditEvent, Level, Role, User, utcnow
from core.errors import ConfigError
from core.links import AlertLinks
from store.base import RuleResults

CST = timezone(timedelta(hours=8))


class Sent:
    log: list[tuple[str, str, list[Recipient]]] = []


class Personal(Notifier):
    """A personal notifier (WeCom-like): records what it was asked to send."""

    type_name = "test_personal"
    title_zh = "测试个人通知"
    options_schema = {"type": "object", "properties": {"name": {}, "type": {}, "invalid": {}}}
    route = "wecom"

    def __init__(self, name: str, invalid: list[str] = ()) -> None:
        super().__init__(name)
        self.invalid = list(invalid)

    @classmethod
    def create(cls, cfg, secrets):
        return cls(cfg["name"], cfg.get("invalid", []))

    def send(self, message: AlertMessage, recipients=()):
        Sent.log.append((self.name, message.title, list(recipients)))
        bad = [r.address for r in recipients if r.address in self.invalid]
        return SendReport(invalid=bad) if bad else None


class Group(Personal):
    type_name = "test_group"
    route = None

    def send(self, message: AlertMessage, recipients=()):
        Sent.log.append((self.name, message.title, list(recipients)))


@pytest.fixture(autouse=True)
def clean_log():
    Sent.log = []


def user(name: str, role: Role, **kw: Any) -> User:
    return User(username=name, role=role, password_hash="x", **kw)


PEOPLE = [
    user("housing_leader", Role.LEADER, wecom_userid="wx_housing", topics=["住房保障"]),
    user("pay_leader", Role.LEADER, wecom_userid="wx_pay", topics=["薪酬待遇"]),
    user("quiet_leader", Role.LEADER, topics=["住房保障"]),  # no address anywhere
    user("officer", Role.OFFICER, wecom_userid="wx_officer", min_level=Level.ORANGE),
    user("moderator", Role.MODERATOR, wecom_userid="wx_mod"),
    user("gone", Role.LEADER, wecom_userid="wx_gone", topics=["住房保障"], active=False),
]
NOTIFIERS_MAP = {"企业微信": Personal("企业微信"), "审核群机器人": Group("审核群机器人"), "值班群": Group("值班群")}


def alert(kind: str = "rumour", level: Level = Level.ORANGE, topics=("住房保障",), channels=("weibo",)) -> Alert:
    return Alert(rule="r", level=level, title="传言扩散", body="b", dedupe_key="k", kind=kind, topics=list(topics),
                 channels=list(channels), notifiers=list(NOTIFIERS_MAP))


def router(cfg=None) -> Router:
    return Router.from_config(cfg, NOTIFIERS_MAP, lambda: PEOPLE)


def test_default_routes_reach_subscribed_leaders_and_officers_and_every_group():
    got = router().route(alert())
    assert sorted(got) == [("企业微信", "housing_leader", "传言通知订阅该话题的意见领袖和干部"),
                           ("企业微信", "officer", "传言通知订阅该话题的意见领袖和干部"),
                           ("值班群", "", "规则指定"), ("审核群机器人", "", "规则指定")]


def test_subscriptions_by_topic_channel_and_level():
    r = router()
    pay = {x[1] for x in r.route(alert(topics=("薪酬待遇",)))}
    assert "pay_leader" in pay and "housing_leader" not in pay
    yellow = {x[1] for x in r.route(alert(level=Level.YELLOW))}
    assert "officer" not in yellow and "housing_leader" in yellow  # officer wants orange and up
    PEOPLE[0].channels = ["qq"]
    try:
        assert "housing_leader" not in {x[1] for x in r.route(alert(channels=("weibo",)))}
    finally:
        PEOPLE[0].channels = []


def test_configured_routes_replace_the_defaults():
    cfg = {"routes": [
        {"name": "广告潮发审核群", "when": {"kind": ["spam"]}, "to": {"notifiers": ["审核群机器人"]}},
        {"name": "红色给值班", "when": {"level": ["red"]}, "to": {"users": ["officer"], "notifiers": ["值班群"]}},
        {"name": "传言", "when": {"kind": ["rumour"]}, "to": {"subscribers": ["leader"]}, "via": ["企业微信"]},
    ]}
    r = router(cfg)
    assert r.route(alert(kind="spam", level=Level.YELLOW)) == [("审核群机器人", "", "广告潮发审核群")]
    assert sorted(x[:2] for x in r.route(alert(kind="surge", level=Level.RED))) == [("企业微信", "officer"), ("值班群", "")]
    assert sorted(x[1] for x in r.route(alert())) == ["housing_leader"]  # no group: routing decides
    assert r.route(alert(), rule_notifiers=("值班群",))[0] == ("值班群", "", "规则指定")


@pytest.mark.parametrize("cfg,field", [
    ({"routes": [{"name": "x", "to": {"notifiers": ["没有"]}}]}, "routing.routes[0]（x）.to.notifiers[0]"),
    ({"routes": [{"name": "x", "to": {"notifiers": ["企业微信"]}}]}, "routing.routes[0]（x）.to.notifiers[0]"),
    ({"routes": [{"name": "x", "to": {"users": ["a"]}, "via": ["值班群"]}]}, "routing.routes[0]（x）.via[0]"),
    ({"routes": [{"name": "x", "when": {"kind": ["weird"]}, "to": {"users": ["a"]}}]}, "routing.routes[0].when.kind[0]"),
    ({"escalation": [{"after": {"minutes": 30}, "to": {"users": ["a"]}},
                     {"after": {"minutes": 10}, "to": {"users": ["b"]}}]}, "routing.escalation[1].after"),
    ({"quiet_hours": {"start": "25:00", "end": "07:00"}}, "routing.quiet_hours.start"),
    ({"quiet_hours": {"start": "22:00", "end": "07:00", "hold": ["red"]}}, "routing.quiet_hours.hold[0]"),
])
def test_bad_routing_names_the_field(cfg, field):
    with pytest.raises(ConfigError) as err:
        router(cfg)
    assert field in str(err.value)


def test_quiet_hours_hold_yellow_and_orange_until_morning_but_not_red():
    r = router({"routes": [], "quiet_hours": {"start": "22:00", "end": "07:30"}})
    night = datetime(2026, 3, 2, 23, 10, tzinfo=CST)
    assert r.hold_until(alert(level=Level.ORANGE), night) == datetime(2026, 3, 3, 7, 30, tzinfo=CST)
    assert r.hold_until(alert(level=Level.RED), night) is None
    assert r.hold_until(alert(level=Level.YELLOW), datetime(2026, 3, 3, 6, 0, tzinfo=CST)) == \
        datetime(2026, 3, 3, 7, 30, tzinfo=CST)
    assert r.hold_until(alert(level=Level.YELLOW), datetime(2026, 3, 3, 9, 0, tzinfo=CST)) is None


# ---------------------------------------------------------------------------- through the store and the outbox
def commit(store, a: Alert, r: Router, now: datetime) -> Alert:
    r.prepare(a, (), now)
    [saved] = store.commit_rule_results(RuleResults(alerts=[a]))
    return saved


@pytest.fixture
def people(store):
    for u in PEOPLE:
        store.add_user(User(**{**vars(u), "id": None}))
    return store


def test_personal_deliveries_carry_a_signed_link_and_skip_the_deactivated(people, clock):
    store = people
    r = Router.from_config({"routes": [{"name": "传言", "when": {"kind": ["rumour"]},
                                         "to": {"subscribers": ["leader"], "users": ["gone"]}}]},
                           NOTIFIERS_MAP, store.users)
    a = commit(store, alert(), r, clock.now)
    links = AlertLinks("k" * 32, "https://yq.example.edu.cn/")
    outbox = Outbox(store, NOTIFIERS_MAP, clock=clock, links=links)
    assert outbox.deliver_due().sent == 1  # housing_leader only: "gone" is inactive and routed nowhere
    [(name, title, [rcpt])] = Sent.log
    assert (name, rcpt.username, rcpt.address) == ("企业微信", "housing_leader", "wx_housing")
    assert links.load(rcpt.ack_url.rsplit("/", 1)[1]) == (a.id, "housing_leader")


def test_a_person_without_an_address_waits_with_a_clear_error_and_platform_rejections_are_noted(people, clock):
    store = people
    notifiers = {"企业微信": Personal("企业微信", invalid=["wx_housing"])}
    r = Router.from_config({"routes": [{"name": "p", "to": {"users": ["housing_leader"]}}]}, notifiers, store.users)
    a = commit(store, alert(), r, clock.now)
    store.add_deliveries(a.id, [("企业微信", "quiet_leader", "手工")], clock.now)
    outbox = Outbox(store, notifiers, clock=clock)
    report = outbox.deliver_due()
    assert (report.sent, report.failed) == (1, 1)
    by = {d.recipient: d for d in store.deliveries(a.id)}
    assert "没有填写 wecom 联系方式" in by["quiet_leader"].last_error and by["quiet_leader"].state.value == "failing"
    assert by["housing_leader"].state.value == "sent" and "wx_housing" in by["housing_leader"].last_error


def test_unacknowledged_orange_alerts_escalate_tier_by_tier(people, clock):
    store = people
    r = Router.from_config({"routes": [], "escalation": [
        {"after": {"minutes": 30}, "levels": ["orange", "red"], "to": {"users": ["officer"]}},
        {"after": {"minutes": 90}, "levels": ["orange"], "to": {"notifiers": ["值班群"]}}]},
        NOTIFIERS_MAP, store.users)
    a = commit(store, alert(), r, clock.now)
    acked = commit(store, Alert(**{**vars(alert()), "dedupe_key": "k2"}), r, clock.now)
    store.acknowledge_alert(acked.id, AuditEvent("officer", "alert.ack", f"alert:{acked.id}"))
    clock.advance(minutes=20)
    assert r.escalate(store, clock.now) == 0
    clock.advance(minutes=15)
    assert r.escalate(store, clock.now) == 1
    assert [(d.notifier, d.recipient, d.reason) for d in store.deliveries(a.id)] == [
        ("企业微信", "officer", "升级（第 1 级）")]
    assert r.escalate(store, clock.now) == 0  # once per tier
    clock.advance(minutes=60)
    assert r.escalate(store, clock.now) == 1
    assert store.deliveries(acked.id) == [] and store.get_alert(a.id).escalated == 2
    assert "alert.escalate" in [e.action for e in store.audit_log(limit=5)]


def test_yellow_alerts_can_be_batched_into_a_digest(people, clock):
    store = people
    r = Router.from_config({"routes": [{"name": "黄色汇总", "when": {"level": ["yellow"]},
                                         "to": {"users": ["officer", "housing_leader"]}, "digest": {"hours": 2}}]},
                           NOTIFIERS_MAP, store.users)
    outbox = Outbox(store, NOTIFIERS_MAP, clock=clock, digest_period=r.digest_period)
    for i in range(3):
        commit(store, Alert(**{**vars(alert(level=Level.YELLOW)), "dedupe_key": f"y{i}", "title": f"黄色{i}"}), r,
               clock.now)
    outbox.deliver_due()
    titles = sorted((rc[0].username, t) for _, t, rc in Sent.log)
    assert titles == [("housing_leader", "预警汇总：3 条"), ("officer", "预警汇总：3 条")]
    commit(store, Alert(**{**vars(alert(level=Level.YELLOW)), "dedupe_key": "y9", "title": "黄色9"}), r, clock.now)
    clock.advance(minutes=30)
    outbox.deliver_due()
    assert len(Sent.log) == 2  # the next digest waits for its period
    clock.advance(hours=2)
    outbox.deliver_due()
    assert len(Sent.log) == 4 and Sent.log[-1][1] == "预警汇总：1 条"


# ---------------------------------------------------------------------------- the running service
def test_a_housing_rumour_reaches_the_subscribed_leader_only(tmp_path, monkeypatch):
    from core.service import Sentinel

    monkeypatch.setitem(NOTIFIERS._entries, "test_personal", Personal)
    cfg = tmp_path / "s.yaml"
    cfg.write_text("notifiers:\n  - {name: 企业微信, type: test_personal}\n", encoding="utf-8")
    settings = load_settings(cfg, overrides={"data_dir": str(tmp_path / "data")}, env={})
    service = Sentinel.build(settings)
    try:
        for u in PEOPLE[:2]:
            service.store.add_user(User(**{**vars(u), "id": None}))
        now = utcnow()
        texts = ["听说学校的周转房要全部收回，年底前必须搬走", "据说周转房年底要收回，青年教师都得搬",
                 "有人说周转房今年年底前全部收回，是真的吗", "周转房要收回了？听后勤的人说的",
                 "听说周转房年底前收回，大家做好准备", "群里都在传周转房要收回"]
        path = settings.inbox / "r.jsonl"
        path.write_text("\n".join(json.dumps({
            "channel": ["weibo", "qq", "wechat"][i % 3], "source_id": f"h{i}", "author": f"a{i}", "text": t,
            "created_at": (now - timedelta(minutes=40 - i * 5)).isoformat()}, ensure_ascii=False)
            for i, t in enumerate(texts)) + "\n", encoding="utf-8")
        os.utime(path, (time.time() - 60,) * 2)
        service.run_until_idle()
        rumour = [a for a in service.store.alerts() if a.kind == "rumour"]
        assert rumour and "住房保障" in rumour[0].topics
        people = {r.username for name, _, rs in Sent.log for r in rs}
        assert people == {"housing_leader"}
        assert all("13" not in t for _, t, _ in Sent.log)
    finally:
        service.close()
