"""A real browser (Debian's chromium through Playwright) against the app served on loopback."""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Iterator

import pytest
from werkzeug.serving import make_server

from core.domain import FlagStatus
from tests.dashboard.helpers import XSS_TEXT, password_for

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
        "--disable-component-update", "--disable-sync"]

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not Path(CHROMIUM).exists(),
                       reason=f"{CHROMIUM} 不存在：请先 apt-get install -y chromium（CI 会安装）"),
]


@pytest.fixture
def live_url(app, seeded) -> Iterator[str]:
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="test-web", daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=10)


@pytest.fixture
def page(live_url):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        context = browser.new_context(viewport={"width": 1280, "height": 900}, base_url=live_url)
        pg = context.new_page()
        pg.set_default_timeout(15_000)
        pg.problems = []  # console errors (CSP violations land here) and uncaught exceptions
        pg.on("console", lambda m: pg.problems.append(m.text) if m.type == "error" else None)
        pg.on("pageerror", lambda e: pg.problems.append(str(e)))
        yield pg
        browser.close()


def ui_login(pg, role: str) -> None:
    pg.goto("/login")
    pg.fill("input[name=username]", role)
    pg.fill("input[name=password]", password_for(role))
    with pg.expect_navigation():
        pg.click("form button[type=submit]")


def test_moderator_queue_hostile_text_stays_text_and_remove_works(page, store, seeded):
    ui_login(page, "moderator")
    assert page.url.endswith("/queue")
    xss = page.locator(f"#post-{seeded.posts['xss']} .post-text")
    assert xss.inner_text() == XSS_TEXT
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.locator(f"#post-{seeded.posts['xss']} img").count() == 0

    spam_id = seeded.posts["spam"]
    card = page.locator(f"#post-{spam_id}")
    card.locator(".remove-form select[name=reason_code]").select_option("spam")
    card.locator(".remove-form input[name=note]").fill("浏览器里删除")
    with page.expect_navigation():
        card.locator(".remove-form button[type=submit]").click()
    assert page.locator(".flash-ok").inner_text().startswith(f"已删除帖子 #{spam_id}")
    assert page.locator(f"#post-{spam_id}").count() == 0
    assert store.queue_item(spam_id).status is FlagStatus.REMOVED
    [decision] = store.decisions()
    assert (decision.moderator, decision.reason_code.value, decision.note) == ("moderator", "spam", "浏览器里删除")
    assert store.audit_log(limit=1)[0].action == "decision.remove"
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.problems == []


def test_keyboard_j_then_a_approves_the_first_card(page, store, seeded):
    ui_login(page, "moderator")
    first = page.locator(".post-card").first
    first_id = int(first.get_attribute("data-post-id"))
    page.keyboard.press("j")
    assert page.evaluate("document.activeElement.dataset.postId") == str(first_id)
    with page.expect_navigation():
        page.keyboard.press("a")
    page.wait_for_selector(".flash-ok")
    assert store.queue_item(first_id).status is FlagStatus.APPROVED
    assert store.decisions()[0].reason_code.value == "ok"


def test_sentiment_charts_render_under_the_csp(page, seeded):
    ui_login(page, "officer")
    assert page.url.endswith("/overview")
    for chart in ("#chart-daily", "#chart-hourly"):
        page.wait_for_selector(f"{chart}[data-ready='1'] canvas")
        assert page.locator(f"{chart} canvas").count() >= 1
    assert page.problems == []  # no CSP violation, no script error


def test_officer_reads_the_weekly_report_and_turns_a_grievance_into_a_proposal(page, store, seeded):
    from core.domain import Sentiment
    from tests.dashboard.helpers import add_post, make_analysis

    text = "我们实验员同工不同酬，希望工会在教代会上提一下<img src=x onerror=window.__pwned=1>"
    post = add_post(store, "lead-b", "board", text, 2,
                    make_analysis(text, sentiment=Sentiment.NEG, polarity=-0.5, grievance=0.92, topic="薪酬待遇"))
    ui_login(page, "officer")
    page.goto("/reports?period=weekly")
    assert "工会舆情周报" in page.locator("h1").inner_text()
    assert page.locator(".report svg rect").count() > 0  # the daily bars are drawn
    with page.expect_download() as dl:
        page.click("text=下载 PDF")
    assert dl.value.suggested_filename.endswith(".pdf")

    page.goto("/leads")
    assert page.locator(f"#post-{post.id} .post-text").inner_text() == text  # markup stays text
    form = page.locator(f"form[aria-label='处理诉求 #{post.id}']")
    form.locator("input[name=note]").fill("列入教代会提案")
    with page.expect_navigation():
        form.locator("button[value=proposal]").click()
    assert "已转为提案" in page.locator(".flash-ok").inner_text()
    assert store.lead_states([post.id])[post.id][0] == "proposal"
    assert page.evaluate("typeof window.__pwned") == "undefined"
    assert page.problems == []


def test_removing_a_critical_post_waits_for_a_second_moderator(page, store, seeded, password_hashes, live_url):
    from core.domain import Flag, Role, Sentiment, User
    from store.base import RuleResults
    from tests.dashboard.helpers import add_post, make_analysis

    text = "绩效方案太不公平了，一线老师意见很大"
    post = add_post(store, "critical-b", "weibo", text, 1,
                    make_analysis(text, sentiment=Sentiment.NEG, polarity=-0.6, rumour=0.8))
    store.commit_rule_results(RuleResults(flags=[Flag(post_id=post.id, rule="rumour_post", reason="测试",
                                                      created_at=post.created_at)]))
    store.add_user(User(username="moderator2", role=Role.MODERATOR, password_hash=password_hashes["moderator"]))

    def remove_as(username: str) -> None:
        page.context.clear_cookies()
        page.goto("/login")
        page.fill("input[name=username]", username)
        page.fill("input[name=password]", password_for("moderator"))
        with page.expect_navigation():
            page.click("form button[type=submit]")
        card = page.locator(f"#post-{post.id}")
        card.locator(".remove-form select[name=reason_code]").select_option("rumour")
        with page.expect_navigation():
            card.locator(".remove-form button[type=submit]").click()

    remove_as("moderator")
    assert "需要另一位审核员确认" in page.locator(".flash-ok").inner_text()
    assert store.queue_item(post.id).status is FlagStatus.PENDING
    remove_as("moderator2")
    assert store.queue_item(post.id).status is FlagStatus.REMOVED
    decisions = [(e.actor, e.action) for e in store.audit_log(20) if e.action.startswith("decision.")]
    assert decisions[:2] == [("moderator2", "decision.remove"), ("moderator", "decision.remove_requested")]
    assert page.problems == []
