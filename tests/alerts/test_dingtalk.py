"""`dingtalk_robot` and `dingtalk_notice` against a local fake of the documented DingTalk APIs
(tests/fakes/dingtalk_notify.py), and through the real outbox with a real SQLite store."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from datetime import datetime, timezone
from typing import Any, Sequence
from urllib.parse import parse_qs, quote_plus

import pytest

from alerts import AlertMessage, DeliveryError, Notifier, Outbox, PostExcerpt
from alerts.base import Recipient, SendReport
from alerts.dingtalk import DingTalkNoticeNotifier, DingTalkRobotNotifier, robot_sign
from core.domain import Level
from core.errors import ConfigError
from tests.fakes.dingtalk_notify import FakeDingTalk

TOKEN = "3c5f1e0d9b8a7f6e5d4c3b2a1908f7e6d5c4b3a29180f7e6d5c4b3a291807f6e"
SECRET = "SEC5a3ecf88f2b3eb50db30ecfc00f53033ac909c99bf7f88fd612bda89d7f3a9dc"
MESSAGE = AlertMessage(
    alert_id=12, rule="rumour_spread", level=Level.ORANGE, title="传言扩散：5 条、3 个渠道",
    body="同一说法已有 5 条。", created_at=datetime(2026, 3, 2, 6, 5, tzinfo=timezone.utc),
    posts=[PostExcerpt("qq", "听说下月公积金停缴，速转"), PostExcerpt("board", "联系 138****5678")], case_id=4,
)
DASHBOARD = "https://sentinel.example.edu.cn"


class Clock:
    """A monotonic clock moved by hand (rate-limit windows, token lifetimes)."""

    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture
def fake():
    with FakeDingTalk() as f:
        yield f


def robot(fake: FakeDingTalk, **kw: Any) -> DingTalkRobotNotifier:
    kw.setdefault("secret", SECRET)
    return DingTalkRobotNotifier("值班群钉钉", TOKEN, base_url=fake.url, **kw)


def notice(fake: FakeDingTalk, **kw: Any) -> DingTalkNoticeNotifier:
    return DingTalkNoticeNotifier("钉钉工作通知", fake.app_key, fake.app_secret, fake.agent_id, base_url=fake.url, **kw)


def people(*names: str, link: bool = True) -> list[Recipient]:
    return [Recipient(n, n, f"{DASHBOARD}/ack/12?u={n}&sig=abc{n}" if link else None) for n in names]


def assert_no_secret(text: str, *secrets: str) -> None:
    for s in (TOKEN, SECRET, *secrets):
        assert s not in text and quote_plus(s) not in text


# ============================================================================ robot: the documented request
def test_robot_posts_signed_markdown_as_documented(fake):
    group = fake.add_robot(TOKEN, secret=SECRET)
    before = int(datetime.now().timestamp() * 1000)
    assert robot(fake, dashboard_url=DASHBOARD).send(MESSAGE, people("zhangsan")) is None
    (seen,) = fake.calls("robot/send")
    assert seen.method == "POST" and seen.headers["Content-Type"].startswith("application/json")
    assert seen.query["access_token"] == TOKEN
    timestamp = seen.query["timestamp"]
    assert re.fullmatch(r"\d{13}", timestamp) and abs(int(timestamp) - before) < 60_000  # milliseconds
    # sign = urlEncode(Base64(HmacSHA256(secret, timestamp + "\n" + secret))), computed independently here
    expected = base64.b64encode(hmac.new(SECRET.encode(), f"{timestamp}\n{SECRET}".encode(),
                                         hashlib.sha256).digest()).decode()
    assert parse_qs(seen.raw_query)["sign"] == [expected]
    raw_sign = re.search(r"(?:^|&)sign=([^&]*)", seen.raw_query).group(1)
    assert raw_sign == quote_plus(expected) and not set("+/=") & set(raw_sign)  # URL-encoded once
    (body,) = group.received
    assert body["msgtype"] == "markdown" and body["markdown"]["title"] == "【橙色预警】传言扩散：5 条、3 个渠道"
    text = body["markdown"]["text"]
    for part in ("橙色预警", "14:05", "rumour_spread", "同一说法已有 5 条。", "[QQ群] 听说下月公积金停缴，速转",
                 "[建言献策] 联系 138****5678", f"{DASHBOARD}/alerts/12", "预警 #12"):
        assert part in text, part
    assert "/ack/" not in json.dumps(body, ensure_ascii=False)  # a group never gets an acknowledgement link


def test_robot_sign_matches_the_documented_algorithm():
    # the documentation's Python sample: quote_plus(base64(hmac_sha256(secret, f"{ts}\n{secret}")))
    ts, secret = 1577262236757, "this is secret"
    digest = hmac.new(secret.encode("utf-8"), f"{ts}\n{secret}".encode("utf-8"), digestmod=hashlib.sha256).digest()
    assert robot_sign(secret, ts) == base64.b64encode(digest).decode()
    n = DingTalkRobotNotifier("r", "tok", secret, now_ms=lambda: ts)
    sign = quote_plus(robot_sign(secret, ts))
    assert n.url() == f"https://oapi.dingtalk.com/robot/send?access_token=tok&timestamp={ts}&sign={sign}"


def test_robot_without_a_secret_sends_no_signature_and_keyword_is_added(fake):
    group = fake.add_robot(TOKEN, keywords=["告警"])
    with pytest.raises(DeliveryError, match="关键词") as err:
        robot(fake, secret=None).send(MESSAGE)
    assert err.value.code == 310000 and "keyword" in str(err.value)
    robot(fake, secret=None, keyword="告警").send(MESSAGE)
    seen = fake.calls("robot/send")[-1]
    assert set(seen.query) == {"access_token"}
    assert "告警" in group.received[0]["markdown"]["text"]


def test_full_webhook_address_in_the_environment_is_accepted(fake):
    group = fake.add_robot(TOKEN, secret=SECRET)
    built = DingTalkRobotNotifier.from_config(
        {"name": "群", "type": "dingtalk_robot", "access_token_env": "DT_TOKEN", "secret_env": "DT_SECRET",
         "base_url": fake.url}, {"DT_TOKEN": f"https://oapi.dingtalk.com/robot/send?access_token={TOKEN}",
                                 "DT_SECRET": SECRET})
    built.send(MESSAGE)
    assert len(group.received) == 1


# ============================================================================ robot: errors
@pytest.mark.parametrize("chinese", [False, True])
def test_robot_security_refusals_say_which_setting_to_check(chinese):
    with FakeDingTalk(chinese_errmsg=chinese) as fake:
        fake.add_robot(TOKEN, secret=SECRET)
        with pytest.raises(DeliveryError, match="加签不匹配.*secret_env") as err:
            robot(fake, secret="SECwrong-secret-0000").send(MESSAGE)
        assert err.value.code == 310000
        assert_no_secret(str(err.value), "SECwrong-secret-0000")
        with pytest.raises(DeliveryError, match="时间戳无效.*校准系统时间"):
            robot(fake, now_ms=lambda: int(datetime.now().timestamp() * 1000) - 2 * 3600 * 1000).send(MESSAGE)
        fake.add_robot("ip-robot-token", ips=["10.0.0.8"])
        with pytest.raises(DeliveryError, match="IP 地址（段）白名单"):
            DingTalkRobotNotifier("r", "ip-robot-token", base_url=fake.url).send(MESSAGE)
    assert not any(r.received for r in fake.robots.values())


@pytest.mark.parametrize("new_codes, code", [(False, 300001), (True, 400101)])
def test_robot_unknown_token_names_the_option(new_codes, code):
    with FakeDingTalk(new_codes=new_codes) as fake:
        with pytest.raises(DeliveryError, match="access_token_env") as err:
            robot(fake).send(MESSAGE)
    assert err.value.code == code and err.value.retry_after is None
    assert_no_secret(str(err.value))


def test_robot_enforces_20_per_minute_client_side_without_calling(fake):
    group = fake.add_robot(TOKEN, secret=SECRET)
    clock = Clock()
    fake.clock = clock
    n = robot(fake, clock=clock)
    for _ in range(20):
        n.send(MESSAGE)
        clock.advance(1)
    with pytest.raises(DeliveryError, match="每分钟最多发送 20 条") as err:
        n.send(MESSAGE)
    assert 40 <= err.value.retry_after <= 41  # the first send leaves the window 60 s after it was made
    assert len(fake.calls("robot/send")) == 20 and len(group.received) == 20
    clock.advance(41)
    n.send(MESSAGE)
    assert len(group.received) == 21


@pytest.mark.parametrize("new_codes, code", [(False, 130101), (True, 410100)])
def test_robot_platform_rate_limit_waits_the_documented_ten_minutes(new_codes, code):
    with FakeDingTalk(new_codes=new_codes) as fake:
        fake.add_robot(TOKEN, secret=SECRET)
        clock = Clock()
        n = robot(fake, clock=clock)
        fake.fail("robot/send", errcode=code)
        with pytest.raises(DeliveryError, match="限流") as err:
            n.send(MESSAGE)
        assert err.value.retry_after == 600 and err.value.code == code
        clock.advance(120)
        with pytest.raises(DeliveryError) as again:  # still within the throttle: not even tried
            n.send(MESSAGE)
        assert 470 <= again.value.retry_after <= 480 and len(fake.calls("robot/send")) == 1
        clock.advance(481)
        n.send(MESSAGE)


def test_robot_http_errors_and_errcodes_over_http_200(fake):
    fake.add_robot(TOKEN, secret=SECRET)
    n = robot(fake)
    fake.fail("robot/send", status=500)
    with pytest.raises(DeliveryError, match="HTTP 500"):
        n.send(MESSAGE)
    fake.fail("robot/send", status=503, headers={"Retry-After": "120"})
    with pytest.raises(DeliveryError, match="HTTP 503") as err:
        n.send(MESSAGE)
    assert err.value.retry_after == 120
    fake.fail("robot/send", errcode=-1)
    with pytest.raises(DeliveryError, match="系统繁忙"):
        n.send(MESSAGE)
    fake.fail("robot/send", errcode=400102)
    with pytest.raises(DeliveryError, match="机器人已停用"):
        n.send(MESSAGE)
    n.send(MESSAGE)
    assert len(fake.robots[TOKEN].received) == 1


def test_robot_platform_down_is_a_delivery_error_without_secrets(closed_port):
    n = DingTalkRobotNotifier("r", TOKEN, SECRET, base_url=f"http://127.0.0.1:{closed_port}", timeout=5)
    for _ in range(25):  # requests that never reached DingTalk do not count against its limit
        with pytest.raises(DeliveryError, match="无法连接") as err:
            n.send(MESSAGE)
        assert err.value.retry_after is None
        assert_no_secret(str(err.value))


# ============================================================================ notice: the documented flow
def test_notice_gets_a_token_then_sends_an_action_card_with_each_ack_link(fake):
    n = notice(fake)
    recipients = people("zhangsan", "lisi")
    assert n.send(MESSAGE, recipients) is None
    (token_call,) = fake.calls("gettoken")
    assert token_call.method == "GET"
    assert token_call.query == {"appkey": fake.app_key, "appsecret": fake.app_secret}
    sends = fake.calls("topapi/message/corpconversation/asyncsend_v2")
    assert len(sends) == 2  # each person's ack link is their own: one request per link
    for seen, who in zip(sends, ("zhangsan", "lisi")):
        assert seen.method == "POST" and seen.query["access_token"] == fake.current_token
        assert seen.body["agent_id"] == fake.agent_id and isinstance(seen.body["agent_id"], int)
        assert seen.body["userid_list"] == who
        msg = seen.body["msg"]
        assert msg["msgtype"] == "action_card"
        card = msg["action_card"]
        assert card["title"] == MESSAGE.subject and card["single_url"] == f"{DASHBOARD}/ack/12?u={who}&sig=abc{who}"
        assert card["single_title"] and "[建言献策] 联系 138****5678" in card["markdown"]
        assert "预警 #12" in card["markdown"]  # unique per alert: DingTalk drops identical content within a day
        assert fake.inbox[who] == [msg]
    results = fake.calls("topapi/message/corpconversation/getsendresult")
    assert [r.body for r in results] == [{"agent_id": fake.agent_id, "task_id": t.task_id}
                                         for t in fake.tasks.values()]


def test_notice_shares_one_request_when_links_are_the_same_and_falls_back_to_markdown(fake):
    n = notice(fake, dashboard_url=DASHBOARD)
    n.send(MESSAGE, people("zhangsan", "lisi", link=False))
    (seen,) = fake.calls("topapi/message/corpconversation/asyncsend_v2")
    assert seen.body["userid_list"] == "zhangsan,lisi"
    assert seen.body["msg"]["action_card"]["single_url"] == f"{DASHBOARD}/alerts/12"
    notice(fake, check_result=False).send(MESSAGE, people("wangwu", link=False))
    last = fake.calls("topapi/message/corpconversation/asyncsend_v2")[-1].body["msg"]
    assert last["msgtype"] == "markdown" and last["markdown"]["title"] == MESSAGE.subject
    assert len(fake.calls("topapi/message/corpconversation/getsendresult")) == 1  # check_result: false


def test_notice_reports_invalid_users(fake):
    report = notice(fake).send(MESSAGE, people("zhangsan", "nobody", link=False))
    assert isinstance(report, SendReport)
    assert report.invalid == ["nobody"] and "nobody" in report.note
    assert fake.inbox["zhangsan"] and "nobody" not in fake.inbox


def test_notice_caches_the_token_and_refreshes_it_when_the_platform_says_so(fake):
    clock = Clock()
    fake.clock = clock
    n = notice(fake, clock=clock, check_result=False)
    n.send(MESSAGE, people("zhangsan"))
    n.send(MESSAGE, people("lisi"))
    assert len(fake.calls("gettoken")) == 1
    fake.expire_tokens()  # the platform says 88 / sub_code 40014 from now on for the old token
    n.send(MESSAGE, people("wangwu"))
    assert len(fake.calls("gettoken")) == 2
    sends = fake.calls("topapi/message/corpconversation/asyncsend_v2")
    assert len(sends) == 4 and sends[2].query["access_token"] != sends[3].query["access_token"]
    assert fake.inbox["wangwu"]


def test_notice_refreshes_on_the_classic_expired_codes_too():
    with FakeDingTalk(plain_token_errors=True) as fake:
        n = notice(fake, check_result=False)
        n.send(MESSAGE, people("zhangsan"))
        fake.expire_tokens()
        n.send(MESSAGE, people("lisi"))
        assert len(fake.calls("gettoken")) == 2 and fake.inbox["lisi"]


def test_notice_a_fresh_token_refused_again_is_a_delivery_error(fake):
    fake.fail("topapi/message/corpconversation/asyncsend_v2", errcode=88, sub_code="40014", times=2)
    with pytest.raises(DeliveryError, match="新取得的钉钉访问令牌也被拒绝"):
        notice(fake).send(MESSAGE, people("zhangsan"))
    assert len(fake.calls("gettoken")) == 2 and "zhangsan" not in fake.inbox


def test_notice_wrong_secret_names_the_option_and_hides_the_secret(fake):
    n = DingTalkNoticeNotifier("通知", fake.app_key, "wrong-app-secret-123", fake.agent_id, base_url=fake.url)
    with pytest.raises(DeliveryError, match="app_secret_env") as err:
        n.send(MESSAGE, people("zhangsan"))
    assert err.value.code == 40089
    assert_no_secret(str(err.value), "wrong-app-secret-123")


@pytest.mark.parametrize("errcode, wait", [(90018, 1.0), (143103, 60.0), (90006, 60.0)])
def test_notice_platform_rate_limits_carry_retry_after(fake, errcode, wait):
    fake.fail("topapi/message/corpconversation/asyncsend_v2", errcode=errcode)
    with pytest.raises(DeliveryError, match="限流") as err:
        notice(fake).send(MESSAGE, people("zhangsan"))
    assert err.value.retry_after == wait and err.value.code == errcode


def test_notice_client_side_rate_limit_refuses_without_calling(fake):
    clock = Clock()
    n = notice(fake, clock=clock, check_result=False)
    many = [Recipient(f"u{i}", f"u{i}", f"{DASHBOARD}/ack/{i}") for i in range(21)]
    with pytest.raises(DeliveryError, match="每秒 20 次") as err:
        n.send(MESSAGE, many)
    assert err.value.retry_after >= 1 and "已有 20 人由钉钉受理" in str(err.value)
    assert len(fake.calls("topapi/message/corpconversation/asyncsend_v2")) == 20


def test_notice_keeps_to_500_a_day_per_person(fake):
    clock = Clock()
    fake.clock = clock
    n = notice(fake, clock=clock, check_result=False)
    for i in range(500):
        n.send(AlertMessage(alert_id=1000 + i, rule="r", level=Level.YELLOW, title="t", body="b",
                            created_at=MESSAGE.created_at), people("zhangsan"))
        clock.advance(1)
    with pytest.raises(DeliveryError, match="每人每天最多 500 条.*zhangsan") as err:
        n.send(MESSAGE, people("zhangsan"))
    assert 85_000 < err.value.retry_after <= 86_400
    n.send(MESSAGE, people("lisi"))  # the others are not held up
    assert len(fake.inbox["zhangsan"]) == 500 and len(fake.inbox["lisi"]) == 1


def test_notice_partial_failure_resends_only_to_the_rest(fake):
    n = notice(fake)
    fake.fail("topapi/message/corpconversation/asyncsend_v2", status=500, after=1)
    with pytest.raises(DeliveryError, match="HTTP 500.*已有 1 人由钉钉受理"):
        n.send(MESSAGE, people("zhangsan", "lisi"))
    assert len(fake.inbox["zhangsan"]) == 1 and "lisi" not in fake.inbox
    n.send(MESSAGE, people("zhangsan", "lisi"))  # the outbox's retry
    assert len(fake.inbox["zhangsan"]) == 1 and len(fake.inbox["lisi"]) == 1
    assert [s.body["userid_list"] for s in fake.calls("topapi/message/corpconversation/asyncsend_v2")] == \
        ["zhangsan", "lisi", "lisi"]


def test_notice_result_check_failure_is_a_note_not_a_resend(fake):
    fake.fail("topapi/message/corpconversation/getsendresult", status=500)
    report = notice(fake).send(MESSAGE, people("zhangsan"))
    assert report is not None and report.invalid == [] and "发送结果查询失败" in report.note
    assert len(fake.inbox["zhangsan"]) == 1


def test_notice_same_content_twice_is_not_reported_as_a_problem(fake):
    n = notice(fake)
    n.send(MESSAGE, people("zhangsan"))
    assert n.send(MESSAGE, people("zhangsan")) is None  # DingTalk filtered the duplicate (143106)
    assert len(fake.inbox["zhangsan"]) == 1


def test_notice_messages_fit_2048_bytes_and_differ_per_alert(fake):
    long_posts = [PostExcerpt("weibo", "很长的帖子内容，" * 120) for _ in range(5)]
    big = AlertMessage(alert_id=13, rule="negative_surge", level=Level.RED, title="负面情绪集中" * 5,
                       body="涉及渠道：微博。" * 20, created_at=MESSAGE.created_at, posts=long_posts)
    n = notice(fake)
    assert n.send(big, people("zhangsan")) is None
    n.send(MESSAGE, people("zhangsan"))
    msgs = fake.inbox["zhangsan"]
    assert len(msgs) == 2 and msgs[0] != msgs[1]
    assert len(json.dumps(msgs[0], ensure_ascii=False).encode()) <= 2048
    assert "预警 #13" in msgs[0]["action_card"]["markdown"]
    huge = AlertMessage(alert_id=14, rule="r" * 300, level=Level.RED, title="标题" * 400, body="正文" * 3000,
                        created_at=MESSAGE.created_at, posts=long_posts)
    n.send(huge, people("zhangsan"))
    last = fake.inbox["zhangsan"][-1]
    assert len(json.dumps(last, ensure_ascii=False).encode()) <= 2048 and "预警 #14" in last["action_card"]["markdown"]


def test_notice_errors_and_empty_recipients(fake):
    n = notice(fake)
    with pytest.raises(DeliveryError, match="没有收件人"):
        n.send(MESSAGE, [])
    fake.fail("topapi/message/corpconversation/asyncsend_v2", errcode=88, sub_code="60011")
    with pytest.raises(DeliveryError, match="没有调用该接口的权限"):
        n.send(MESSAGE, people("zhangsan"))
    wrong_agent = DingTalkNoticeNotifier("通知", fake.app_key, fake.app_secret, 1, base_url=fake.url)
    with pytest.raises(DeliveryError, match="agent_id") as err:
        wrong_agent.send(MESSAGE, people("zhangsan"))
    assert err.value.code == 40056
    fake.fail("topapi/message/corpconversation/asyncsend_v2", errcode=-1)
    with pytest.raises(DeliveryError, match="系统繁忙"):
        n.send(MESSAGE, people("zhangsan"))
    assert "zhangsan" not in fake.inbox


def test_notice_platform_down_is_a_delivery_error_without_secrets(closed_port):
    n = DingTalkNoticeNotifier("通知", "appkey", "app-secret-very-secret", 1,
                               base_url=f"http://127.0.0.1:{closed_port}", timeout=5)
    with pytest.raises(DeliveryError, match="无法连接") as err:
        n.send(MESSAGE, people("zhangsan"))
    assert_no_secret(str(err.value), "app-secret-very-secret")


# ============================================================================ through the real outbox
class Routed(Notifier):
    """Gives a personal notifier the people routing would choose (the outbox of today passes none)."""

    type_name = "routed"
    title_zh = "测试路由"
    options_schema = {"type": "object"}

    def __init__(self, inner: Notifier, recipients: list[Recipient]) -> None:
        super().__init__(inner.name)
        self.inner, self.recipients = inner, recipients

    @classmethod
    def create(cls, cfg, secrets):  # pragma: no cover - not built from config
        raise NotImplementedError

    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        return self.inner.send(message, recipients or self.recipients)


def state(store, alert_id, notifier):
    return next(d for d in store.deliveries(alert_id) if d.notifier == notifier)


def test_outage_then_each_alert_delivered_exactly_once(store, make_alert, clock, closed_port):
    base = f"http://127.0.0.1:{closed_port}"
    notifiers = {
        "值班群钉钉": DingTalkRobotNotifier("值班群钉钉", TOKEN, SECRET, base_url=base, timeout=5),
        "钉钉工作通知": Routed(DingTalkNoticeNotifier("钉钉工作通知", "dingappkey0001", "app-secret-5ec7e7-0123456789",
                                                  2233445566, base_url=base, timeout=5),
                               [Recipient("zhang", "zhangsan", f"{DASHBOARD}/ack/x?u=zhang")]),
    }
    outbox = Outbox(store, notifiers, clock=clock)
    alerts = [make_alert(["值班群钉钉", "钉钉工作通知"]) for _ in range(2)]
    report = outbox.deliver_due()
    assert (report.sent, report.failed) == (0, 4)  # DingTalk is down
    for a in alerts:
        for name in notifiers:
            d = state(store, a.id, name)
            assert d.state.value == "failing" and "无法连接" in d.last_error
            assert_no_secret(d.last_error, "app-secret-5ec7e7-0123456789")
    fake = FakeDingTalk().start(port=closed_port)  # it comes back
    try:
        group = fake.add_robot(TOKEN, secret=SECRET)
        clock.advance(minutes=5)
        report = outbox.deliver_due()
        assert (report.sent, report.failed) == (4, 0)
        clock.advance(hours=2)
        assert outbox.deliver_due().sent == 0
        texts = [m["markdown"]["text"] for m in group.received]
        assert sorted(len(re.findall(f"预警 #{a.id} ", "".join(texts))) for a in alerts) == [1, 1]
        assert len(group.received) == 2 and len(fake.inbox["zhangsan"]) == 2
        for a in alerts:
            assert all(state(store, a.id, n).state.value == "sent" for n in notifiers)
        raw = b"".join(r.raw for r in fake.requests).decode("utf-8")
        assert "13812345678" not in raw and "110101199003071234" not in raw and "王某某" not in raw
        assert "138****5678" in raw and "1101**********1234" in raw
    finally:
        fake.stop()


# ============================================================================ configuration
ROBOT_CFG = {"name": "值班群钉钉", "type": "dingtalk_robot", "access_token_env": "DT_TOKEN", "secret_env": "DT_SECRET"}
NOTICE_CFG = {"name": "钉钉工作通知", "type": "dingtalk_notice", "app_key": "dingappkey0001",
              "app_secret_env": "DT_APP_SECRET", "agent_id": 2233445566}
ENV = {"DT_TOKEN": TOKEN, "DT_SECRET": SECRET, "DT_APP_SECRET": "s3cret-app"}


@pytest.mark.parametrize("cls, cfg, env, expected", [
    (DingTalkRobotNotifier, {k: v for k, v in ROBOT_CFG.items() if k != "access_token_env"}, ENV,
     ["notifiers[0]（值班群钉钉）", "缺少必填项 access_token_env"]),
    (DingTalkRobotNotifier, {**ROBOT_CFG, "secret": "SECabc"}, ENV, ["notifiers[0]（值班群钉钉）.secret", "secret_env"]),
    (DingTalkRobotNotifier, {**ROBOT_CFG, "token": "abc"}, ENV, ["notifiers[0]（值班群钉钉）.token", "token_env"]),
    (DingTalkRobotNotifier, ROBOT_CFG, {"DT_TOKEN": TOKEN}, ["notifiers[0]（值班群钉钉）.secret_env", "DT_SECRET", "未设置"]),
    (DingTalkRobotNotifier, {**ROBOT_CFG, "base_url": "oapi.dingtalk.com"}, ENV,
     ["notifiers[0]（值班群钉钉）.base_url", "格式不对"]),
    (DingTalkRobotNotifier, {**ROBOT_CFG, "timezone": "Mars/Olympus"}, ENV,
     ["notifiers[0]（值班群钉钉）.timezone", "Asia/Shanghai"]),
    (DingTalkRobotNotifier, ROBOT_CFG, {**ENV, "DT_TOKEN": "https://oapi.dingtalk.com/robot/send?x=1"},
     ["notifiers[0]（值班群钉钉）.access_token_env", "access_token="]),
    (DingTalkNoticeNotifier, {**NOTICE_CFG, "agent_id": "abc"}, ENV, ["notifiers[0]（钉钉工作通知）.agent_id", "格式不对"]),
    (DingTalkNoticeNotifier, {**NOTICE_CFG, "agent_id": 0}, ENV, ["notifiers[0]（钉钉工作通知）.agent_id", "超出范围"]),
    (DingTalkNoticeNotifier, {k: v for k, v in NOTICE_CFG.items() if k != "app_key"}, ENV, ["缺少必填项 app_key"]),
    (DingTalkNoticeNotifier, NOTICE_CFG, {}, ["notifiers[0]（钉钉工作通知）.app_secret_env", "DT_APP_SECRET"]),
    (DingTalkNoticeNotifier, {**NOTICE_CFG, "key": "x"}, ENV, ["notifiers[0]（钉钉工作通知）.key", "key_env"]),
    (DingTalkNoticeNotifier, {**NOTICE_CFG, "check_result": "yes"}, ENV,
     ["notifiers[0]（钉钉工作通知）.check_result", "boolean"]),
])
def test_config_errors_name_the_field(cls, cfg, env, expected):
    with pytest.raises(ConfigError) as err:
        cls.from_config(cfg, env, config_file="/etc/sentinel.yaml", where=f"notifiers[0]（{cfg['name']}）")
    message = str(err.value)
    assert "/etc/sentinel.yaml" in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert_no_secret(message, "s3cret-app")


def test_config_builds_with_defaults():
    r = DingTalkRobotNotifier.from_config(ROBOT_CFG, ENV)
    assert (r.access_token, r.secret, r.base_url, r.route) == (TOKEN, SECRET, "https://oapi.dingtalk.com", None)
    n = DingTalkNoticeNotifier.from_config({**NOTICE_CFG, "agent_id": "2233445566"}, ENV)
    assert (n.agent_id, n.app_secret, n.check_result, n.route) == (2233445566, "s3cret-app", True, "dingtalk")
    assert "s3cret-app" not in n.describe() and TOKEN not in r.describe()
