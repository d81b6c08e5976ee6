"""The review queue: what a card shows, deciding, filters, escaping and personal data."""
from __future__ import annotations

import re

from zoneinfo import ZoneInfo

from core.domain import Flag, FlagStatus, ReasonCode
from store.base import RuleResults
from tests.dashboard.helpers import PHONE, add_post, csrf_from, make_analysis


def test_queue_card_shows_channel_time_flags_and_grouped_reasons(client, login, store, seeded):
    login("moderator")
    page = client.get("/queue").get_data(as_text=True)
    spam = store.get_post(seeded.posts["spam"])
    local = spam.created_at.astimezone(ZoneInfo("Asia/Shanghai")).strftime("%Y-%m-%d %H:%M")
    card = page[page.index(f'id="post-{spam.id}"'):]
    card = card[: card.index("</article>")]
    for expected in ("QQ群", "教职工交流群", "推广小王", local, "加微信 兼职刷单 日结三百",
                     "spam_high", "垃圾广告分数 0.93 ≥ 0.8",  # the flag: rule + reason
                     "垃圾广告", "0.93", "命中广告词：兼职、刷单", "含联系方式引流（加微信）",  # NLP reasons by score
                     "兼职", "刷单", "话题：其他", "test-model-1", "通过", "删除", "垃圾广告"):
        assert expected in card, expected
    assert "待审核：共 5 条" in page


def test_queue_shows_the_debunk_and_earlier_versions(client, login, seeded):
    login("moderator")
    page = client.get("/queue").get_data(as_text=True)
    assert "辟谣库已有澄清" in page and "学校从未讨论削减绩效工资" in page
    assert "第二版：希望领导多关心一线" in page
    assert "早期版本（1）" in page and "第一版：领导不作为" in page


def test_remove_with_reason_writes_decision_and_audit_and_leaves_pending(client, login, post_form, store, seeded):
    login("moderator")
    post_id = seeded.posts["spam"]
    before = store.queue_count(FlagStatus.PENDING)
    resp = post_form(f"/queue/{post_id}/decide",
                     {"action": "remove", "reason_code": "spam", "note": "典型刷单广告", "next": "/queue"},
                     page="/queue")
    assert resp.status_code == 302 and resp.headers["Location"] == "/queue"
    decisions = store.decisions()
    assert [(d.post_id, d.moderator, d.action.value, d.reason_code.value, d.note) for d in decisions] == [
        (post_id, "moderator", "remove", "spam", "典型刷单广告")]
    audit = [e for e in store.audit_log() if e.action.startswith("decision.")]
    assert len(audit) == 1
    assert (audit[0].actor, audit[0].action, audit[0].target) == ("moderator", "decision.remove", f"post:{post_id}")
    assert audit[0].detail["reason_code"] == "spam" and audit[0].detail["rules"] == ["spam_high"]
    assert store.queue_count(FlagStatus.PENDING) == before - 1
    pending = client.get("/queue").get_data(as_text=True)
    assert f'id="post-{post_id}"' not in pending
    assert "已删除帖子" in pending  # the flash message
    removed = client.get("/queue?status=removed").get_data(as_text=True)
    assert f'id="post-{post_id}"' in removed and "典型刷单广告" in removed


def test_approve_as_false_positive(client, login, post_form, store, seeded):
    login("admin")
    post_id = seeded.posts["edited"]
    post_form(f"/queue/{post_id}/decide", {"action": "approve", "reason_code": "false_positive"}, page="/queue")
    assert store.queue_item(post_id).status is FlagStatus.APPROVED
    assert store.audit_log(limit=1)[0].action == "decision.approve"


def test_decision_needs_a_matching_reason(client, login, post_form, store, seeded):
    login("moderator")
    post_id = seeded.posts["spam"]
    resp = post_form(f"/queue/{post_id}/decide", {"action": "remove", "reason_code": ""}, page="/queue")
    assert resp.status_code == 302
    assert "请选择删除理由" in client.get("/queue").get_data(as_text=True)
    post_form(f"/queue/{post_id}/decide", {"action": "approve", "reason_code": "spam"}, page="/queue")
    assert "与操作不符" in client.get("/queue").get_data(as_text=True)
    post_form(f"/queue/{post_id}/decide", {"action": "delete-everything", "reason_code": "spam"}, page="/queue")
    assert store.decisions() == []
    assert store.queue_item(post_id).status is FlagStatus.PENDING


def test_deciding_an_unflagged_or_missing_post_is_404(client, login, post_form, store, seeded):
    login("moderator")
    for post_id in (seeded.posts["canteen"], 99999):
        resp = post_form(f"/queue/{post_id}/decide", {"action": "remove", "reason_code": "spam"}, page="/queue")
        assert resp.status_code == 404
    assert store.decisions() == []


