"""Routing: who is told about an alert, through which notifier, when.

The `routing:` block of the config (validated at start; errors name the file and the field):

    routing:
      routes:                                   # every route that matches adds its recipients
        - name: 传言通知订阅该话题的意见领袖和干部
          when: {kind: [rumour]}                # kind, level, topic, channel: lists; absent = any
          to: {subscribers: [leader, officer]}  # users of these roles whose subscriptions match
          via: [企业微信应用, 邮件]               # personal notifiers, in order of preference
        - name: 广告潮发审核群
          when: {kind: [spam]}
          to: {notifiers: [审核群机器人]}        # group notifiers: sent once to the group
        - name: 红色预警给值班干部
          when: {level: [red]}
          to: {users: [duty]}                   # named users
        - name: 黄色预警汇总
          when: {level: [yellow]}
          to: {subscribers: [officer]}
          digest: {hours: 2}                    # batched: one message per person every 2 hours
      quiet_hours: {start: "22:00", end: "07:30", hold: [yellow, orange]}   # red always goes
      escalation:                               # orange/red nobody acknowledged or claimed in time
        - {after: {minutes: 30}, levels: [orange, red], to: {subscribers: [officer]}}
        - {after: {minutes: 90}, levels: [red], to: {users: [chair]}}

A subscriber matches an alert when the alert's level is at least their `min_level` and, when they
chose topics or channels, the alert is about one of them (`core.domain.User.subscribed`). A person is
reached through the first notifier in `via` (default: every personal notifier, in config order) for
which they have an address (email, WeCom / DingTalk / Feishu user id); someone with none is skipped
with a log line. A rule that names `notifiers` in its alert action also sends to those groups.

Without a `routing:` block the defaults apply: each alert goes to every group notifier (or those its
rule names); rumour alerts also go to the leaders and officers subscribed to the topic; red alerts
also go to every officer — through their personal routes, when personal notifiers are configured.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime, time as dtime, timedelta
from typing import Any, Callable, Iterable, Mapping, Sequence
from zoneinfo import ZoneInfo

from alerts.base import Notifier
from core.config import validate
from core.domain import ALERT_KINDS_ZH, Alert, AuditEvent, Level, Role, User
from core.errors import ConfigError

log = logging.getLogger("sentinel.alerts")

_LIST = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}
_DURATION = {"type": "object", "additionalProperties": False, "minProperties": 1,
             "properties": {u: {"type": "number", "minimum": 0} for u in ("minutes", "hours", "days")}}
_TO = {"type": "object", "additionalProperties": False, "minProperties": 1,
       "properties": {"subscribers": {**_LIST, "items": {"enum": [r.value for r in Role]}},
                      "users": _LIST, "notifiers": _LIST}}
ROUTING_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "routes": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["name", "to"],
            "properties": {
                "name": {"type": "string", "minLength": 1},
                "when": {"type": "object", "additionalProperties": False, "properties": {
                    "kind": {**_LIST, "items": {"enum": list(ALERT_KINDS_ZH)}},
                    "level": {**_LIST, "items": {"enum": [lv.value for lv in Level]}},
                    "topic": _LIST, "channel": _LIST}},
                "to": _TO, "via": _LIST, "digest": _DURATION}}},
        "quiet_hours": {"type": "object", "additionalProperties": False, "required": ["start", "end"],
                        "properties": {"start": {"type": "string", "pattern": r"^\d{1,2}:\d{2}$"},
                                       "end": {"type": "string", "pattern": r"^\d{1,2}:\d{2}$"},
                                       "hold": {"type": "array", "items": {"enum": ["yellow", "orange"]}}}},
        "escalation": {"type": "array", "items": {
            "type": "object", "additionalProperties": False, "required": ["after", "to"],
            "properties": {"after": _DURATION, "levels": {**_LIST, "items": {"enum": ["orange", "red"]}},
                           "to": _TO, "via": _LIST}}},
    },
}
DIGEST_PREFIX = "汇总:"  # the reason of a batched delivery starts with it


def _duration(spec: Mapping[str, float]) -> timedelta:
    return timedelta(minutes=spec.get("minutes", 0), hours=spec.get("hours", 0), days=spec.get("days", 0))


@dataclass(frozen=True)
class Target:
    subscribers: tuple[Role, ...] = ()
    users: tuple[str, ...] = ()
    notifiers: tuple[str, ...] = ()  # group notifiers
    via: tuple[str, ...] = ()  # personal notifiers, in order of preference (empty: all)


@dataclass(frozen=True)
class Route:
    name: str
    target: Target
    kinds: frozenset[str] = frozenset()
    levels: frozenset[str] = frozenset()
    topics: frozenset[str] = frozenset()
    channels: frozenset[str] = frozenset()
    digest: timedelta | None = None

    def matches(self, alert: Alert) -> bool:
        return ((not self.kinds or alert.kind in self.kinds)
                and (not self.levels or alert.level.value in self.levels)
                and (not self.topics or bool(self.topics & set(alert.topics)))
                and (not self.channels or bool(self.channels & set(alert.channels))))


@dataclass(frozen=True)
class Tier:
    after: timedelta
    levels: tuple[str, ...]
    target: Target


@dataclass
class Router:
    routes: list[Route]
    notifiers: Mapping[str, Notifier]
    users: Callable[[], list[User]]
    tiers: list[Tier] = field(default_factory=list)
    quiet: tuple[dtime, dtime, frozenset[str]] | None = None
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("Asia/Shanghai"))
    explicit_groups: bool = False  # a routing block exists: group notifiers only where routes (or rules) say

    @classmethod
    def from_config(cls, cfg: Mapping[str, Any] | None, notifiers: Mapping[str, Notifier],
                    users: Callable[[], list[User]], config_file: str = "<默认配置>",
                    timezone: str = "Asia/Shanghai") -> "Router":
        tz = ZoneInfo(timezone)
        if not cfg:
            return cls(default_routes(notifiers), notifiers, users, tz=tz)
        validate(dict(cfg), ROUTING_SCHEMA, config_file, prefix="routing")
        routes = [
            Route(name=r["name"], target=_target(r["to"], r.get("via"), notifiers, config_file,
                                                 f"routing.routes[{i}]（{r['name']}）"),
                  kinds=frozenset((r.get("when") or {}).get("kind", ())),
                  levels=frozenset((r.get("when") or {}).get("level", ())),
                  topics=frozenset((r.get("when") or {}).get("topic", ())),
                  channels=frozenset((r.get("when") or {}).get("channel", ())),
                  digest=_duration(r["digest"]) if r.get("digest") else None)
            for i, r in enumerate(cfg.get("routes", []))
        ]
        tiers: list[Tier] = []
        for i, e in enumerate(cfg.get("escalation", [])):
            where = f"routing.escalation[{i}]"
            tier = Tier(after=_duration(e["after"]), levels=tuple(e.get("levels", ["orange", "red"])),
                        target=_target(e["to"], e.get("via"), notifiers, config_file, where))
            if tiers and tier.after <= tiers[-1].after:
                raise ConfigError(config_file, f"{where}.after", "各级升级的等待时间必须逐级变长")
            tiers.append(tier)
        quiet = None
        if cfg.get("quiet_hours"):
            q = cfg["quiet_hours"]
            quiet = (_clock(q["start"], config_file, "routing.quiet_hours.start"),
                     _clock(q["end"], config_file, "routing.quiet_hours.end"),
                     frozenset(q.get("hold", ["yellow", "orange"])))
        return cls(routes, notifiers, users, tiers, quiet, tz, explicit_groups=True)

    # ------------------------------------------------------------------ a new alert
    def route(self, alert: Alert, rule_notifiers: Sequence[str] = ()) -> list[tuple[str, str, str]]:
        """(notifier, recipient username or "", reason) for a new alert; each pair at most once."""
        out: dict[tuple[str, str], str] = {}
        groups = [n for n in rule_notifiers if n in self.notifiers and not self.notifiers[n].route]
        if not self.explicit_groups and not rule_notifiers:
            groups = [n for n in alert.notifiers if n in self.notifiers and not self.notifiers[n].route]
        for name in groups:
            out.setdefault((name, ""), "规则指定")
        people: list[User] | None = None
        for route in self.routes:
            if not route.matches(alert):
                continue
            reason = f"{DIGEST_PREFIX}{route.name}" if route.digest else route.name
            if route.target.subscribers or route.target.users:
                people = people if people is not None else [u for u in self.users() if u.active]
            for key in self._targets(route.target, alert, people or []):
                out.setdefault(key, reason)
        return [(n, r, why) for (n, r), why in out.items()]

    def hold_until(self, alert: Alert, now: datetime) -> datetime | None:
        """The end of the quiet hours, for a yellow/orange alert raised during them (red always goes)."""
        if self.quiet is None or alert.level.value not in self.quiet[2]:
            return None
        start, end, _ = self.quiet
        local = now.astimezone(self.tz)
        t = local.time()
        inside = (start <= t < end) if start < end else (t >= start or t < end)
        if not inside:
            return None
        morning = local.replace(hour=end.hour, minute=end.minute, second=0, microsecond=0)
        if morning <= local:
            morning += timedelta(days=1)
        return morning

    def prepare(self, alert: Alert, rule_notifiers: Sequence[str], now: datetime) -> None:
        """Fill in a new alert's deliveries (`routes`), quiet-hours hold and the time it is raised."""
        alert.routes = self.route(alert, rule_notifiers)
        alert.hold_until = self.hold_until(alert, now)
        alert.raised_at = now

    def digest_period(self, reason: str) -> timedelta | None:
        if not reason.startswith(DIGEST_PREFIX):
            return None
        name = reason[len(DIGEST_PREFIX):]
        return next((r.digest for r in self.routes if r.name == name), None)

    # ------------------------------------------------------------------ escalation
    def escalate(self, store: Any, now: datetime) -> int:
        """Tell the next tier about orange/red alerts nobody acknowledged or claimed in time."""
        if not self.tiers:
            return 0
        people = [u for u in self.users() if u.active]
        sent = 0
        for number, tier in enumerate(self.tiers, start=1):
            for alert in store.alerts_to_escalate(tier.levels, now - tier.after, number):
                routes = [(n, r, f"升级（第 {number} 级）") for n, r in self._targets(tier.target, alert, people)]
                store.add_deliveries(alert.id, routes, now, AuditEvent(
                    "system", "alert.escalate", f"alert:{alert.id}",
                    {"tier": number, "after_minutes": int(tier.after.total_seconds() // 60),
                     "to": sorted({r or n for n, r, _ in routes})}), escalated=number)
                log.warning("预警 #%s 在 %d 分钟内无人确认或认领，已升级通知第 %d 级（%d 个接收方）", alert.id,
                            int(tier.after.total_seconds() // 60), number, len(routes))
                sent += 1
        return sent

    # ------------------------------------------------------------------ helpers
    def _targets(self, target: Target, alert: Alert, people: list[User]) -> Iterable[tuple[str, str]]:
        for name in target.notifiers:
            yield name, ""
        chosen: dict[str, User] = {}
        for user in people:
            if user.username in target.users or (
                    user.role in target.subscribers and user.subscribed(alert.level, alert.topics, alert.channels)):
                chosen[user.username] = user
        personal = [n for n in (target.via or tuple(self.notifiers)) if self.notifiers[n].route]
        if not personal:  # no personal notifier configured: people see alerts on the dashboard
            return
        for user in chosen.values():
            via = next((n for n in personal if user.address(self.notifiers[n].route or "")), None)
            if via is None:
                log.info("预警 #%s 应通知 %s，但其没有可用的联系方式（%s），已跳过", alert.id, user.username,
                         "、".join(personal) or "未配置个人通知方式")
                continue
            yield via, user.username


def default_routes(notifiers: Mapping[str, Notifier]) -> list[Route]:
    return [
        Route(name="传言通知订阅该话题的意见领袖和干部", kinds=frozenset({"rumour"}),
              target=Target(subscribers=(Role.LEADER, Role.OFFICER))),
        Route(name="红色预警通知干部", levels=frozenset({"red"}), target=Target(subscribers=(Role.OFFICER,))),
    ]


def _target(to: Mapping[str, Any], via: Sequence[str] | None, notifiers: Mapping[str, Notifier], file: str,
            where: str) -> Target:
    for i, name in enumerate(to.get("notifiers", [])):
        if name not in notifiers:
            raise ConfigError(file, f"{where}.to.notifiers[{i}]", f"没有名为 “{name}” 的通知方式；已配置："
                              + ("、".join(notifiers) or "无"))
        if notifiers[name].route:
            raise ConfigError(file, f"{where}.to.notifiers[{i}]",
                              f"“{name}” 是发给个人的通知方式，请写在 via 里，并用 subscribers 或 users 指定接收人")
    for i, name in enumerate(via or []):
        if name not in notifiers:
            raise ConfigError(file, f"{where}.via[{i}]", f"没有名为 “{name}” 的通知方式")
        if not notifiers[name].route:
            raise ConfigError(file, f"{where}.via[{i}]", f"“{name}” 是群通知方式，请写在 to.notifiers 里")
    return Target(subscribers=tuple(Role(r) for r in to.get("subscribers", [])), users=tuple(to.get("users", [])),
                  notifiers=tuple(to.get("notifiers", [])), via=tuple(via or ()))


def _clock(text: str, file: str, where: str) -> dtime:
    h, m = (int(x) for x in text.split(":"))
    if not (0 <= h < 24 and 0 <= m < 60):
        raise ConfigError(file, where, f"时间 {text!r} 无效，应写成 22:00")
    return dtime(h, m)
