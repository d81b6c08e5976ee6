"""Who may see and do what: the one permission table of the dashboard.

Each constant lists the roles allowed besides admin (admin may do everything). Views use
`@require_role(*roles.X)`; templates ask `can("X")` with the same names, so the navigation never
shows a link that would answer 403.
"""
from __future__ import annotations

from core.domain import Role, User

ADMIN, MODERATOR, OFFICER, LEADER = Role.ADMIN, Role.MODERATOR, Role.OFFICER, Role.LEADER

OVERVIEW: tuple[Role, ...] = (OFFICER,)  # 总览 and its chart data
LEADS: tuple[Role, ...] = (OFFICER,)  # 提案线索: staff grievances (诉求) in a period
REPORTS: tuple[Role, ...] = (OFFICER,)  # 舆情报告: daily / weekly / monthly, page and PDF
QUEUE: tuple[Role, ...] = (MODERATOR,)  # 审核队列 and post detail
DECIDE: tuple[Role, ...] = (MODERATOR,)  # approve / remove a flagged post
SEARCH: tuple[Role, ...] = (MODERATOR,)
ALERTS: tuple[Role, ...] = (OFFICER, LEADER)
ACK: tuple[Role, ...] = (OFFICER, LEADER)  # acknowledge an alert (确认)
CLAIM: tuple[Role, ...] = (OFFICER, LEADER)  # take an alert on (认领)
CASE_MANAGE: tuple[Role, ...] = (OFFICER,)  # change a case's state, assign leaders to it
CASE_RESPOND: tuple[Role, ...] = (OFFICER, LEADER)  # record an answer to a rumour (leaders: if assigned)
INBOX: tuple[Role, ...] = (OFFICER, LEADER)  # 我的事件: assigned cases, alerts sent to me
DELIVERIES: tuple[Role, ...] = (OFFICER,)  # outbox states on the alert page
CASES: tuple[Role, ...] = (OFFICER, LEADER)  # leaders: rumour cases only
ALL_CASE_KINDS: tuple[Role, ...] = (OFFICER,)
DEBUNKS: tuple[Role, ...] = (OFFICER, LEADER)
DEBUNKS_EDIT: tuple[Role, ...] = (OFFICER,)
REPLY: tuple[Role, ...] = (OFFICER, LEADER)  # post the union's official reply on the platform
RULES: tuple[Role, ...] = (MODERATOR, OFFICER)  # the rules in use and how often their flags are upheld
ADMIN_ONLY: tuple[Role, ...] = ()  # users, audit log, dead letters, runtime status
CLEAR_PII: tuple[Role, ...] = (MODERATOR,)  # everyone else sees personal data masked
EXPORT: tuple[Role, ...] = (MODERATOR, OFFICER)  # download a page's rows (each source also needs its page's permission)
ME: tuple[Role, ...] = (MODERATOR, OFFICER, LEADER)  # 我的订阅 (/me): everyone, their own subscriptions only

# Landing page per role (endpoint names).
HOME = {
    ADMIN: "overview.index",
    OFFICER: "overview.index",
    MODERATOR: "review.queue",
    LEADER: "alerts.index",
}

# Navigation: (endpoint, label, permission name).
NAV: tuple[tuple[str, str, str], ...] = (
    ("overview.index", "总览", "OVERVIEW"),
    ("leads.index", "提案线索", "LEADS"),
    ("reports.index", "舆情报告", "REPORTS"),
    ("review.queue", "审核队列", "QUEUE"),
    ("alerts.index", "预警", "ALERTS"),
    ("cases.index", "事件", "CASES"),
    ("inbox.index", "我的事件", "INBOX"),
    ("debunks.index", "辟谣库", "DEBUNKS"),
    ("search.index", "搜索", "SEARCH"),
    ("rulebook.index", "规则", "RULES"),
    ("admin.users", "用户", "ADMIN_ONLY"),
    ("admin.audit", "审计日志", "ADMIN_ONLY"),
    ("admin.dead_letters", "死信", "ADMIN_ONLY"),
    ("admin.status", "运行状态", "ADMIN_ONLY"),
    ("me.index", "我的订阅", "ME"),
)


def allows(user: User | None, roles: tuple[Role, ...] | list[Role]) -> bool:
    """True if `user` is signed in and admin or one of `roles`."""
    return user is not None and user.active and (user.role is ADMIN or user.role in roles)


def by_name(name: str) -> tuple[Role, ...]:
    """A permission constant by name (templates use names); unknown names are a programming error."""
    value = globals().get(name)
    if not isinstance(value, tuple) or name.startswith("_"):
        raise KeyError(f"unknown permission {name!r}")
    return value
