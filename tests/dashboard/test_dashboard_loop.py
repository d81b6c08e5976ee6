"""The rumour-response loop on the dashboard: signed notification links (/a/<token>), 认领 and 确认,
case states, assigning leaders, their answers, the volume before and after the clarification, and the
inbox (我的事件). Real SQLite store; every state change through a POST with the session's CSRF token."""
from __future__ import annotations

import html as html_lib
import re
import time
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

import pytest
from itsdangerous.timed import TimestampSigner

from core.domain import AuditEvent, Case, CaseKind, CaseResponse, CaseState, PIISpan, Role, User, utcnow
from core.links import AlertLinks
from dashboard import create_app
from store.base import RuleResults
from tests.dashboard.helpers import PHONE, add_post, csrf_from, make_analysis, password_for


# ---------------------------------------------------------------------------- helpers
@pytest.fixture
def links(app) -> AlertLinks:
    """Links as the notifiers make them: signed with the app's secret key (core/service.py)."""
    return AlertLinks(app.config["SECRET_KEY"], "https://yuqing.union.example.edu.cn/")


def link_path(links: AlertLinks, alert_id: int, username: str) -> str:
    return urlsplit(links.url(alert_id, username)).path


def actions(store, n: int = 50) -> list[tuple[str, str, str]]:
    return [(e.actor, e.action, e.target) for e in store.audit_log(limit=n)]


def flashes(html: str) -> list[str]:
    return re.findall(r'<div class="flash flash-\w+" role="status">([^<]*)</div>', html)


def add_leader(store, name: str, topics: list[str] | None = None, **kw: Any) -> User:
    return store.add_user(User(username=name, role=Role.LEADER, password_hash="x", topics=topics or [], **kw))


def rumour_case(store, key: str, posts: list[Any]) -> int:
    """A rumour case holding these posts (and an alert about it)."""
    results = RuleResults(cases=[Case(kind=CaseKind.RUMOUR, key=key, title=f"传言 {key}", post_ids=[p.id for p in posts])])
    store.commit_rule_results(results)
    return results.cases[0].id


def set_state(store, case_id: int, state: CaseState, at=None) -> None:
    store.set_case_state(case_id, state, AuditEvent("officer", "case.state", f"case:{case_id}", {"to": state.value},
                                                    at=at or utcnow()))


# ---------------------------------------------------------------------------- the signed link
def test_a_link_when_signed_out_goes_through_login_and_back(client, store, seeded, links):
    alert_id = seeded.alerts["red"]
    path = link_path(links, alert_id, "leader")
    first = client.get(path)
    assert first.status_code == 302
    login_url = first.headers["Location"]
    assert urlsplit(login_url).path == "/login" and parse_qs(urlsplit(login_url).query)["next"] == [path]
    page = client.get(login_url).get_data(as_text=True)
    assert "请先登录；登录后将自动打开通知中的预警。" in page and f'name="next" value="{path}"' in page
    assert not [a for a in actions(store) if a[1] == "alert.link_open"]  # nothing happens before sign-in
    resp = client.post("/login", data={"username": "leader", "password": password_for("leader"), "next": path,
                                       "csrf_token": csrf_from(client, login_url)})
    assert resp.status_code == 302 and urlsplit(resp.headers["Location"]).path == path
    opened = client.get(path)
    assert opened.status_code == 302 and opened.headers["Location"].endswith(f"/alerts/{alert_id}")
    html = client.get(opened.headers["Location"]).get_data(as_text=True)
    assert 'class="claim-form"' in html and 'class="ack-form"' in html
    assert ">认领</button>" in html and ">确认</button>" in html
    assert "绩效工资削减传言" in html and "打开事件：查看官方澄清、登记回应" in html
    [event] = [e for e in store.audit_log() if e.action == "alert.link_open"]
    assert (event.actor, event.target, event.detail) == ("leader", f"alert:{alert_id}",
                                                         {"sent_to": "leader", "own": True, "allowed": True})


