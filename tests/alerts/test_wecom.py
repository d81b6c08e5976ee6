"""`wecom_app` and `wecom_robot` against a local fake of the documented WeCom APIs
(tests/fakes/wecom_notify.py), alone and through the real Outbox with a real SQLite store."""
from __future__ import annotations

import re
from datetime import datetime, timezone
from typing import Any, Sequence

import pytest

from alerts import AlertMessage, DeliveryError, Notifier, Outbox, PostExcerpt
from alerts.base import Recipient, SendReport
from alerts.wecom import WeComAppNotifier, WeComRobotNotifier, fit_bytes, robot_key
from core.domain import Level
from core.errors import ConfigError
from tests.fakes.clock import Ticker
from tests.fakes.wecom_notify import FakeWeCom

DASHBOARD = "https://sentinel.example.edu.cn"
MESSAGE = AlertMessage(
    alert_id=12, rule="rumour_spread", level=Level.ORANGE, title="传言扩散：5 条、3 个渠道",
    body="同一说法已有 5 条。请尽快核实并回应。", created_at=datetime(2026, 3, 2, 6, 5, tzinfo=timezone.utc),  # 14:05
    posts=[PostExcerpt("qq", "听说下月公积金停缴，速转"), PostExcerpt("board", "联系 138****5678")],
)


@pytest.fixture
def ticker() -> Ticker:
    return Ticker()


@pytest.fixture
def fake(ticker):
    with FakeWeCom() as f:
        f.clock = ticker
        yield f


def app(fake: FakeWeCom, ticker: Ticker, **extra: Any) -> WeComAppNotifier:
    options = {"corp_id": fake.corp_id, "agent_id": fake.agent_id, "secret": fake.secret,
               "base_url": fake.url, "dashboard_url": DASHBOARD, "timeout": 5.0, **extra}
    return WeComAppNotifier("企业微信值班", clock=ticker, **options)


def robot(fake: FakeWeCom, ticker: Ticker, **extra: Any) -> WeComRobotNotifier:
    options = {"key": fake.robot_key, "base_url": fake.url, "timeout": 5.0, **extra}
    return WeComRobotNotifier("值班群机器人", clock=ticker, **options)


def ack(user: str, alert_id: int = 12) -> Recipient:
    return Recipient(user, user, f"{DASHBOARD}/ack/{alert_id}?u={user}&sig=abc123")


def message(alert_id: int, **changes: Any) -> AlertMessage:
    data = dict(MESSAGE.__dict__)
    data.update(alert_id=alert_id, **changes)
    return AlertMessage(**data)


# =========================================================================== wecom_app
def test_each_recipient_gets_a_textcard_with_their_own_ack_link(fake, ticker):
    notifier = WeComAppNotifier.from_config(
        {"name": "企业微信值班", "type": "wecom_app", "corp_id": fake.corp_id, "agent_id": fake.agent_id,
         "secret_env": "WECOM_SECRET", "base_url": fake.url, "dashboard_url": DASHBOARD},
        {"WECOM_SECRET": fake.secret}, config_file="sentinel.yaml")
    assert notifier.route == "wecom" and notifier.timezone == "Asia/Shanghai"
    assert notifier.send(MESSAGE, [ack("ZhangSan"), ack("lisi")]) is None

    (token_call,) = fake.calls("cgi-bin/gettoken")
    assert token_call.method == "GET"
    assert token_call.query == {"corpid": fake.corp_id, "corpsecret": fake.secret}
    sends = fake.calls("cgi-bin/message/send")
    assert [s.method for s in sends] == ["POST", "POST"]
    assert all(s.query["access_token"].startswith("ACCESS_TOKEN_") for s in sends)
    first = sends[0].body
    assert first["touser"] == "ZhangSan" and first["msgtype"] == "textcard"
    assert first["agentid"] == fake.agent_id and isinstance(first["agentid"], int)
    card = first["textcard"]
    assert card["title"] == "【橙色预警】传言扩散：5 条、3 个渠道"
    assert card["url"] == f"{DASHBOARD}/ack/12?u=ZhangSan&sig=abc123"
    assert card["btntxt"] == "认领确认" and len(card["btntxt"]) <= 4
    assert '<div class="gray">2026-03-02 14:05（Asia/Shanghai） · 预警 #12</div>' in card["description"]
    assert "橙色预警" in card["description"] and "同一说法已有 5 条。" in card["description"]
    assert '<div class="normal">1. [QQ群] 听说下月公积金停缴，速转</div>' in card["description"]
    assert len(card["description"].encode()) <= 512 and len(card["title"].encode()) <= 128
    assert sends[1].body["touser"] == "lisi"
    assert sends[1].body["textcard"]["url"].endswith("u=lisi&sig=abc123")
    assert b"\\u" not in sends[0].raw  # raw UTF-8: WeCom refuses \uXXXX (40033)
    assert [d.user for d in fake.inbox] == ["zhangsan", "lisi"]


