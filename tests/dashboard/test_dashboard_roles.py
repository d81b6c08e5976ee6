"""The role matrix: every page for every role (and anonymous), checked server-side."""
from __future__ import annotations

import re

import pytest

from tests.dashboard.helpers import ROLES

# page -> roles that get 200 (everyone else signed in gets 403; anonymous is sent to /login).
# Written out here on purpose, independently of dashboard/roles.py, so a change there must be
# matched by a deliberate change here.
PAGES: dict[str, set[str]] = {
    "/overview": {"admin", "officer"},
    "/api/sentiment": {"admin", "officer"},
    "/api/sentiment?bucket=hour&hours=48": {"admin", "officer"},
    "/overview?days=90&channel=weibo": {"admin", "officer"},
    "/overview/posts?days=30&topic=食堂": {"admin", "officer"},
    "/api/overview/trends?days=7": {"admin", "officer"},
    "/api/overview/words?days=30": {"admin", "officer"},
    "/api/overview/moderation?days=90": {"admin", "officer"},
    "/queue": {"admin", "moderator"},
    "/queue?status=removed": {"admin", "moderator"},
    "/posts/{spam}": {"admin", "moderator"},
    "/search?q=绩效": {"admin", "moderator"},
    "/alerts": {"admin", "officer", "leader"},
    "/alerts/{red}": {"admin", "officer", "leader"},
    "/cases": {"admin", "officer", "leader"},
    "/cases/{rumour_case}": {"admin", "officer", "leader"},
    "/cases/{flood_case}": {"admin", "officer"},
    "/debunks": {"admin", "officer", "leader"},
    "/debunks/new": {"admin", "officer"},
    "/debunks/{debunk}/edit": {"admin", "officer"},
    "/rules": {"admin", "moderator", "officer"},
    "/admin/users": {"admin"},
    "/admin/audit": {"admin"},
    "/admin/dead-letters": {"admin"},
    "/admin/status": {"admin"},
    "/admin/users/leader/edit": {"admin"},
    "/me": {"admin", "moderator", "officer", "leader"},
    "/inbox": {"admin", "officer", "leader"},
    "/leads": {"admin", "officer"},
    "/reports": {"admin", "officer"},
    "/reports/archive": {"admin", "officer"},
    "/reports?period=monthly&date=2026-02-30": {"admin", "officer"},
    "/reports/pdf?period=daily": {"admin", "officer"},
    "/leads?days=7&topic=未分类&after=MjAyNi0wMS0wMVQwMDowMDowMCswMDowMHw5OQ": {"admin", "officer"},
    "/api/cases/{rumour_case}/volume": {"admin", "officer", "leader"},
    "/api/cases/{flood_case}/volume": {"admin", "officer"},
}
NAV = {
    "admin": {"总览", "提案线索", "舆情报告", "审核队列", "预警", "事件", "辟谣库", "搜索", "规则", "用户", "审计日志", "死信", "运行状态", "我的订阅",
              "我的事件"},
    "moderator": {"审核队列", "搜索", "规则", "我的订阅"},
    "officer": {"总览", "提案线索", "舆情报告", "预警", "事件", "辟谣库", "规则", "我的订阅", "我的事件"},
    "leader": {"预警", "事件", "辟谣库", "我的订阅", "我的事件"},
}


def fill(path: str, seeded) -> str:
    return path.format(spam=seeded.posts["spam"], red=seeded.alerts["red"], rumour_case=seeded.cases["rumour"],
                       flood_case=seeded.cases["flood"], debunk=seeded.debunk_id)


@pytest.mark.parametrize("role", ROLES)
def test_every_page_for_every_role(role, client, login, seeded):
    login(role)
    got = {}
    for path, allowed in PAGES.items():
        resp = client.get(fill(path, seeded))
        got[path] = resp.status_code
        if resp.status_code == 403 and not path.startswith("/api/"):
            assert "没有权限" in resp.get_data(as_text=True)
    expected = {path: 200 if role in allowed else 403 for path, allowed in PAGES.items()}
    assert got == expected


def test_anonymous_is_sent_to_login_everywhere(client, seeded):
    for path in PAGES:
        resp = client.get(fill(path, seeded))
        if path.startswith("/api/"):
            assert resp.status_code == 401, path
        else:
            assert resp.status_code == 302, path
            assert "/login" in resp.headers["Location"]


@pytest.mark.parametrize("role", ROLES)
def test_navigation_shows_only_what_the_role_may_open(role, client, login):
    login(role)
    html = client.get("/", follow_redirects=True).get_data(as_text=True)
    nav = re.search(r'<nav class="nav"[^>]*>(.*?)</nav>', html, re.S)
    assert nav, "navigation missing"
    labels = set(re.findall(r">([^<>]+)</a>", nav.group(1)))
    assert labels == NAV[role]


@pytest.mark.parametrize("role", ["officer", "leader"])
def test_only_moderators_and_admins_may_decide(role, client, login, post_form, store, seeded):
    login(role)
    resp = post_form(f"/queue/{seeded.posts['spam']}/decide", {"action": "remove", "reason_code": "spam"})
    assert resp.status_code == 403
    assert store.decisions() == []


@pytest.mark.parametrize("action", ["ack", "claim"])
def test_moderators_may_neither_acknowledge_nor_claim(action, client, login, post_form, store, seeded):
    login("moderator")  # officers and leaders may (roles.ACK, roles.CLAIM; tests/dashboard/test_dashboard_loop.py)
    resp = post_form(f"/alerts/{seeded.alerts['red']}/{action}", {})
    assert resp.status_code == 403
    alert = store.get_alert(seeded.alerts["red"])
    assert alert.acknowledged_by is None and alert.claimed_by is None


@pytest.mark.parametrize("role", ["moderator", "officer", "leader"])
def test_only_admins_manage_users(role, client, login, post_form, store):
    login(role)
    resp = post_form("/admin/users", {"username": "mallory", "role": "admin", "password": "x" * 12,
                                      "password2": "x" * 12})
    assert resp.status_code == 403
    resp = post_form("/admin/users/admin/password", {"password": "y" * 12, "password2": "y" * 12})
    assert resp.status_code == 403
    assert store.get_user("mallory") is None


def test_leader_cannot_create_debunks(client, login, post_form, store):
    login("leader")
    resp = post_form("/debunks/new", {"claim": "x", "clarification": "y"})
    assert resp.status_code == 403
    assert store.debunks(active_only=False) == []