@pytest.mark.parametrize("signed_in", [False, True])
def test_forged_or_damaged_links_are_refused_in_chinese(client, login, store, seeded, links, signed_in):
    if signed_in:
        login("leader")
    good = link_path(links, seeded.alerts["red"], "leader")
    other_key = AlertLinks("another-secret-" + "y" * 32, "https://x/")
    tampered = good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB")
    for path in (tampered, link_path(other_key, seeded.alerts["yellow"], "leader"), "/a/not-a-token", "/a/x.y.z"):
        resp = client.get(path)
        html = resp.get_data(as_text=True)
        assert resp.status_code == 400, path
        assert "无法打开通知中的链接" in html and "链接无效或已被改动" in html
        assert 'href="/alerts"' in html and "前往预警列表" in html
    assert not [a for a in actions(store) if a[1] == "alert.link_open"]


def test_an_expired_link_says_so(client, login, store, seeded, links, monkeypatch):
    eight_days_ago = int(time.time()) - 8 * 24 * 3600
    monkeypatch.setattr(TimestampSigner, "get_timestamp", lambda self: eight_days_ago)
    path = link_path(links, seeded.alerts["red"], "leader")
    monkeypatch.undo()
    login("leader")
    resp = client.get(path)
    assert resp.status_code == 400
    assert "链接已过期（有效期 7 天）" in resp.get_data(as_text=True)
    assert store.get_alert(seeded.alerts["red"]).acknowledged_by is None


def test_someone_elses_link_still_opens_for_a_role_that_may_see_alerts(client, login, store, seeded, links):
    alert_id = seeded.alerts["red"]
    login("officer")
    resp = client.get(link_path(links, alert_id, "leader"), follow_redirects=True)
    html = resp.get_data(as_text=True)
    assert resp.status_code == 200 and f"预警 #{alert_id}" in html
    assert "此链接是发给 leader 的通知，你当前以 officer 登录" in html
    [event] = [e for e in store.audit_log() if e.action == "alert.link_open"]
    assert event.actor == "officer" and event.detail == {"sent_to": "leader", "own": False, "allowed": True}


def test_someone_elses_link_for_a_role_that_may_not_see_alerts(client, login, store, seeded, links):
    login("moderator")
    resp = client.get(link_path(links, seeded.alerts["red"], "leader"))
    html = resp.get_data(as_text=True)
    assert resp.status_code == 403
    assert "此链接是发给 leader 的通知" in html and "该角色无权查看预警" in html
    assert "谣言扩散" not in html
    [event] = [e for e in store.audit_log() if e.action == "alert.link_open"]
    assert event.actor == "moderator" and event.detail["allowed"] is False


def test_a_link_to_an_alert_that_is_gone(client, login, links):
    login("leader")
    resp = client.get(link_path(links, 999_999, "leader"))
    assert resp.status_code == 404 and "链接指向的预警已不存在" in resp.get_data(as_text=True)


# ---------------------------------------------------------------------------- 认领 and 确认
def test_a_leader_claims_and_acknowledges_and_both_are_audited(client, login, post_form, store, seeded):
    alert_id = seeded.alerts["red"]
    login("leader")
    page = f"/alerts/{alert_id}"
    resp = post_form(f"/alerts/{alert_id}/claim", {"next": "detail"}, page=page)
    assert resp.status_code == 302 and resp.headers["Location"].endswith(page)
    resp = post_form(f"/alerts/{alert_id}/ack", {"next": "detail"}, page=page)
    assert resp.status_code == 302
    alert = store.get_alert(alert_id)
    assert (alert.claimed_by, alert.acknowledged_by) == ("leader", "leader")
    assert alert.claimed_at is not None and alert.acknowledged_at is not None
    assert actions(store, 2) == [("leader", "alert.ack", f"alert:{alert_id}"),
                                 ("leader", "alert.claim", f"alert:{alert_id}")]
    html = client.get(page).get_data(as_text=True)
    assert re.search(r"leader 于 \d{4}-\d\d-\d\d \d\d:\d\d 认领", html)
    assert re.search(r"leader 于 \d{4}-\d\d-\d\d \d\d:\d\d 确认", html)
    assert 'class="claim-form"' not in html and 'class="ack-form"' not in html
    assert "leader 已认领" in client.get("/alerts").get_data(as_text=True)