def test_recipients_without_ack_links_share_one_message(fake, ticker):
    users = [Recipient("zhang", "ZhangSan"), Recipient("li", "lisi"), Recipient("li2", "LISI")]
    app(fake, ticker).send(MESSAGE, users)
    (send,) = fake.calls("cgi-bin/message/send")
    assert send.body["touser"] == "ZhangSan|lisi"  # the same user id (any case) once
    assert send.body["msgtype"] == "textcard" and send.body["textcard"]["url"] == f"{DASHBOARD}/alerts/12"
    app(fake, ticker, dashboard_url=None).send(message(13), users[:2])
    plain = fake.calls("cgi-bin/message/send")[-1].body
    assert plain["msgtype"] == "text" and "联系 138****5678" in plain["text"]["content"]
    assert "【橙色预警】传言扩散" in plain["text"]["content"] and len(plain["text"]["content"].encode()) <= 2048
    assert len(fake.inbox) == 4


def test_a_digest_keeps_its_lines_in_the_card(fake, ticker):
    digest = message(50, rule="digest", title="预警汇总：2 条", posts=[],
                     body="· 03-02 14:05 橙色 传言扩散\n· 03-02 15:10 黄色 <负面>情绪")
    app(fake, ticker).send(digest, [ack("lisi", 50)])
    (got,) = fake.received("lisi")
    assert got.content["title"] == "【橙色预警】预警汇总：2 条"
    assert '<div class="normal">· 03-02 14:05 橙色 传言扩散<br>· 03-02 15:10 黄色 &lt;负面&gt;情绪</div>' \
        in got.content["description"]


def test_two_alerts_with_the_same_texts_both_arrive_despite_the_duplicate_check(fake, ticker):
    notifier = app(fake, ticker, dashboard_url=None)
    for alert_id in (40, 41, 41):  # the third is a retry of the second: WeCom drops it
        notifier.send(message(alert_id), [Recipient("li", "lisi")])
    sends = fake.calls("cgi-bin/message/send")
    assert all(s.body["enable_duplicate_check"] == 1 for s in sends) and len(sends) == 3
    assert [("预警 #40" in d.content["content"], "预警 #41" in d.content["content"]) for d in fake.inbox] \
        == [(True, False), (False, True)]


def test_a_long_alert_is_cut_to_the_documented_sizes_without_breaking_the_markup(fake, ticker):
    long = message(14, title="超长标题" * 40, body="<b>正文</b>&" * 200,
                   posts=[PostExcerpt("weibo", "很长的摘录<>" * 100)] * 5)
    notifier = app(fake, ticker)
    card = notifier.body(long, ["lisi"], "https://x.example/ack")["textcard"]
    assert len(card["title"].encode()) <= 128 and card["title"].endswith("…")
    desc = card["description"]
    assert len(desc.encode()) <= 512
    assert desc.count("<div") == desc.count("</div>")
    assert "<b>" not in desc and "&lt;b&gt;" in desc  # texts escaped, only our own markup
    text = notifier.text(long, None)
    assert len(text.encode()) <= 2048
    assert fit_bytes("一二三", 7) == "一…" and fit_bytes("abc", 3) == "abc"


