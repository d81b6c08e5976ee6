"""Two-person rule: removing a critical post that is not spam, abuse or a privacy leak needs a second moderator."""
from __future__ import annotations

import pytest

from core.domain import FlagStatus, Role, Sentiment, User
from tests.dashboard.helpers import add_post, make_analysis, password_for


@pytest.fixture
def second(store, password_hashes):
    store.add_user(User(username="moderator2", role=Role.MODERATOR, password_hash=password_hashes["moderator"]))
    return "moderator2"


def flagged(store, key: str, sentiment: Sentiment) -> int:
    from datetime import datetime, timezone

    from core.domain import Flag
    from store.base import RuleResults

    text = "绩效方案太不公平了，一线老师意见很大"
    post = add_post(store, key, "weibo", text, 1, make_analysis(text, sentiment=sentiment, polarity=-0.6, rumour=0.8))
    store.commit_rule_results(RuleResults(flags=[Flag(post_id=post.id, rule="rumour_post", reason="测试",
                                                      created_at=datetime.now(timezone.utc))]))
    return post.id


def second_client(app, username: str):
    from tests.dashboard.helpers import csrf_from, do_login

    c = app.test_client()
    assert do_login(c, username, password_for("moderator")).status_code == 302

    def post(path: str, data: dict, page: str = "/queue") -> object:
        return c.post(path, data={**data, "csrf_token": csrf_from(c, page)})

    return c, post


def remove(post, post_id: int, code: str = "rumour"):
    return post(f"/queue/{post_id}/decide", {"action": "remove", "reason_code": code, "note": ""}, page="/queue")


def test_a_critical_post_needs_a_second_moderator(app, store, client, login, post_form, second) -> None:
    pid = flagged(store, "c", Sentiment.NEG)
    login("moderator")
    remove(post_form, pid)
    assert store.queue_item(pid).status is FlagStatus.PENDING
    assert store.removal_requests([pid])[pid][0] == "moderator"
    assert "需要另一位审核员确认" in client.get("/queue").get_data(as_text=True)
    remove(post_form, pid)  # the same person again: refused
    assert store.queue_item(pid).status is FlagStatus.PENDING
    c2, post2 = second_client(app, second)
    assert "确认删除" in c2.get("/queue").get_data(as_text=True)
    remove(post2, pid)
    assert store.queue_item(pid).status is FlagStatus.REMOVED and store.removal_requests([pid]) == {}
    actions = [(e.actor, e.action, e.detail.get("second_of")) for e in store.audit_log(10)]
    assert ("moderator2", "decision.remove", "moderator") in actions
    assert ("moderator", "decision.remove_requested", None) in actions


@pytest.mark.parametrize("sentiment, code", [(Sentiment.NEG, "spam"), (Sentiment.NEG, "abuse"), (Sentiment.NEG, "privacy"),
                                             (Sentiment.NEU, "rumour"), (Sentiment.POS, "off_topic")])
def test_spam_abuse_privacy_and_non_critical_posts_need_one(store, login, post_form, sentiment, code) -> None:
    pid = flagged(store, f"k-{code}-{sentiment.value}", sentiment)
    login("moderator")
    remove(post_form, pid, code)
    assert store.queue_item(pid).status is FlagStatus.REMOVED


def test_an_approval_drops_the_request(app, store, client, login, post_form, second) -> None:
    pid = flagged(store, "a", Sentiment.NEG)
    login("moderator")
    remove(post_form, pid)
    _, post2 = second_client(app, second)
    post2(f"/queue/{pid}/decide", {"action": "approve", "reason_code": "ok"})
    assert store.queue_item(pid).status is FlagStatus.APPROVED and store.removal_requests([pid]) == {}