def test_the_first_claim_wins_and_a_second_is_neither_stored_nor_audited(client, login, post_form, store, seeded):
    alert_id = seeded.alerts["red"]
    login("officer")
    post_form(f"/alerts/{alert_id}/claim", {}, page="/alerts")
    client.post("/logout", data={"csrf_token": csrf_from(client, "/alerts")})
    login("leader")
    resp = post_form(f"/alerts/{alert_id}/claim", {"next": "detail"}, page="/alerts")
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert "该预警已由 officer 认领" in html
    assert store.get_alert(alert_id).claimed_by == "officer"
    assert [a for a in actions(store) if a[1] == "alert.claim"] == [("officer", "alert.claim", f"alert:{alert_id}")]
    resp = post_form(f"/alerts/{alert_id}/ack", {"next": "/inbox"}, page="/alerts")
    assert resp.headers["Location"].endswith("/inbox")
    resp = post_form(f"/alerts/{alert_id}/ack", {"next": "https://evil.example/"}, page="/alerts")
    assert resp.headers["Location"].endswith("/alerts")  # only paths on this site
    assert [a for a in actions(store) if a[1] == "alert.ack"] == [("leader", "alert.ack", f"alert:{alert_id}")]


def test_the_alert_page_says_who_was_told_through_which_route(client, login, store, seeded, app):
    alert_id = seeded.alerts["red"]
    add_leader(store, "li", topics=["薪酬"], wecom_userid="LiSi_WeCom")
    store.add_deliveries(alert_id, [("企业微信应用", "li", "传言通知订阅该话题的意见领袖和干部")], utcnow())
    [d] = [d for d in store.deliveries(alert_id) if d.recipient == "li"]
    store.delivery_failed(d.id, "企业微信未能送达 1 人：LiSi_WeCom（UserID 不存在或不在应用的可见范围内）",
                          utcnow() + timedelta(minutes=5))
    login("officer")
    html = client.get(f"/alerts/{alert_id}").get_data(as_text=True)
    assert "<th>接收人</th>" in html and "（群通知）" in html
    assert "<td>li</td><td>企业微信应用</td><td>传言通知订阅该话题的意见领袖和干部</td>" in html
    assert "LiSi_WeCom" not in html and "企业微信未能送达 1 人：（联系方式已隐藏）" in html  # personal data
    client.post("/logout", data={"csrf_token": csrf_from(client, "/alerts")})
    login("admin")
    assert "LiSi_WeCom" in client.get(f"/alerts/{alert_id}").get_data(as_text=True)


# ---------------------------------------------------------------------------- case states
def test_officers_move_a_case_along_the_loop(client, login, post_form, store, seeded):
    case_id = seeded.cases["rumour"]
    login("officer")
    page = f"/cases/{case_id}"
    html = client.get(page).get_data(as_text=True)
    assert 'aria-current="step">疑似</li>' in html
    assert 'data-state="verifying">开始核实</button>' in html and 'data-state="false_alarm">' in html
    for to in ("verifying", "clarified", "subsided"):
        resp = post_form(f"{page}/state", {"state": to}, page=page)
        assert resp.status_code == 302 and resp.headers["Location"].endswith(f"{page}#loop")
        assert store.get_case(case_id).state.value == to
    case = store.get_case(case_id)
    assert case.status == "closed" and case.clarified_at is not None
    events = [e for e in store.audit_log() if e.action == "case.state"]
    assert [(e.actor, e.target, e.detail) for e in reversed(events)] == [
        ("officer", f"case:{case_id}", {"from": "suspected", "to": "verifying"}),
        ("officer", f"case:{case_id}", {"from": "verifying", "to": "clarified"}),
        ("officer", f"case:{case_id}", {"from": "clarified", "to": "subsided"})]
    post_form(f"{page}/state", {"state": "verifying"}, page=page)  # the rumour came back
    assert (store.get_case(case_id).state, store.get_case(case_id).status) == (CaseState.VERIFYING, "open")


@pytest.mark.parametrize("start,to", [("suspected", "clarified"), ("suspected", "subsided"),
                                      ("verifying", "subsided"), ("false_alarm", "clarified"),
                                      ("subsided", "clarified"), ("clarified", "clarified")])
def test_transitions_outside_the_loop_are_refused(client, login, post_form, store, seeded, start, to):
    case_id = seeded.cases["rumour"]
    set_state(store, case_id, CaseState(start))
    login("officer")
    before = len(store.audit_log(limit=1000))
    resp = post_form(f"/cases/{case_id}/state", {"state": to}, page=f"/cases/{case_id}")
    html = client.get(resp.headers["Location"]).get_data(as_text=True)
    assert f"不能直接改为“{CaseState(to).label_zh}”" in html
    assert store.get_case(case_id).state.value == start
    assert len(store.audit_log(limit=1000)) == before