def test_the_token_is_cached_until_it_expires(fake, ticker):
    notifier = app(fake, ticker)
    for i in range(3):
        notifier.send(message(20 + i), [ack("lisi", 20 + i)])
    assert len(fake.calls("cgi-bin/gettoken")) == 1
    ticker.advance(7200 - 300)  # refreshed a margin before expires_in runs out
    notifier.send(message(30), [ack("lisi", 30)])
    assert len(fake.calls("cgi-bin/gettoken")) == 2
    assert len(fake.received("lisi")) == 4


@pytest.mark.parametrize("invalidate", ["expire_tokens", "revoke_tokens"])  # 42001, 40014
def test_a_token_the_platform_refuses_is_fetched_again_and_the_call_repeated_once(fake, ticker, invalidate):
    notifier = app(fake, ticker)
    notifier.send(message(1), [ack("lisi", 1)])
    getattr(fake, invalidate)()
    notifier.send(message(2), [ack("lisi", 2)])
    assert len(fake.calls("cgi-bin/gettoken")) == 2
    assert len(fake.calls("cgi-bin/message/send")) == 3  # the refused call, then once more
    assert len(fake.received("lisi")) == 2


def test_a_fresh_token_refused_too_is_a_delivery_error_without_secrets(fake, ticker):
    notifier = app(fake, ticker)
    fake.fail("cgi-bin/message/send", errcode=40014, times=2)
    with pytest.raises(DeliveryError) as err:
        notifier.send(MESSAGE, [ack("lisi")])
    assert err.value.code == 40014 and "access_token 也被企业微信拒绝" in str(err.value)
    assert len(fake.calls("cgi-bin/gettoken")) == 2 and len(fake.calls("cgi-bin/message/send")) == 2
    assert fake.secret not in str(err.value) and "ACCESS_TOKEN_" not in str(err.value)


def test_invaliduser_is_reported_with_the_addresses_as_given(fake, ticker):
    fake.hide_from_app("wangwu")
    report = app(fake, ticker).send(MESSAGE, [Recipient("zhang", "ZhangSan"), Recipient("wang", "WangWu"),
                                              Recipient("ghost", "nobody")])
    assert isinstance(report, SendReport)
    assert report.invalid == ["WangWu", "nobody"]
    assert "可见范围" in report.note and "WangWu" in report.note
    assert [d.user for d in fake.inbox] == ["zhangsan"]


def test_per_recipient_cards_report_the_unreachable_ones_like_one_batch_would(fake, ticker):
    fake.hide_from_app("wangwu")
    fake.unlicensed.add("lisi")
    report = app(fake, ticker).send(MESSAGE, [ack("ZhangSan"), ack("WangWu"), ack("lisi")])
    assert report is not None and report.invalid == ["WangWu", "lisi"] and "基础接口许可" in report.note
    assert [d.user for d in fake.inbox] == ["zhangsan"]


def test_malformed_user_ids_are_reported_not_sent(fake, ticker):
    report = app(fake, ticker).send(MESSAGE, [ack("lisi"), Recipient("x", "a|b"), Recipient("y", "   ")])
    assert report is not None and report.invalid == ["a|b"]
    assert [s.body["touser"] for s in fake.calls("cgi-bin/message/send")] == ["lisi"]


def test_when_nobody_can_be_reached_81013_is_reported_not_retried_forever(fake, ticker):
    fake.hide_from_app("wangwu")
    notifier = app(fake, ticker)
    report = notifier.send(MESSAGE, [ack("WangWu")])
    assert report.invalid == ["WangWu"] and "81013" in report.note and "可见范围" in report.note
    fake.apps[fake.agent_id].visible.add("wangwu")  # the admin fixes the visible range
    assert notifier.send(MESSAGE, [ack("WangWu")]) is None
    assert [d.user for d in fake.inbox] == ["wangwu"]


