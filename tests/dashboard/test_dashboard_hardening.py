"""Odd requests and odd stored data never make a page fail: ids past 64 bits, control characters in a
query, query parameters that clash with url_for's own, times at the ends of the calendar. And a leader
can follow an alert to the case behind it."""
from __future__ import annotations

from datetime import datetime, timezone

import pytest

from core.domain import Alert, Case, CaseKind, Level, Post
from store.base import RuleResults
from tests.dashboard.helpers import add_post, make_analysis

ID_ROUTES = ["/posts/{}", "/alerts/{}", "/cases/{}", "/debunks/{}/edit"]


@pytest.mark.parametrize("role", ["admin", "moderator", "officer", "leader"])
def test_ids_beyond_what_the_store_holds_are_not_found(login, seeded, role):
    client = login(role)
    for route in ID_ROUTES:
        for n in (2**63, 2**64, 10**30):
            resp = client.get(route.format(n))
            assert resp.status_code in (403, 404), (route, n, resp.status_code)
        assert client.get(route.format(2**63 - 1)).status_code in (403, 404)


def test_search_with_control_characters(login, seeded):
    client = login("moderator")
    for q in ("\x00", "食堂\x00", "\x1b[2J", '"', "\ud800"[:0] + "\u202e"):
        assert client.get("/search", query_string={"q": q}).status_code == 200


@pytest.mark.parametrize("name", ["_method", "endpoint", "_scheme", "_external", "_anchor", "values", "post_id"])
def test_pagination_keeps_unexpected_parameters_as_plain_text(login, seeded, name):
    client = login("admin")
    pagers = 0
    # (the queue pages by keyset: its next link is rebuilt from the known filter, see test_modtools.py)
    for path in ("/alerts", "/admin/audit", "/admin/dead-letters", "/search?q=食堂"):
        sep = "&" if "?" in path else "?"
        resp = client.get(f"{path}{sep}page=2&{name}=x")
        assert resp.status_code == 200, (path, resp.status_code)
        page = resp.get_data(as_text=True)
        if "rel=\"prev\"" in page:  # the search has no second page here: no pager at all
            assert f"{name}=x" in page and "page=1" in page
            pagers += 1
    assert pagers >= 3


def test_a_leader_opens_the_case_behind_an_alert_but_lists_rumour_cases_only(store, login, seeded):
    post_id = seeded.posts["spam"]
    results = RuleResults(
        cases=[Case(kind=CaseKind.FLOOD, key="flood-2", title="广告潮二", post_ids=[post_id])],
        alerts=[Alert(rule="spam_burst", level=Level.ORANGE, title="广告刷屏", body="一小时内多条广告",
                      dedupe_key="b1", post_ids=[post_id])],
        alert_case={0: ("flood", "flood-2")},
    )
    [alert] = store.commit_rule_results(results)
    client = login("leader")
    page = client.get(f"/alerts/{alert.id}").get_data(as_text=True)
    assert f"/cases/{alert.case_id}" in page
    resp = client.get(f"/cases/{alert.case_id}")
    assert resp.status_code == 200 and "广告刷屏" in resp.get_data(as_text=True)
    assert client.get(f"/cases/{seeded.cases['flood']}").status_code == 403  # no alert is about that one
    assert "广告潮二" not in client.get("/cases").get_data(as_text=True)


@pytest.mark.parametrize("at", [datetime(1, 1, 1, 0, 30, tzinfo=timezone.utc),
                                datetime(999, 6, 1, tzinfo=timezone.utc),
                                datetime(9999, 12, 31, 23, 59, tzinfo=timezone.utc)])
