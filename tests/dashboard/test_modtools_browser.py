"""Moderation tools in a real browser: bulk remove with its preview, then an author's history."""
from __future__ import annotations

from core.domain import FlagStatus
from tests.dashboard.test_dashboard_browser import live_url, page, pytestmark, ui_login  # noqa: F401 (fixtures)


def test_bulk_remove_after_a_preview_then_the_authors_history(page, store, seeded):
    ui_login(page, "moderator")
    spam, xss = seeded.posts["spam"], seeded.posts["xss"]
    for pid in (spam, xss):
        page.check(f"#post-{pid} input[name=post_id]")
    page.select_option("#bulk-form select[name=action]", "remove")
    page.select_option("#bulk-form select[name=reason_code]", "spam")
    page.fill("#bulk-form input[name=note]", "批量清理广告")
    with page.expect_navigation():
        page.click("#bulk-form button[type=submit]")
    assert "预览" in page.locator("h1").inner_text()
    assert page.locator(".bulk-preview tbody tr").count() == 2
    assert store.queue_item(spam).status is FlagStatus.PENDING  # nothing happened yet
    assert page.evaluate("typeof window.__pwned") == "undefined"  # the hostile post's excerpt is text
    with page.expect_navigation():
        page.click("text=确认处理 2 条")
    assert "已处理 2 条" in page.locator(".flash-ok").inner_text()
    assert store.queue_item(spam).status is FlagStatus.REMOVED and store.queue_item(xss).status is FlagStatus.REMOVED
    page.goto(f"/posts/{spam}")
    with page.expect_navigation():
        page.click(f"#post-{spam} a.author")
    assert "作者历史" in page.locator("h1").inner_text()
    assert page.locator(f"#post-{spam}").count() == 1
    assert page.problems == []