def test_a_failure_midway_is_retried_for_the_rest_only(fake, ticker):
    notifier = app(fake, ticker)
    fake.fail("cgi-bin/message/send", errcode=-1, after=1)  # ZhangSan's card goes out, lisi's fails
    with pytest.raises(DeliveryError) as err:
        notifier.send(MESSAGE, [ack("ZhangSan"), ack("lisi")])
    assert err.value.code == -1 and "已送达 1 人" in str(err.value)
    assert notifier.send(MESSAGE, [ack("ZhangSan"), ack("lisi")]) is None
    assert len(fake.received("zhangsan")) == 1 and len(fake.received("lisi")) == 1
    assert [s.body["touser"] for s in fake.calls("cgi-bin/message/send")] == ["ZhangSan", "lisi", "lisi"]


def test_the_per_member_limit_is_kept_before_calling_so_nothing_is_dropped(fake, ticker):
    notifier = app(fake, ticker)
    for i in range(30):
        notifier.send(message(100 + i), [ack("lisi", 100 + i)])
        ticker.advance(1)
    calls = len(fake.calls("cgi-bin/message/send"))
    with pytest.raises(DeliveryError) as err:
        notifier.send(message(200), [ack("lisi", 200), ack("ZhangSan", 200)])
    assert err.value.code == "rate_limit" and 0 < err.value.retry_after <= 31
    assert "每分钟最多给同一成员发 30 条" in str(err.value)
    assert len(fake.calls("cgi-bin/message/send")) == calls + 1  # only ZhangSan's card went out
    ticker.advance(err.value.retry_after)
    notifier.send(message(200), [ack("lisi", 200), ack("ZhangSan", 200)])
    assert len(fake.received("lisi")) == 31 and len(fake.received("zhangsan")) == 1
    assert fake.dropped == []


def test_the_hourly_per_member_limit_too(fake, ticker):
    notifier = app(fake, ticker)
    for _ in range(1000):  # 1000 messages to lisi, one every 2 s, the first 3000 s ago
        notifier._members.record("lisi")
        ticker.advance(2)
    ticker.advance(1000)
    with pytest.raises(DeliveryError) as err:
        notifier.send(MESSAGE, [ack("lisi")])
    assert err.value.retry_after == pytest.approx(600)
    assert fake.calls("cgi-bin/message/send") == []


@pytest.mark.parametrize("errcode, wait", [(45009, 60), (45033, 10)])
def test_platform_rate_limits_wait_and_stop_calling_meanwhile(fake, ticker, errcode, wait):
    notifier = app(fake, ticker)
    fake.fail("cgi-bin/message/send", errcode=errcode)
    with pytest.raises(DeliveryError) as err:
        notifier.send(MESSAGE, [ack("lisi")])
    assert err.value.retry_after == wait and err.value.code == errcode
    calls = len(fake.requests)
    ticker.advance(wait / 2)
    with pytest.raises(DeliveryError) as err:
        notifier.send(message(13), [ack("lisi", 13)])
    assert err.value.retry_after == pytest.approx(wait / 2) and len(fake.requests) == calls
    ticker.advance(wait / 2)
    notifier.send(message(13), [ack("lisi", 13)])
    assert len(fake.received("lisi")) == 1


@pytest.mark.parametrize("setup, options, code, words", [
    (lambda f: setattr(f, "ip_allowed", False), {}, 60020, ["企业可信IP", "127.0.0.1"]),
    (None, {"corp_id": "ww-other"}, 40013, ["corp_id 不正确"]),
    (None, {"secret": "app-secret-rotated"}, 40001, ["Secret 不正确", "secret_env"]),
    (lambda f: f.fail("cgi-bin/message/send", errcode=48002), {}, 48002, ["无权调用"]),
    (lambda f: f.fail("cgi-bin/message/send", errcode=-1), {}, -1, ["系统繁忙"]),
])
def test_platform_errors_say_what_to_do(fake, ticker, setup, options, code, words):
    if setup:
        setup(fake)
    with pytest.raises(DeliveryError) as err:
        app(fake, ticker, **options).send(MESSAGE, [ack("lisi")])
    assert err.value.code == code and f"errcode {code}" in str(err.value)
    for word in words:
        assert word in str(err.value)
    assert fake.secret not in str(err.value) and "app-secret" not in str(err.value)
    assert "hint:" not in str(err.value)