def test_posts_at_the_ends_of_the_calendar_still_render(store, login, seeded, at):
    """The boundary refuses such times now; a store written before may still hold them."""
    post = Post(channel="weibo", source_id=f"edge{at.year}", author="u", text="时间很奇怪的帖子", created_at=at)
    store.ingest("legacy", [post], None)
    store.save_analyses([(post, make_analysis(post.text, spam=0.95))])
    results = RuleResults(
        seen=[(post.id, post.version)],
        cases=[Case(kind=CaseKind.RUMOUR, key=f"edge{at.year}", title="时间奇怪的事件", post_ids=[post.id],
                    created_at=at, updated_at=at)],
        alerts=[Alert(rule="x", level=Level.RED, title="时间奇怪的预警", body="正文", dedupe_key=f"e{at.year}",
                      post_ids=[post.id], created_at=at)],
        alert_case={0: ("rumour", f"edge{at.year}")},
    )
    [alert] = store.commit_rule_results(results)
    for role in ("admin", "officer", "leader"):
        client = login(role)
        for path in ("/alerts", f"/alerts/{alert.id}", f"/cases/{alert.case_id}", "/cases", "/overview",
                     f"/posts/{post.id}", "/search?q=时间"):
            resp = client.get(path)
            assert resp.status_code in (200, 403), (role, path, resp.status_code)
        client.post("/logout")


def test_the_quarantine_is_listed_and_an_admin_can_retry(store, login, seeded, post_form):
    post = add_post(store, "poison", "board", "让分析出错的帖子", 1, None)
    for _ in range(3):
        store.quarantine_failure("analyze", post.id, post.version, "ValueError: 模拟故障", datetime.now(timezone.utc))
    assert store.posts_to_analyze(100, skip_after=3) == [] or all(p.id != post.id for p in store.posts_to_analyze(100, skip_after=3))
    client = login("admin")
    page = client.get("/admin/dead-letters").get_data(as_text=True)
    assert f"#{post.id}" in page and "模拟故障" in page
    resp = post_form(f"/admin/quarantine/analyze/{post.id}/retry", {}, page="/admin/dead-letters")
    assert resp.status_code == 302
    assert store.quarantined("analyze") == []
    assert any(p.id == post.id for p in store.posts_to_analyze(100, skip_after=3))
    assert store.audit_log(limit=1)[0].action == "quarantine.release"


def test_the_status_page_shows_each_job_and_why_the_service_is_degraded(store, settings, users):
    from dashboard import create_app
    from tests.dashboard.helpers import do_login

    status = {"status": "degraded", "problems": ["analyze 连续失败 3 次：OperationalError: disk I/O error"],
              "jobs": {"analyze": {"last_success": None, "last_error": "OperationalError: disk I/O error",
                                   "last_error_at": "2026-12-05T10:00:00+00:00", "consecutive_failures": 3}},
              "collectors": {"inbox": {"last_success": "2026-12-05T10:00:00+00:00", "last_error": None,
                                       "last_error_at": None, "consecutive_failures": 0}},
              "model_version": "m1"}
    app = create_app(store, settings, status=lambda: dict(status), secret_key="k" * 40)
    client = app.test_client()
    do_login(client, "admin")
    page = client.get("/admin/status").get_data(as_text=True)
    assert "服务降级" in page and "disk I/O error" in page and "分析" in page and "inbox" in page
    resp = client.get("/healthz")
    assert resp.status_code == 503 and resp.get_json()["status"] == "degraded"


def test_the_rules_page_shows_how_often_each_rules_flags_were_upheld(store, login, seeded, post_form):
    from core.domain import Action, AuditEvent, Decision, Flag, ReasonCode
    from store.base import RuleResults
    from tests.dashboard.helpers import add_post, make_analysis

    ids = []
    for i in range(6):
        p = add_post(store, f"n{i}", "qq", f"可能是广告的帖子{i}", 1, make_analysis("x"))
        ids.append(p.id)
    store.commit_rule_results(RuleResults(flags=[Flag(post_id=i, rule="spam_post", reason="广告") for i in ids]))
    for n, pid in enumerate(ids):  # 1 of 6 upheld: a noisy rule
        action = Action.REMOVE if n == 0 else Action.APPROVE
        code = ReasonCode.SPAM if n == 0 else ReasonCode.FALSE_POSITIVE
        store.decide(Decision(post_id=pid, moderator="moderator", action=action, reason_code=code),
                     AuditEvent("moderator", "decision"))
    page = login("officer").get("/rules").get_data(as_text=True)
    assert "疑似垃圾广告" in page and "17%" in page and "误报偏多" in page
    assert store.rule_outcomes()["spam_post"][1:] == (6, 1)  # decided, removed (the seeded flags are pending)