def test_an_unknown_state_is_refused(client, login, post_form, store, seeded):
    case_id = seeded.cases["rumour"]
    login("officer")
    resp = post_form(f"/cases/{case_id}/state", {"state": "solved"}, page=f"/cases/{case_id}")
    assert "未知的事件状态" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert store.get_case(case_id).state is CaseState.SUSPECTED


def test_a_leader_may_clarify_only_an_assigned_case_they_answered(client, login, post_form, store, seeded):
    case_id = seeded.cases["rumour"]
    page = f"/cases/{case_id}"
    set_state(store, case_id, CaseState.VERIFYING)
    login("leader")
    assert 'data-state="clarified"' not in client.get(page).get_data(as_text=True)
    assert post_form(f"{page}/state", {"state": "clarified"}, page=page).status_code == 403  # not assigned
    store.assign_case(case_id, ["leader"], AuditEvent("officer", "case.assign", f"case:{case_id}"))
    assert post_form(f"{page}/state", {"state": "clarified"}, page=page).status_code == 403  # not answered
    post_form(f"{page}/respond", {"where": "教职工QQ群", "text": "已在群里说明情况"}, page=page)
    html = client.get(page).get_data(as_text=True)
    assert 'data-state="clarified">标记为已澄清</button>' in html and 'data-state="false_alarm"' not in html
    assert post_form(f"{page}/state", {"state": "false_alarm"}, page=page).status_code == 403  # officers only
    assert post_form(f"{page}/state", {"state": "clarified"}, page=page).status_code == 302
    case = store.get_case(case_id)
    assert case.state is CaseState.CLARIFIED and case.clarified_at is not None
    assert actions(store, 1) == [("leader", "case.state", f"case:{case_id}")]
    assert post_form(f"{page}/state", {"state": "subsided"}, page=page).status_code == 403


def test_moderators_cannot_touch_the_loop(client, login, post_form, store, seeded):
    case_id = seeded.cases["rumour"]
    login("moderator")
    for path, data in ((f"/cases/{case_id}/state", {"state": "verifying"}),
                       (f"/cases/{case_id}/assign", {"username": "leader"}),
                       (f"/cases/{case_id}/respond", {"where": "群", "text": "x"})):
        assert post_form(path, data, page="/queue").status_code == 403
    assert store.get_case(case_id).state is CaseState.SUSPECTED and store.case_responses(case_id) == []


# ---------------------------------------------------------------------------- assignment
def test_officers_assign_leaders_subscribed_to_the_topic_first(client, login, post_form, store, seeded):
    case_id = seeded.cases["rumour"]  # its post is about 薪酬
    add_leader(store, "wang", topics=["食堂"])
    add_leader(store, "li", topics=["薪酬", "住房保障"])
    add_leader(store, "zhao", topics=["薪酬"], active=False)
    login("officer")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    order = re.findall(r'name="username" value="([^"]+)"', html)
    assert order == ["li", "leader", "wang"]  # 薪酬 subscribers, then all topics, then the others; active only
    assert "订阅：薪酬" in html and "订阅全部话题" in html and "未订阅本事件话题" in html
    assert "住房保障" not in html  # only the matching topics are shown
    resp = post_form(f"/cases/{case_id}/assign", {"username": ["li", "leader"]}, page=f"/cases/{case_id}")
    assert resp.status_code == 302
    assert store.get_case(case_id).assignees == ["leader", "li"]
    event = store.audit_log(limit=1)[0]
    assert (event.actor, event.action, event.target, event.detail) == (
        "officer", "case.assign", f"case:{case_id}", {"assignees": ["li", "leader"]})
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert re.search(r'value="li" checked disabled', html)


@pytest.mark.parametrize("names,message", [(["officer"], "只能分派给启用中的意见领袖"), (["zhao"], "只能分派给启用中的意见领袖"),
                                           ([], "请选择至少一位")])
