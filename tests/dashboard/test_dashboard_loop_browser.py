"""In a real browser (Debian's chromium through Playwright): a leader follows the link in their
notification, signs in, acknowledges the alert, answers the rumour (已回应: where and what) and marks
it clarified; the admin's audit log then shows each step."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from core.domain import AuditEvent, CaseState, utcnow
from core.links import AlertLinks
from tests.dashboard.helpers import password_for
from tests.dashboard.test_dashboard_browser import CHROMIUM, live_url, page, ui_login  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} 不存在：请先 apt-get install -y chromium（CI 会安装）"),
]


def test_a_leader_follows_the_link_acknowledges_and_answers_and_the_audit_log_shows_it(page, app, store, seeded,
                                                                                        live_url):  # noqa: F811
    alert_id, case_id = seeded.alerts["red"], seeded.cases["rumour"]
    # The officer has started verifying the rumour and assigned it to the leader, who was notified.
    store.set_case_state(case_id, CaseState.VERIFYING,
                         AuditEvent("officer", "case.state", f"case:{case_id}", {"from": "suspected", "to": "verifying"}))
    store.assign_case(case_id, ["leader"], AuditEvent("officer", "case.assign", f"case:{case_id}",
                                                      {"assignees": ["leader"]}))
    store.add_deliveries(alert_id, [("企业微信应用", "leader", "传言通知订阅该话题的意见领袖和干部")], utcnow())
    link = AlertLinks(app.config["SECRET_KEY"], live_url).url(alert_id, "leader")

    # 1. The link from the notification: not signed in yet, so the login page first, then back.
    page.goto(link)
    assert page.url.startswith(f"{live_url}/login?next=")
    assert "登录后将自动打开通知中的预警" in page.locator(".flash").inner_text()
    page.fill("input[name=username]", "leader")
    page.fill("input[name=password]", password_for("leader"))
    with page.expect_navigation():
        page.click("form button[type=submit]")
    assert page.url == f"{live_url}/alerts/{alert_id}"
    assert page.locator(".claim-form button").inner_text() == "认领"

    # 2. 确认
    with page.expect_navigation():
        page.click(".ack-form button")
    assert page.locator(".flash-ok").inner_text() == f"已确认预警 #{alert_id}。"
    assert re.match(r"leader 于 \d{4}-\d\d-\d\d \d\d:\d\d 确认", page.locator(".ack-state").inner_text())

    # 3. The case: the debunk entry, a drafted reply; 已回应 with where and what.
    with page.expect_navigation():
        page.click("text=打开事件：查看官方澄清、登记回应")
    assert page.url.startswith(f"{live_url}/cases/{case_id}")
    assert "学校从未讨论削减绩效工资" in page.locator(".clarifications").inner_text()
    draft = page.locator(".respond-form textarea[name=text]").input_value()
    assert draft.startswith("各位老师：近期有说法称“下月起绩效工资砍掉三成”")
    page.fill(".respond-form input[name=where]", "教职工QQ群")
    page.fill(".respond-form textarea[name=text]", draft + " 有疑问可以随时问我。")
    with page.expect_navigation():
        page.click(".respond-form button[type=submit]")
    assert page.locator(".flash-ok").inner_text().startswith("已登记你在“教职工QQ群”的回应。")
    assert "有疑问可以随时问我。" in page.locator(".response-list").inner_text()

    # 4. Having answered, the leader marks the rumour clarified; the chart marks both moments.
    with page.expect_navigation():
        page.click("button[data-state=clarified]")
    assert page.locator("#case-state").inner_text() == "已澄清"
    page.wait_for_selector("#volume-chart[data-ready='1'] canvas")
    assert page.locator("#volume-chart").get_attribute("data-marks") == "2"
    assert store.get_case(case_id).state is CaseState.CLARIFIED

    # 5. The admin's audit log shows each step, by the leader, in order.
    with page.expect_navigation():
        page.click("form[action='/logout'] button")
    ui_login(page, "admin")
    page.goto("/admin/audit?actor=leader")
    rows = [[c.strip() for c in r.split("\t")] for r in page.locator("table.audit tbody tr").all_inner_texts()]
    steps = [(r[2], r[3]) for r in reversed(rows)]
    assert steps == [("login.ok", "user:leader"), ("alert.link_open", f"alert:{alert_id}"),
                     ("alert.ack", f"alert:{alert_id}"), ("case.respond", f"case:{case_id}"),
                     ("case.state", f"case:{case_id}"), ("logout", "user:leader")]
    details = page.locator("table.audit tbody").inner_text()
    assert '"sent_to": "leader"' in details and '"where": "教职工QQ群"' in details
    assert '"from": "verifying"' in details and '"to": "clarified"' in details
    assert page.problems == []  # no CSP violation, no script error
