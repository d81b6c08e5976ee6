"""People in a real browser (Debian's chromium through Playwright): an admin sets a contact route and a
subscription on the 用户 page, the leader opens 我的订阅 from the navigation and subscribes — under the
CSP, with no console errors."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.domain import Level
from tests.dashboard.test_dashboard_browser import CHROMIUM, live_url, page, ui_login  # noqa: F401 (fixtures)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} 不存在：请先 apt-get install -y chromium（CI 会安装）"),
]


def test_in_the_browser_the_admin_sets_a_route_and_the_leader_subscribes(page, store):
    ui_login(page, "admin")
    page.goto("/admin/users")
    with page.expect_navigation():
        page.click("a[aria-label='编辑 leader']")
    page.fill("input[name=wecom_userid]", "wx_leader")
    page.check("input[name=topics][value=薪酬待遇]")
    with page.expect_navigation():
        page.click("form.profile-form button[type=submit]")
    assert "已保存 leader 的修改：企业微信 UserID、关注话题。" in page.locator(".flash-ok").inner_text()
    assert "wx_leader" in page.locator("#user-leader").inner_text()
    with page.expect_navigation():
        page.click("form[action='/logout'] button")

    ui_login(page, "leader")
    with page.expect_navigation():
        page.click("nav.nav >> text=我的订阅")
    assert "wx_leader" in page.locator(".routes").inner_text()
    assert page.locator("input[name=topics][value=薪酬待遇]").is_checked()
    page.check("input[name=topics][value=住房保障]")
    page.check("input[name=min_level][value=orange]")
    with page.expect_navigation():
        page.click("form.profile-form button[type=submit]")
    assert page.locator(".flash-ok").inner_text().startswith("已保存你的订阅：关注话题、最低预警级别。")
    user = store.get_user("leader")
    assert (user.topics, user.min_level, user.wecom_userid) == (["薪酬待遇", "住房保障"], Level.ORANGE, "wx_leader")
    assert page.problems == []