def test_assigning_anyone_but_an_active_leader_is_refused(client, login, post_form, store, seeded, names, message):
    case_id = seeded.cases["rumour"]
    add_leader(store, "zhao", active=False)
    login("officer")
    resp = post_form(f"/cases/{case_id}/assign", {"username": names}, page=f"/cases/{case_id}")
    assert message in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert store.get_case(case_id).assignees == []


def test_leaders_cannot_assign_and_flood_cases_are_not_assigned(client, login, post_form, store, seeded):
    login("leader")
    assert post_form(f"/cases/{seeded.cases['rumour']}/assign", {"username": "leader"}).status_code == 403
    client.post("/logout", data={"csrf_token": csrf_from(client, "/alerts")})
    login("officer")
    flood = seeded.cases["flood"]
    assert 'class="assign-form"' not in client.get(f"/cases/{flood}").get_data(as_text=True)
    resp = post_form(f"/cases/{flood}/assign", {"username": "leader"}, page=f"/cases/{flood}")
    assert "只有进行中的谣言类事件可以分派" in client.get(resp.headers["Location"]).get_data(as_text=True)
    assert store.get_case(flood).assignees == []


# ---------------------------------------------------------------------------- responses
def test_the_assigned_leader_sees_masked_posts_the_debunk_and_a_drafted_reply(client, login, post_form, store,
                                                                             seeded):
    text = f"听说绩效要砍三成，不信打我电话{PHONE}"
    pii = add_post(store, "pii-rumour", "qq", text, 2,
                   make_analysis(text, rumour=0.9, topic="薪酬", debunk_id=seeded.debunk_id,
                                 pii=[PIISpan("phone", text.index(PHONE), text.index(PHONE) + len(PHONE))]))
    rumour = store.get_post(seeded.posts["rumour"])
    case_id = rumour_case(store, "pii", [rumour, pii])
    store.assign_case(case_id, ["leader"], AuditEvent("officer", "case.assign", f"case:{case_id}"))
    login("leader")
    page = f"/cases/{case_id}"
    html = client.get(page).get_data(as_text=True)
    assert PHONE not in html and "138****5678" in html  # masked, as everywhere for leaders
    assert "学校从未讨论削减绩效工资，以人事处正式通知为准。" in html  # the debunk entry
    draft = re.search(r'<textarea name="text"[^>]*>([^<]*)</textarea>', html).group(1)
    assert draft.startswith("各位老师：近期有说法称“下月起绩效工资砍掉三成”。经向有关部门核实：学校从未讨论削减绩效工资")
    assert "https://hr.example.edu.cn/notice/1" in draft
    assert '<option value="教职工QQ群">' in html and '<option value="公众号留言区">' in html
    resp = post_form(f"{page}/respond", {"where": "教职工QQ群", "text": html_lib.unescape(draft), "url": ""},
                     page=page)
    assert resp.status_code == 302
    [r] = store.case_responses(case_id)
    assert (r.username, r.where, r.text) == ("leader", "教职工QQ群", html_lib.unescape(draft))
    event = store.audit_log(limit=1)[0]
    assert (event.actor, event.action, event.target) == ("leader", "case.respond", f"case:{case_id}")
    assert event.detail == {"where": "教职工QQ群", "chars": len(r.text), "state": "suspected"}
    html = client.get(page).get_data(as_text=True)
    assert "已登记你在“教职工QQ群”的回应" in html
    assert re.search(r"<strong>leader</strong> 于 [\d\- :]+ 在 <strong>教职工QQ群</strong> 回应", html)


def test_response_texts_with_personal_data_are_masked_for_leaders(client, login, store, seeded):
    case_id = seeded.cases["rumour"]
    store.add_case_response(CaseResponse(case_id=case_id, username="officer", where="当面沟通",
                                         text=f"已致电 {PHONE} 的老师说明"),
                            AuditEvent("officer", "case.respond", f"case:{case_id}"))
    login("leader")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "已致电" in html and PHONE not in html


def test_only_assigned_leaders_may_answer(client, login, post_form, store, seeded):
    case_id = seeded.cases["rumour"]
    login("leader")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'class="form respond-form"' not in html and "本事件尚未分派给你" in html
    resp = post_form(f"/cases/{case_id}/respond", {"where": "群", "text": "说明"}, page=f"/cases/{case_id}")
    assert resp.status_code == 403 and store.case_responses(case_id) == []


