"""The shipped rules/default.yaml on a realistic mix of posts (scores as nlp/ would give them)."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.domain import FlagStatus, Reason
from rules import RuleEngine

DEFAULT = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"


@pytest.fixture
def run(store):
    def go() -> None:
        engine = RuleEngine.from_file(DEFAULT, ["审核组邮件"])
        while engine.process(store, 50):
            pass

    return go


def reasons(store, post):
    item = store.queue_item(post.id)
    return [f.reason for f in item.flags] if item else []


def test_single_post_rules(store, feed, run):
    ad = feed.add("兼职刷单，日结三百，加微信 abc123", spam=0.92,
                  reasons=[Reason("spam", "ad_lexicon", "命中广告词：兼职、刷单")])
    phone = feed.add("张老师的电话是 13812345678，有事找她", minutes=1, pii=[("phone", "13812345678")])
    rumour = feed.add("听说下学期取消寒假补贴，内部消息", minutes=2, rumour=0.9,
                      reasons=[Reason("rumour", "hearsay", "含传闻用语：听说、内部消息")])
    abuse = feed.add("这种垃圾领导赶紧滚蛋", minutes=3, sentiment="neg", polarity=-0.9)
    complaint = feed.add("食堂越来越贵，希望工会反映一下", minutes=4, sentiment="neg", polarity=-0.6)
    praise = feed.add("工会组织的春游很开心，谢谢", minutes=5, sentiment="pos", polarity=0.9)
    run()
    assert reasons(store, ad) == ["疑似垃圾广告（垃圾分 0.92）：命中广告词：兼职、刷单"]
    assert reasons(store, phone) == ["疑似泄露个人信息：手机号"]
    assert reasons(store, rumour) == ["疑似谣言（谣言分 0.90）：含传闻用语：听说、内部消息"]
    assert len(reasons(store, abuse)) == 1 and reasons(store, abuse)[0].startswith("疑似辱骂攻击")
    assert reasons(store, complaint) == [] and reasons(store, praise) == []  # criticism is not flagged
    assert store.alerts() == []


def test_negative_surge_after_a_pay_notice(store, feed, run):
    for i in range(35):
        feed.add(f"绩效改革方案太不合理了，实际到手又少了（{i}）", minutes=i * 1.5,
                 channel=["weibo", "qq", "wechat"][i % 3], sentiment="neg", polarity=-0.7, topic="薪酬")
    run()
    alerts = {a.rule: a for a in store.alerts()}
    # 35 < 80: no red alert; on day one the topic spike works already (its floor stands in for the week)
    assert set(alerts) == {"negative_surge", "topic_negative_surge", "topic_negative_spike"}
    assert alerts["negative_surge"].level.value == "orange"
    assert "30 条负面评论" in alerts["negative_surge"].title
    assert "薪酬" in alerts["negative_surge"].body and "微博" in alerts["negative_surge"].body
    assert alerts["topic_negative_surge"].title.startswith("话题“薪酬”")
    assert [d.notifier for d in store.deliveries(alerts["negative_surge"].id)] == ["审核组邮件"]


def test_spam_flood_and_rumour_spread_become_cases(store, feed, run):
    for i in range(8):
        feed.add(f"薇信扫码领补贴{i}", minutes=i * 5, author=f"bot{i % 2}", spam=0.6, cluster="flood1")
    channels = ["wechat", "weibo", "qq", "board", "weibo"]
    for i, channel in enumerate(channels):
        feed.add(f"紧急通知：下月起公积金停缴，速转！{i}", minutes=60 + i * 20, channel=channel,
                 author=f"t{i}", rumour=0.7, cluster=f"copy{i}", claim="rumour1")  # paraphrases: one claim
    run()
    cases = {c.kind.value: c for c in store.cases()}
    assert cases["flood"].key == "flood1" and len(cases["flood"].post_ids) == 8
    assert cases["rumour"].key == "rumour1" and len(cases["rumour"].post_ids) == 5
    levels = {a.rule: a.level.value for a in store.alerts()}
    # the rumour is told early (yellow, at the third post) and again when it spreads (orange): one case
    assert levels == {"spam_flood": "yellow", "rumour_emerging": "yellow", "rumour_spread": "orange"}
    emerging = next(a for a in store.alerts() if a.rule == "rumour_emerging")
    assert emerging.case_id == cases["rumour"].id and len(emerging.post_ids) == 3
    rumour_alert = next(a for a in store.alerts() if a.rule == "rumour_spread")
    assert rumour_alert.case_id == cases["rumour"].id


@pytest.mark.parametrize("kind, value", [("id_card", "110105195204308679"), ("bank_card", "6217 0079 3811 4296")])
def test_a_sure_advert_holding_an_id_or_card_number_goes_to_a_person(store, feed, run, kind, value):
    """Phishing asks for these numbers; a post that gives one is mostly a member's own data pasted in a
    request for help. However high its spam score, it is queued (spam and leak reasons), not removed."""
    text = f"公积金提取要本人身份证号和银行卡，我妈的材料直接贴这了，麻烦财务处看一下：{value}"
    leak = feed.add(text, spam=0.99, pii=[(kind, value)])
    ad = feed.add("兼职刷单日结，加薇信 kk123，电话 13812345678", minutes=1, spam=0.99,
                  pii=[("phone", "13812345678")])
    run()
    item = store.queue_item(leak.id)
    assert item.status is FlagStatus.PENDING
    assert sorted(f.rule for f in item.flags) == ["pii_leak", "spam_post"]
    assert store.queue_item(ad.id).status is FlagStatus.REMOVED  # a phone number alone does not hold it back