def test_a_wrong_agent_id_is_named(fake, ticker):
    with pytest.raises(DeliveryError, match="agent_id 不正确") as err:
        app(fake, ticker, agent_id=1000099).send(MESSAGE, [ack("lisi")])
    assert err.value.code == 40056


@pytest.mark.parametrize("status", [500, 503])
def test_http_errors_and_garbage_are_delivery_errors(fake, ticker, status):
    notifier = app(fake, ticker)
    fake.fail("cgi-bin/message/send", status=status, headers={"Retry-After": "7"})
    with pytest.raises(DeliveryError, match=f"HTTP {status}") as err:
        notifier.send(MESSAGE, [ack("lisi")])
    assert err.value.retry_after == 7
    notifier.send(MESSAGE, [ack("lisi")])  # transient: the next attempt goes through
    assert len(fake.received("lisi")) == 1


def test_no_server_is_a_delivery_error_without_the_secret(closed_port, ticker):
    notifier = WeComAppNotifier("x", "ww1", 1000002, "s3cr3t-value", base_url=f"http://127.0.0.1:{closed_port}",
                                timeout=2, clock=ticker)
    with pytest.raises(DeliveryError, match="无法连接企业微信") as err:
        notifier.send(MESSAGE, [ack("lisi")])
    assert "s3cr3t-value" not in str(err.value) and "corpsecret" not in str(err.value)
    assert err.value.__cause__ is None and (err.value.__context__ is None or err.value.__suppress_context__)


def test_without_recipients_nothing_is_sent_and_it_says_why(fake, ticker):
    with pytest.raises(DeliveryError, match="没有收件人"):
        app(fake, ticker).send(MESSAGE, [])
    assert fake.requests == []


# =========================================================================== wecom_robot
def test_robot_posts_markdown_with_the_key_in_the_query(fake, ticker):
    notifier = WeComRobotNotifier.from_config(
        {"name": "值班群机器人", "type": "wecom_robot", "key_env": "ROBOT_KEY", "base_url": fake.url,
         "dashboard_url": DASHBOARD}, {"ROBOT_KEY": fake.robot_key}, config_file="sentinel.yaml")
    assert notifier.route is None
    assert notifier.send(MESSAGE) is None
    (call,) = fake.calls("cgi-bin/webhook/send")
    assert call.method == "POST" and call.query == {"key": fake.robot_key}
    assert b"\\u" not in call.raw
    (sent,) = fake.group()
    assert sent["msgtype"] == "markdown"
    content = sent["markdown"]["content"]
    assert content.startswith("## 【橙色预警】传言扩散：5 条、3 个渠道\n")
    assert '> 级别：<font color="warning">橙色预警</font>' in content
    assert "> 时间：2026-03-02 14:05（Asia/Shanghai）" in content and "> 规则：rumour_spread" in content
    assert "1. [QQ群] 听说下月公积金停缴，速转" in content and "2. [建言献策] 联系 138****5678" in content
    assert content.endswith(f"[在看板中查看和处理]({DASHBOARD}/alerts/12)")


def test_robot_text_messages_and_a_whole_webhook_url_as_the_key(fake, ticker):
    url = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={fake.robot_key}"
    notifier = WeComRobotNotifier.from_config(
        {"name": "群", "type": "wecom_robot", "key_env": "K", "base_url": fake.url, "msgtype": "text"},
        {"K": url})
    assert notifier.key == fake.robot_key
    notifier.send(MESSAGE)
    (sent,) = fake.group()
    assert sent["msgtype"] == "text" and "mentioned_list" not in sent["text"]
    assert sent["text"]["content"].startswith("【橙色预警】传言扩散") and "联系 138****5678" in sent["text"]["content"]
    assert robot_key(" abc-123 ") == "abc-123" and robot_key("https://x/send?nokey=1") == ""