def test_hostile_text_is_escaped(client, login, seeded):
    login("moderator")
    for path in ("/queue", f"/posts/{seeded.posts['xss']}"):
        page = client.get(path).get_data(as_text=True)
        assert "<script>window.__pwned" not in page
        assert "<img src=x" not in page
        assert "&lt;script&gt;window.__pwned=1&lt;/script&gt;&lt;img src=x onerror=&#34;window.__pwned=2&#34;&gt;" in page


def test_channel_filter_and_pagination(client, login, store, seeded):
    extra = [add_post(store, f"qq-{i}", "qq", f"第{i}条刷屏广告", 0.5, make_analysis(f"第{i}条刷屏广告", spam=0.9))
             for i in range(25)]
    store.commit_rule_results(RuleResults(flags=[Flag(post_id=p.id, rule="flood", reason="刷屏") for p in extra]))
    login("moderator")
    page1 = client.get("/queue?channel=qq").get_data(as_text=True)
    assert "待审核：共 26 条" in page1
    assert page1.count('class="card post-card"') == 20
    assert "微信公众号" in page1  # channel options use Chinese labels
    nxt = re.search(r'href="([^"]+)" rel="next"', page1).group(1).replace("&amp;", "&")
    assert "channel=qq" in nxt and "cursor=" in nxt  # keyset: the next page continues after the last post
    page2 = client.get(nxt).get_data(as_text=True)
    assert page2.count('class="card post-card"') == 6 and 'rel="next"' not in page2
    ids = re.findall(r'id="post-(\d+)"', page1) + re.findall(r'id="post-(\d+)"', page2)
    assert len(ids) == len(set(ids)) == 26  # every flagged qq post once, none twice
    assert f'id="post-{seeded.posts["privacy"]}"' not in page1 + page2  # a wechat post


def test_moderator_sees_personal_data_officer_and_leader_see_it_masked(client, login, seeded):
    login("moderator")
    assert PHONE in client.get("/queue").get_data(as_text=True)
    client.post("/logout", data={"csrf_token": _token(client)})
    for role in ("officer", "leader"):
        login(role)
        page = client.get(f"/alerts/{seeded.alerts['red']}").get_data(as_text=True)
        assert "138****5678" in page, role
        assert PHONE not in page, role
        assert "李老师" not in page and "李**" in page  # the display name is personal data too
        client.post("/logout", data={"csrf_token": _token(client)})


def test_edited_post_waits_for_its_new_analysis_before_masked_viewers_see_it(client, login, store, seeded):
    """The old analysis's PII offsets describe the old text: using them would mask the wrong
    characters, so officers see a placeholder until the new version is analysed."""
    from core.domain import PIISpan, Post

    old = store.get_post(seeded.posts["privacy"])
    new_text = f"改一下：有事请打 {PHONE} 找我"
    edited = Post(channel=old.channel, source_id=old.source_id, author=old.author, text=new_text,
                  created_at=old.created_at)
    store.ingest("test", [edited], None)
    login("officer")
    page = client.get(f"/alerts/{seeded.alerts['red']}").get_data(as_text=True)
    assert PHONE not in page and "有事请打" not in page
    assert "正在重新分析" in page
    start = new_text.index(PHONE)
    store.save_analyses([(edited, make_analysis(new_text, pii=[PIISpan("phone", start, start + len(PHONE))],
                                                keywords=["有事", PHONE]))])
    page = client.get(f"/alerts/{seeded.alerts['red']}").get_data(as_text=True)
    assert "改一下：有事请打 138****5678 找我" in page
    assert PHONE not in page and "正在重新分析" not in page


def test_post_detail_for_an_unflagged_post(client, login, seeded):
    login("moderator")
    page = client.get(f"/posts/{seeded.posts['canteen']}").get_data(as_text=True)
    assert "食堂的饭菜最近改善了很多" in page and "未被规则标记" in page
    assert 'class="approve-form"' not in page
    assert client.get("/posts/99999").status_code == 404


def _token(client):
    return csrf_from(client, "/")


def test_a_rules_removal_is_on_the_removed_list_and_a_moderator_restores_it(client, login, post_form, store):
    text = "加薇信 kk886 兼职日结 宝妈可做"
    post = add_post(store, "auto1", "qq", text, 1, make_analysis(text, spam=0.99))
    store.commit_rule_results(RuleResults(
        flags=[Flag(post_id=post.id, rule="spam_autoremove", reason="垃圾广告，已自动删除", created_at=post.created_at)],
        removals=[(post.id, "spam_autoremove", ReasonCode.SPAM, post.created_at)]))
    login("moderator")
    assert f'id="post-{post.id}"' not in client.get("/queue").get_data(as_text=True)
    removed = client.get("/queue?status=removed").get_data(as_text=True)
    card = removed[removed.index(f'id="post-{post.id}"'):]
    assert "自动审核（规则 spam_autoremove）" in card[: card.index("</article>")]
    post_form(f"/queue/{post.id}/decide", {"action": "approve", "reason_code": "false_positive"}, page="/queue")
    assert store.queue_item(post.id).status is FlagStatus.APPROVED