@pytest.mark.parametrize("form,message", [
    ({"where": "", "text": "说明"}, "请填写在哪里回应"),
    ({"where": "群" * 101, "text": "说明"}, "请填写在哪里回应"),
    ({"where": "教职工QQ群", "text": "  "}, "请填写回应内容"),
    ({"where": "教职工QQ群", "text": "说明", "url": "javascript:alert(1)"}, "“回应链接”须以 http:// 或 https:// 开头"),
])
def test_an_incomplete_answer_is_refused_and_the_text_kept(client, login, post_form, store, seeded, form, message):
    case_id = seeded.cases["rumour"]
    store.assign_case(case_id, ["leader"], AuditEvent("officer", "case.assign", f"case:{case_id}"))
    login("leader")
    resp = post_form(f"/cases/{case_id}/respond", form, page=f"/cases/{case_id}")
    html = resp.get_data(as_text=True)
    assert resp.status_code == 400 and message in html
    if form["text"].strip():
        assert f">{form['text']}</textarea>" in html
    assert store.case_responses(case_id) == []


def test_the_platform_reply_is_offered_when_the_channel_supports_it(store, settings, users, seeded):
    post = add_post(store, "wx-1", "wechat", "听说下月起绩效工资砍掉三成", 1,
                    make_analysis("听说下月起绩效工资砍掉三成", rumour=0.9, debunk_id=seeded.debunk_id),
                    raw={"_collector": "公众号"})
    case_id = rumour_case(store, "wx", [post])
    store.assign_case(case_id, ["leader"], AuditEvent("officer", "case.assign", f"case:{case_id}"))
    app = create_app(store, settings, secret_key="test-secret-" + "x" * 32,
                     write_actions={"公众号": frozenset({"reply"})})
    app.config["TESTING"] = True
    client = app.test_client()
    token = csrf_from(client, "/login")
    client.post("/login", data={"username": "leader", "password": password_for("leader"), "csrf_token": token})
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert f'action="/posts/{post.id}/reply"' in html and "也可以在下方帖子的“官方回复”中" in html
    assert f'name="next" value="/cases/{case_id}"' in html


# ---------------------------------------------------------------------------- volume before / after
def synthetic_case(store, pivot, before_hours, after_hours, key="vol"):
    """A rumour case whose posts were written these many hours before and after `pivot`."""
    now = utcnow()
    when = [pivot - timedelta(hours=h) for h in before_hours] + [pivot + timedelta(hours=h) for h in after_hours]
    posts = [add_post(store, f"{key}-{i}", "weibo", f"听说绩效砍三成 {i}", (now - at).total_seconds() / 3600,
                      make_analysis(f"听说绩效砍三成 {i}", rumour=0.9)) for i, at in enumerate(when)]
    return rumour_case(store, key, posts)


def test_volume_before_and_after_the_clarification(client, login, store, seeded):
    now = utcnow()
    pivot = now - timedelta(hours=30)
    before = [0.5, 1, 2, 3, 5, 8, 12, 16, 20, 23.5]  # 10 posts in the 24 hours before
    after = [1, 10]  # 2 in the 24 hours after
    case_id = synthetic_case(store, pivot, before + [30], after + [26])  # and one outside each window
    set_state(store, case_id, CaseState.VERIFYING)
    set_state(store, case_id, CaseState.CLARIFIED, at=pivot)
    login("officer")
    data = client.get(f"/api/cases/{case_id}/volume").get_json()
    assert (data["before"], data["after"], data["window_hours"]) == (10, 2, 24)
    assert data["verdict"] == "澄清后 24 小时新增帖子比之前 24 小时减少 80%（10 → 2 条）。"
    assert data["bucket"] == "hour" and sum(data["counts"]) == 14 and len(data["labels"]) == len(data["counts"])
    [mark] = data["marks"]
    assert mark["name"] == "澄清" and mark["label"] == pivot.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%m-%d %H:00")
    html = client.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "澄清后 24 小时新增帖子比之前 24 小时减少 80%" in html
    assert '<span class="count-before">10</span>' in html and '<span class="count-after">2</span>' in html
    assert f'data-volume-src="/api/cases/{case_id}/volume"' in html and "逐小时数字" in html