def test_robot_messages_cannot_mention_or_link_from_post_texts(fake, ticker):
    hostile = message(5, body="<@all> 看这里", posts=[PostExcerpt("qq", "<@all> [点我](http://evil.example)\n# 标题")])
    for msgtype in ("markdown", "text"):
        robot(fake, ticker, msgtype=msgtype).send(hostile)
    markdown, text = (sent[sent["msgtype"]]["content"] for sent in fake.group())
    for content in (markdown, text):
        assert "<@" not in content and "＜@all＞" in content and "\n# 标题" not in content
    assert "](http://evil" not in markdown  # no link markup from a post (text messages have none)


def test_robot_long_messages_fit_the_documented_sizes(fake, ticker):
    long = message(6, body="很长的正文。" * 400, posts=[PostExcerpt("weibo", "摘录" * 60)] * 5)
    for msgtype, limit in (("markdown", 4096), ("text", 2048)):
        robot(fake, ticker, msgtype=msgtype, dashboard_url=DASHBOARD).send(long)
        content = fake.group()[-1][msgtype]["content"]
        assert len(content.encode()) <= limit and content.endswith("/alerts/6)" if msgtype == "markdown" else "/alerts/6")


def test_robot_keeps_to_20_messages_a_minute_without_calling(fake, ticker):
    notifier = robot(fake, ticker)
    for i in range(20):
        notifier.send(message(i))
        ticker.advance(2)
    with pytest.raises(DeliveryError) as err:
        notifier.send(message(20))
    assert err.value.code == "rate_limit" and err.value.retry_after == pytest.approx(20)
    assert "每分钟最多发送 20 条" in str(err.value)
    assert len(fake.calls("cgi-bin/webhook/send")) == 20
    ticker.advance(20)
    notifier.send(message(20))
    assert len(fake.group()) == 21


def test_robot_45009_waits_a_minute(fake, ticker):
    notifier = robot(fake, ticker)
    fake.fail("cgi-bin/webhook/send", errcode=45009)
    with pytest.raises(DeliveryError) as err:
        notifier.send(MESSAGE)
    assert err.value.retry_after == 60 and err.value.code == 45009
    with pytest.raises(DeliveryError):
        notifier.send(MESSAGE)
    assert len(fake.requests) == 1
    ticker.advance(60)
    notifier.send(MESSAGE)
    assert len(fake.group()) == 1


def test_robot_wrong_key_is_a_clear_error_without_the_key(fake, ticker):
    with pytest.raises(DeliveryError) as err:
        robot(fake, ticker, key="wrong-key-123").send(MESSAGE)
    assert err.value.code == 93000 and "key_env" in str(err.value) and "wrong-key-123" not in str(err.value)


def test_robot_transport_failures_hide_the_key(fake, ticker, closed_port):
    fake.fail("cgi-bin/webhook/send", status=500)
    with pytest.raises(DeliveryError, match="HTTP 500"):
        robot(fake, ticker).send(MESSAGE)
    notifier = WeComRobotNotifier("群", "secret-robot-key", base_url=f"http://127.0.0.1:{closed_port}", timeout=2,
                                  clock=ticker)
    with pytest.raises(DeliveryError, match="无法连接企业微信") as err:
        notifier.send(MESSAGE)
    assert "secret-robot-key" not in str(err.value)


# =========================================================================== through the outbox
class Routed(Notifier):
    """Hands fixed recipients to a personal notifier (the outbox does not pass recipients yet)."""

    type_name = "routed"
    title_zh = "测试用：固定收件人"
    options_schema = {"type": "object"}

    def __init__(self, inner: Notifier, users: Sequence[str], with_links: bool = True) -> None:
        super().__init__(inner.name)
        self.inner, self.users, self.with_links = inner, list(users), with_links
        self.reports: list[SendReport | None] = []

    @classmethod
    def create(cls, cfg, secrets):  # pragma: no cover - never configured
        raise NotImplementedError

    def send(self, message, recipients=()):
        people = [ack(u, message.alert_id) if self.with_links else Recipient(u, u) for u in self.users]
        report = self.inner.send(message, people)
        self.reports.append(report)
        return report


def state(store, alert_id, notifier):
    return next(d for d in store.deliveries(alert_id) if d.notifier == notifier)


def test_outage_then_each_alert_reaches_the_group_and_each_person_exactly_once(
        store, make_alert, clock, fake, ticker):
    group = robot(fake, ticker, dashboard_url=DASHBOARD)
    personal = Routed(app(fake, ticker), ["ZhangSan", "lisi"])
    outbox = Outbox(store, {"值班群机器人": group, "企业微信值班": personal}, clock=clock)
    alerts = [make_alert(["值班群机器人", "企业微信值班"]) for _ in range(2)]
    fake.stop()  # the platform is down
    report = outbox.deliver_due()
    assert (report.sent, report.failed) == (0, 4)
    for a in alerts:
        for name in ("值班群机器人", "企业微信值班"):
            d = state(store, a.id, name)
            assert d.state.value == "failing" and "无法连接企业微信" in d.last_error
            assert fake.secret not in d.last_error and fake.robot_key not in d.last_error
    clock.advance(minutes=5)
    assert outbox.deliver_due().failed == 4  # still down
    fake.start()  # back, same address
    clock.advance(minutes=5)
    report = outbox.deliver_due()
    assert (report.sent, report.failed) == (4, 0)
    clock.advance(hours=3)
    assert outbox.deliver_due().sent == 0
    assert len(fake.group()) == 2
    assert len(fake.received("zhangsan")) == 2 and len(fake.received("lisi")) == 2
    assert sorted(int(re.search(r"/alerts/(\d+)", g["markdown"]["content"]).group(1)) for g in fake.group()) \
        == sorted(a.id for a in alerts)


def test_after_a_rate_limit_answer_an_early_retry_does_not_reach_the_platform(store, make_alert, clock, fake, ticker):
    outbox = Outbox(store, {"值班群机器人": robot(fake, ticker)}, clock=clock)
    alert = make_alert(["值班群机器人"])
    fake.fail("cgi-bin/webhook/send", errcode=45009)
    assert outbox.deliver_due().failed == 1
    assert "45009" in state(store, alert.id, "值班群机器人").last_error
    clock.advance(minutes=2)  # the outbox's backoff may be shorter than what WeCom asked for
    ticker.advance(30)
    assert outbox.deliver_due().failed == 1
    assert len(fake.calls("cgi-bin/webhook/send")) == 1 and "还需等待约 30 秒" in state(store, alert.id, "值班群机器人").last_error
    ticker.advance(31)
    clock.advance(minutes=2)
    assert outbox.deliver_due().sent == 1
    assert len(fake.group()) == 1


def test_messages_carry_no_personal_data_nor_author_names(store, make_alert, clock, fake, ticker):
    make_alert(["值班群机器人", "企业微信值班"])
    personal = Routed(app(fake, ticker), ["lisi", "ZhangSan"], with_links=False)
    outbox = Outbox(store, {"值班群机器人": robot(fake, ticker), "企业微信值班": personal}, clock=clock)
    assert outbox.deliver_due().sent == 2
    bodies = [r.raw.decode("utf-8") for r in fake.requests if r.raw]
    assert len(bodies) == 2  # the group; lisi and ZhangSan share one card
    for body in bodies:
        assert "13812345678" not in body and "110101199003071234" not in body and "王某某" not in body
        assert "138****5678" in body and "1101**********1234" in body