def test_the_first_response_counts_when_it_came_before_the_clarification(client, login, store, seeded):
    now = utcnow()
    response_at = now - timedelta(hours=10)
    case_id = synthetic_case(store, response_at, [1, 2, 3, 4], [1, 2, 3, 4, 5, 6], key="resp")
    store.add_case_response(CaseResponse(case_id=case_id, username="leader", where="群", text="说明",
                                         created_at=response_at), AuditEvent("leader", "case.respond"))
    set_state(store, case_id, CaseState.CLARIFIED, at=now - timedelta(hours=2))
    login("officer")
    data = client.get(f"/api/cases/{case_id}/volume").get_json()
    assert data["pivot_name"] == "首次回应" and data["window_hours"] == 10
    assert (data["before"], data["after"]) == (4, 6)
    assert data["verdict"] == "首次回应后 10 小时新增帖子比之前 10 小时增加 50%（4 → 6 条）。"
    assert [m["name"] for m in data["marks"]] == ["首次回应", "澄清"]


def test_volume_without_an_answer_and_its_permissions(client, login, store, seeded):
    login("leader")
    data = client.get(f"/api/cases/{seeded.cases['rumour']}/volume").get_json()
    assert data["verdict"] == "尚未回应或澄清，暂无前后对比。" and data["marks"] == [] and sum(data["counts"]) == 1
    resp = client.get(f"/api/cases/{seeded.cases['flood']}/volume")
    assert resp.status_code == 403 and "没有权限" in resp.get_json()["error"]
    assert client.get("/api/cases/999999/volume").status_code == 404


# ---------------------------------------------------------------------------- the inbox
def test_the_inbox_lists_assigned_cases_and_unhandled_alerts(client, login, post_form, store, seeded):
    rumour, red, yellow = seeded.cases["rumour"], seeded.alerts["red"], seeded.alerts["yellow"]
    other = rumour_case(store, "other", [store.get_post(seeded.posts["old"])])
    store.assign_case(rumour, ["leader"], AuditEvent("officer", "case.assign", f"case:{rumour}"))
    store.assign_case(other, ["leader"], AuditEvent("officer", "case.assign", f"case:{other}"))
    set_state(store, other, CaseState.FALSE_ALARM)  # closed: not in the inbox
    for alert_id in (red, yellow):
        store.add_deliveries(alert_id, [("企业微信应用", "leader", "传言通知订阅该话题的意见领袖和干部")], utcnow())
    store.acknowledge_alert(yellow, AuditEvent("officer", "alert.ack", f"alert:{yellow}"))  # handled already
    login("leader")
    html = client.get("/inbox").get_data(as_text=True)
    assert re.findall(r'class="inbox-case" data-case-id="(\d+)"', html) == [str(rumour)]
    assert re.findall(r'class="inbox-alert" data-alert-id="(\d+)"', html) == [str(red)]
    row = re.search(rf'data-case-id="{rumour}".*?</tr>', html, re.S).group(0)
    assert "疑似" in row and "未回应" in row and re.search(r'<td class="num">1</td>\s*<td class="num">1</td>', row)
    assert "企业微信应用（传言通知订阅该话题的意见领袖和干部，待发送）" in html
    post_form(f"/cases/{rumour}/respond", {"where": "公众号留言区", "text": "已说明"}, page="/inbox")
    row = re.search(rf'data-case-id="{rumour}".*?</tr>', client.get("/inbox").get_data(as_text=True), re.S).group(0)
    assert "已回应" in row
    resp = post_form(f"/alerts/{red}/claim", {"next": "/inbox"}, page="/inbox")
    assert resp.headers["Location"].endswith("/inbox")
    html = client.get("/inbox").get_data(as_text=True)
    assert "没有待处理的通知" in html and store.get_alert(red).claimed_by == "leader"


def test_the_inbox_is_only_about_me(client, login, store, seeded):
    case_id = seeded.cases["rumour"]
    add_leader(store, "li")
    store.assign_case(case_id, ["li"], AuditEvent("officer", "case.assign", f"case:{case_id}"))
    store.add_deliveries(seeded.alerts["red"], [("企业微信应用", "li", "路由")], utcnow())
    login("leader")
    html = client.get("/inbox").get_data(as_text=True)
    assert "目前没有分派给你的进行中事件" in html and "没有待处理的通知" in html
    assert '<a href="/inbox" class="active" aria-current="page">我的事件</a>' in html