def test_a_partly_delivered_alert_is_completed_by_the_outbox_without_duplicates(
        store, make_alert, clock, fake, ticker):
    personal = Routed(app(fake, ticker), ["ZhangSan", "lisi"])
    outbox = Outbox(store, {"企业微信值班": personal}, clock=clock)
    alert = make_alert(["企业微信值班"])
    fake.hide_from_app("lisi")
    fake.fail("cgi-bin/message/send", errcode=-1, after=1)
    assert outbox.deliver_due().failed == 1
    assert "已送达 1 人" in state(store, alert.id, "企业微信值班").last_error
    clock.advance(minutes=5)
    assert outbox.deliver_due().sent == 1
    assert len(fake.received("zhangsan")) == 1 and fake.received("lisi") == []
    assert personal.reports[-1] is not None and personal.reports[-1].invalid == ["lisi"]


# =========================================================================== configuration
APP_CFG = {"name": "企业微信值班", "type": "wecom_app", "corp_id": "ww0123", "agent_id": 1000002,
           "secret_env": "WECOM_SECRET"}
ROBOT_CFG = {"name": "值班群机器人", "type": "wecom_robot", "key_env": "ROBOT_KEY"}
ENV = {"WECOM_SECRET": "the-secret", "ROBOT_KEY": "the-key"}


@pytest.mark.parametrize("cls, cfg, expected", [
    (WeComAppNotifier, {k: v for k, v in APP_CFG.items() if k != "corp_id"}, ["缺少必填项 corp_id"]),
    (WeComAppNotifier, {**APP_CFG, "agent_id": "1000002"}, [".agent_id", "类型应为 integer"]),
    (WeComAppNotifier, {**APP_CFG, "secret": "inline"}, [".secret", "secret_env"]),
    (WeComAppNotifier, {**APP_CFG, "secret_env": "UNSET_VAR"}, [".secret_env", "UNSET_VAR", "未设置"]),
    (WeComAppNotifier, {**APP_CFG, "base_url": "qyapi.weixin.qq.com"}, [".base_url", "格式不对"]),
    (WeComAppNotifier, {**APP_CFG, "timezone": "Mars/Olympus"}, [".timezone", "Asia/Shanghai"]),
    (WeComAppNotifier, {**APP_CFG, "touser": "a"}, ["touser", "可用字段"]),
    (WeComRobotNotifier, {**ROBOT_CFG, "key": "inline"}, [".key", "key_env"]),
    (WeComRobotNotifier, {**ROBOT_CFG, "msgtype": "news"}, [".msgtype", "markdown"]),
    (WeComRobotNotifier, {**ROBOT_CFG, "key_env": "BAD_KEY"}, [".key_env", "BAD_KEY", "key="]),
    (WeComRobotNotifier, {**ROBOT_CFG, "timeout": 0}, [".timeout", "超出范围"]),
])
def test_config_errors_name_the_file_and_field(cls, cfg, expected):
    with pytest.raises(ConfigError) as err:
        cls.from_config(cfg, {**ENV, "BAD_KEY": "has spaces in it"}, config_file="/etc/sentinel.yaml",
                        where=f"notifiers[0]（{cfg['name']}）")
    text = str(err.value)
    assert "/etc/sentinel.yaml" in text and f"notifiers[0]（{cfg['name']}）" in text
    for part in expected:
        assert part in text, f"{part!r} not in {text!r}"
    assert "the-secret" not in text and "the-key" not in text and "has spaces" not in text


def test_schemas_are_valid_and_defaults_apply():
    import jsonschema

    for cls in (WeComAppNotifier, WeComRobotNotifier):
        jsonschema.Draft202012Validator.check_schema(cls.options_schema)
    a = WeComAppNotifier.from_config(APP_CFG, ENV)
    assert (a.base_url, a.timeout, a.secret, a.agent_id) == ("https://qyapi.weixin.qq.com", 10.0, "the-secret", 1000002)
    r = WeComRobotNotifier.from_config(ROBOT_CFG, ENV)
    assert (r.base_url, r.msgtype, r.key) == ("https://qyapi.weixin.qq.com", "markdown", "the-key")
    assert "the-secret" not in a.describe() and "the-key" not in r.describe()
