"""`feishu_bot` and `feishu_user` against a local fake of the documented Feishu APIs
(tests/fakes/feishu_notify.py): requests, signatures, tokens, error codes, rate limits, an outage
through the real outbox, and no personal data or secret anywhere it should not be."""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from datetime import datetime, timezone

import pytest

from alerts import AlertMessage, DeliveryError, Outbox, PostExcerpt, build_notifiers
from alerts.base import Recipient, SendReport
from alerts.feishu import BOT_MAX_BODY, FeishuBotNotifier, FeishuUserNotifier, RateLimiter, gen_sign
from core.domain import Level
from core.errors import ConfigError
from tests.fakes.feishu_notify import HOOK_PATH, MESSAGES_PATH, TOKEN_PATH, FakeFeishu, sign

MESSAGE = AlertMessage(
    alert_id=12, rule="rumour_spread", level=Level.ORANGE, title="传言扩散：5 条、3 个渠道",
    body="同一说法已有 5 条。", created_at=datetime(2026, 3, 2, 6, 5, tzinfo=timezone.utc),
    posts=[PostExcerpt("qq", "听说下月公积金停缴，速转"), PostExcerpt("board", "联系 138****5678")], case_id=4,
)
SECRET = "bot-sign-secret-9f8e"
ACK = "https://sentinel.example.edu.cn/ack/12?u=zhang&sig=abc"


class Clock:
    """Seconds, moved by hand; shared by a notifier and the fake so rate windows agree."""

    def __init__(self) -> None:
        self.t = time.time()

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


@pytest.fixture(autouse=True)
def registered(monkeypatch):
    """The registry line (alerts/__init__.py) is added by the maintainer; until then, here."""
    from alerts import NOTIFIERS

    monkeypatch.setitem(NOTIFIERS._entries, "feishu_bot", FeishuBotNotifier)
    monkeypatch.setitem(NOTIFIERS._entries, "feishu_user", FeishuUserNotifier)


@pytest.fixture
def feishu():
    with FakeFeishu() as fake:
        yield fake


@pytest.fixture
def ticks(feishu) -> Clock:
    clock = Clock()
    feishu.now = clock
    return clock


def bot_notifier(feishu, bot, ticks=None, **kw) -> FeishuBotNotifier:
    extra = {"clock": ticks, "now": ticks} if ticks else {}
    return FeishuBotNotifier("值班群", bot.hook_id, secret=bot.secret, base_url=feishu.url, **extra, **kw)


def user_notifier(feishu, ticks=None, **kw) -> FeishuUserNotifier:
    extra = {"clock": ticks} if ticks else {}
    return FeishuUserNotifier("飞书个人通知", feishu.app_id, feishu.app_secret, base_url=feishu.url, **extra, **kw)


def card_texts(card) -> str:
    return json.dumps(card, ensure_ascii=False)


# ============================================================================ signature
def test_signature_is_the_documented_hmac_of_an_empty_message_keyed_with_timestamp_and_secret():
    # the documentation's algorithm, written out independently: key = timestamp + "\n" + secret, message = ""
    expected = base64.b64encode(hmac.new(b"1599360473\ndemo", b"", hashlib.sha256).digest()).decode()
    assert gen_sign(1599360473, "demo") == gen_sign("1599360473", "demo") == expected == sign(1599360473, "demo")
    dingtalk = base64.b64encode(hmac.new(b"demo", b"1599360473\ndemo", hashlib.sha256).digest()).decode()
    assert gen_sign(1599360473, "demo") != dingtalk


# ============================================================================ feishu_bot
def test_bot_posts_a_signed_card_to_the_hook(feishu):
    bot = feishu.add_bot(secret=SECRET)
    notifiers = build_notifiers(
        [{"name": "值班群", "type": "feishu_bot", "webhook_env": "FEISHU_HOOK", "secret_env": "FEISHU_SIGN",
          "base_url": feishu.url, "dashboard_url": "https://sentinel.example.edu.cn"}],
        "sentinel.yaml", {"FEISHU_HOOK": bot.hook_id, "FEISHU_SIGN": SECRET})
    assert notifiers["值班群"].send(MESSAGE) is None
    (req,) = feishu.seen(HOOK_PATH)
    assert (req.method, req.path) == ("POST", f"{HOOK_PATH}{bot.hook_id}")
    assert req.headers["content-type"].startswith("application/json")
    body = req.json()
    assert isinstance(body["timestamp"], str) and abs(int(body["timestamp"]) - time.time()) < 60
    assert body["sign"] == sign(body["timestamp"], SECRET)
    assert body["msg_type"] == "interactive" and "content" not in body
    card = body["card"]
    assert card["header"]["title"] == {"tag": "plain_text", "content": "【橙色预警】传言扩散：5 条、3 个渠道"}
    assert card["header"]["template"] == "orange"
    text = card_texts(card)
    for part in ("同一说法已有 5 条。", "rumour_spread", "听说下月公积金停缴，速转", "QQ群", "138****5678",
                 "https://sentinel.example.edu.cn/alerts/12", "2026-03-02 14:05"):
        assert part in text
    assert len(bot.messages) == 1


def test_bot_without_a_secret_sends_no_signature_and_text_mode_sends_text(feishu):
    bot = feishu.add_bot()
    bot_notifier(feishu, bot).send(MESSAGE)
    bot_notifier(feishu, bot, msg_type="text").send(MESSAGE)
    card, text = (r.json() for r in feishu.seen(HOOK_PATH))
    assert "sign" not in card and "timestamp" not in card
    assert text["msg_type"] == "text" and "【橙色预警】传言扩散" in text["content"]["text"]
    assert "card" not in text and len(bot.messages) == 2


@pytest.mark.parametrize("webhook, base", [
    ("{url}/open-apis/bot/v2/hook/{hook}", None),  # the address as Feishu hands it out
    ("https://open.feishu.cn/open-apis/bot/v2/hook/{hook}", "{url}"),  # base_url replaces the host
    ("{hook}", "{url}"),  # the hook id alone
])
def test_webhook_is_a_full_address_or_a_hook_id(feishu, webhook, base):
    bot = feishu.add_bot()
    cfg = {"name": "群", "type": "feishu_bot", "webhook_env": "HOOK"}
    if base:
        cfg["base_url"] = base.format(url=feishu.url)
    n = build_notifiers([cfg], "s.yaml", {"HOOK": webhook.format(url=feishu.url, hook=bot.hook_id)})["群"]
    n.send(MESSAGE)
    assert len(bot.messages) == 1
    assert bot.hook_id not in n.describe()


def test_hook_id_alone_defaults_to_open_feishu_cn():
    n = FeishuBotNotifier("群", "abc-123")
    assert n.url == "https://open.feishu.cn/open-apis/bot/v2/hook/abc-123"


def test_wrong_signing_secret_is_19021_without_secret_in_the_error(feishu):
    bot = feishu.add_bot(secret=SECRET)
    n = FeishuBotNotifier("值班群", bot.hook_id, secret="wrong-secret-1234", base_url=feishu.url)
    with pytest.raises(DeliveryError) as err:
        n.send(MESSAGE)
    assert err.value.code == 19021 and err.value.retry_after is None
    assert "签名校验失败" in str(err.value)
    for secret in ("wrong-secret-1234", SECRET, bot.hook_id):
        assert secret not in str(err.value)
    assert bot.messages == []


def test_stale_timestamp_is_refused(feishu, ticks):
    bot = feishu.add_bot(secret=SECRET)
    n = bot_notifier(feishu, bot, clock=time.monotonic, now=lambda: ticks() - 7200)
    with pytest.raises(DeliveryError, match="19021"):
        n.send(MESSAGE)


def test_custom_keyword_in_the_title_passes_and_a_missing_one_is_19024(feishu):
    ok = feishu.add_bot(keywords=["预警"])
    bot_notifier(feishu, ok).send(MESSAGE)
    bot_notifier(feishu, ok, msg_type="text").send(MESSAGE)
    assert len(ok.messages) == 2
    picky = feishu.add_bot(keywords=["生日提醒"])
    with pytest.raises(DeliveryError) as err:
        bot_notifier(feishu, picky).send(MESSAGE)
    assert err.value.code == 19024 and "关键词" in str(err.value)


def test_ip_whitelist_and_unknown_hook_are_errors(feishu):
    bot = feishu.add_bot()
    bot.ip_allowed = False
    with pytest.raises(DeliveryError, match="19022"):
        bot_notifier(feishu, bot).send(MESSAGE)
    with pytest.raises(DeliveryError) as err:
        FeishuBotNotifier("群", "no-such-hook", base_url=feishu.url).send(MESSAGE)
    assert err.value.code == 19001 and "no-such-hook" not in str(err.value)


@pytest.mark.parametrize("status, code, msg, headers, wait", [
    (200, 11232, "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]", {}, 60.0),
    (400, 9499, "too many request", {}, 60.0),
    (429, 99991400, "request trigger frequency limit", {"x-ogw-ratelimit-reset": "7"}, 7.0),
])
def test_platform_rate_limits_become_retry_after(feishu, status, code, msg, headers, wait):
    bot = feishu.add_bot()
    feishu.fail(HOOK_PATH, status=status, code=code, msg=msg, headers=headers)
    with pytest.raises(DeliveryError) as err:
        bot_notifier(feishu, bot).send(MESSAGE)
    assert err.value.retry_after == wait and err.value.code == code and "限流" in str(err.value)


def test_bad_request_9499_says_so_and_waits_as_it_may_be_throttling(feishu):
    bot = feishu.add_bot()
    feishu.fail(HOOK_PATH, status=400, code=9499, msg="Bad Request")
    with pytest.raises(DeliveryError) as err:
        bot_notifier(feishu, bot).send(MESSAGE)
    assert err.value.retry_after == 60.0 and err.value.code == 9499 and "格式" in str(err.value)


@pytest.mark.parametrize("status, body", [(500, None), (502, "<html>bad gateway</html>"), (503, {"msg": "busy"})])
def test_transient_server_errors_fail_and_the_next_send_goes_through(feishu, status, body):
    bot = feishu.add_bot()
    feishu.fail(HOOK_PATH, status=status, body=body.encode() if isinstance(body, str) else body)
    n = bot_notifier(feishu, bot)
    with pytest.raises(DeliveryError, match=f"HTTP {status}"):
        n.send(MESSAGE)
    n.send(MESSAGE)
    assert len(bot.messages) == 1


def test_http_200_with_a_non_zero_code_is_a_failure(feishu):
    bot = feishu.add_bot()
    feishu.fail(HOOK_PATH, status=200, body={"StatusCode": 0, "code": 19007, "msg": "Bot Not Enabled"})
    with pytest.raises(DeliveryError, match="19007"):
        bot_notifier(feishu, bot).send(MESSAGE)


def test_client_side_limit_5_per_second(feishu, ticks):
    bot = feishu.add_bot()
    n = bot_notifier(feishu, bot, ticks)
    for _ in range(5):
        n.send(MESSAGE)
    with pytest.raises(DeliveryError) as err:
        n.send(MESSAGE)
    assert 0 < err.value.retry_after <= 1.0 and "频率限制" in str(err.value)
    assert len(feishu.seen(HOOK_PATH)) == 5  # the sixth never left
    ticks.advance(1.0)
    n.send(MESSAGE)
    assert len(bot.messages) == 6


def test_client_side_limit_100_per_minute(feishu, ticks):
    bot = feishu.add_bot()
    n = bot_notifier(feishu, bot, ticks)
    for _ in range(100):
        n.send(MESSAGE)
        ticks.advance(0.25)
    with pytest.raises(DeliveryError) as err:
        n.send(MESSAGE)
    assert 34 < err.value.retry_after <= 35.0  # the first of the 100 leaves the minute window then
    assert len(feishu.seen(HOOK_PATH)) == 100 and len(bot.messages) == 100
    ticks.advance(err.value.retry_after)
    n.send(MESSAGE)
    assert len(bot.messages) == 101


def test_rate_limiter_counts_per_key():
    clock = Clock()
    limiter = RateLimiter(((2, 1.0),), clock, "测试")
    limiter.take("a"), limiter.take("a"), limiter.take("b")
    with pytest.raises(DeliveryError):
        limiter.take("a")
    clock.advance(1.0)
    limiter.take("a")


def test_big_messages_are_cut_to_fit_20_kb(feishu):
    bot = feishu.add_bot(secret=SECRET)
    many = AlertMessage(alert_id=1, rule="r", level=Level.RED, title="大量帖子", body="正文" * 2000,
                        created_at=MESSAGE.created_at, posts=[PostExcerpt("weibo", "长" * 400) for _ in range(60)])
    n = bot_notifier(feishu, bot)
    assert len(n.body(many)) <= BOT_MAX_BODY
    n.send(many)
    assert len(bot.messages) == 1 and bot.messages[0]["card"]["header"]["template"] == "red"


def test_a_post_cannot_mention_everyone(feishu):
    bot = feishu.add_bot()
    sneaky = AlertMessage(alert_id=2, rule="r", level=Level.YELLOW, title='<at user_id="all">所有人</at>',
                          body="x", created_at=MESSAGE.created_at,
                          posts=[PostExcerpt("board", '看这里 <at user_id="all">所有人</at>')])
    bot_notifier(feishu, bot, msg_type="text").send(sneaky)
    bot_notifier(feishu, bot).send(sneaky)
    for body in bot.messages:
        assert "<at" not in json.dumps(body, ensure_ascii=False)


def test_no_server_is_a_delivery_error_without_the_hook_id(closed_port):
    n = FeishuBotNotifier("群", "hook-secret-id-777", secret=SECRET, base_url=f"http://127.0.0.1:{closed_port}",
                          timeout=5)
    with pytest.raises(DeliveryError) as err:
        n.send(MESSAGE)
    assert "请求失败" in str(err.value)
    assert "hook-secret-id-777" not in str(err.value) and SECRET not in str(err.value)


# ============================================================================ feishu_user
def recipients(feishu, *users, ack=True):
    return [Recipient(u.user_id, u.user_id, f"{ACK}&n={i}" if ack else None) for i, u in enumerate(users)]


def test_user_gets_a_card_with_the_ack_button_through_the_documented_calls(feishu):
    zhang, li = feishu.add_user("zhangsan"), feishu.add_user("lisi")
    notifiers = build_notifiers(
        [{"name": "飞书个人通知", "type": "feishu_user", "app_id": feishu.app_id, "app_secret_env": "FEISHU_SECRET",
          "base_url": feishu.url}], "sentinel.yaml", {"FEISHU_SECRET": feishu.app_secret})
    n = notifiers["飞书个人通知"]
    assert n.route == "feishu"
    report = n.send(MESSAGE, recipients(feishu, zhang, li))
    assert isinstance(report, SendReport) and report.invalid == []
    (tok,) = feishu.seen(TOKEN_PATH)
    assert tok.method == "POST" and tok.json() == {"app_id": feishu.app_id, "app_secret": feishu.app_secret}
    sends = feishu.seen(MESSAGES_PATH)
    assert len(sends) == 2
    token = next(iter(feishu.tokens))
    for req, user, i in zip(sends, (zhang, li), range(2)):
        assert req.query == {"receive_id_type": "user_id"}
        assert req.headers["authorization"] == f"Bearer {token}"
        assert req.headers["content-type"].startswith("application/json")
        body = req.json()
        assert body["receive_id"] == user.user_id and body["msg_type"] == "interactive"
        assert isinstance(body["content"], str) and 0 < len(body["uuid"]) <= 50
        card = json.loads(body["content"])
        assert card["header"]["title"]["content"] == "【橙色预警】传言扩散：5 条、3 个渠道"
        (button,) = [a for e in card["elements"] if e["tag"] == "action" for a in e["actions"]]
        assert button["url"] == f"{ACK}&n={i}" and "认领" in button["text"]["content"]
    assert [d.user for d in feishu.delivered] == [zhang, li]


@pytest.mark.parametrize("id_type", ["open_id", "union_id", "email"])
def test_receive_id_type_is_sent_as_the_query_parameter(feishu, id_type):
    wang = feishu.add_user("wangwu")
    n = user_notifier(feishu, receive_id_type=id_type)
    address = wang.ids()[id_type]
    assert n.send(MESSAGE, [Recipient("wang", address, ACK)]).invalid == []
    (req,) = feishu.seen(MESSAGES_PATH)
    assert req.query["receive_id_type"] == id_type and req.json()["receive_id"] == address
    assert feishu.delivered[0].user is wang


def test_token_is_cached_and_refreshed_once_when_the_platform_says_it_is_invalid(feishu):
    zhang = feishu.add_user("zhangsan")
    n = user_notifier(feishu)
    for alert_id in (1, 2):
        n.send(AlertMessage(**{**MESSAGE.__dict__, "alert_id": alert_id}), recipients(feishu, zhang))
    assert len(feishu.seen(TOKEN_PATH)) == 1
    feishu.expire_tokens()
    n.send(AlertMessage(**{**MESSAGE.__dict__, "alert_id": 3}), recipients(feishu, zhang))
    assert len(feishu.seen(TOKEN_PATH)) == 2
    assert [r.json()["receive_id"] for r in feishu.seen(MESSAGES_PATH)] == ["zhangsan"] * 4  # 3 sent + 1 refused
    assert len(feishu.delivered) == 3


def test_a_fresh_token_refused_again_is_a_delivery_error_without_token_or_secret(feishu):
    zhang = feishu.add_user("zhangsan")
    feishu.fail(MESSAGES_PATH, times=2, status=400, code=99991663)
    n = user_notifier(feishu)
    with pytest.raises(DeliveryError) as err:
        n.send(MESSAGE, recipients(feishu, zhang))
    assert "凭据" in str(err.value) and err.value.code == 99991663
    assert len(feishu.seen(TOKEN_PATH)) == 2 and len(feishu.seen(MESSAGES_PATH)) == 2
    for token in feishu.tokens:
        assert token not in str(err.value)
    assert feishu.app_secret not in str(err.value)


@pytest.mark.parametrize("app_id, secret, code", [("cli_a1b2c3d4e5f60718", "wrong", 10015),
                                                   ("cli_unknown", "app-secret-5e11", 10014)])
def test_bad_app_credentials_are_delivery_errors_without_the_secret(feishu, app_id, secret, code):
    n = FeishuUserNotifier("飞书", app_id, secret, base_url=feishu.url)
    with pytest.raises(DeliveryError) as err:
        n.send(MESSAGE, recipients(feishu, feishu.add_user("zhangsan")))
    assert err.value.code == code and secret not in str(err.value) and feishu.app_secret not in str(err.value)
    assert feishu.seen(MESSAGES_PATH) == []


def test_recipients_the_platform_rejects_are_reported_and_the_others_delivered(feishu):
    ok = feishu.add_user("zhangsan")
    outside = feishu.add_user("lisi", status="unavailable")
    blocked = feishu.add_user("wangwu", status="blocked")
    rs = [*recipients(feishu, ok, outside, blocked), Recipient("ghost", "nobody", ACK), Recipient("bad", " ", ACK)]
    report = user_notifier(feishu).send(MESSAGE, rs)
    assert report.invalid == ["lisi", "wangwu", "nobody", " "]
    assert "230013" in report.note and "230053" in report.note and "99992360" in report.note
    assert [d.user for d in feishu.delivered] == [ok]
    assert len(feishu.seen(MESSAGES_PATH)) == 4  # the blank address was never sent


def test_duplicate_recipients_get_one_message(feishu):
    zhang = feishu.add_user("zhangsan")
    user_notifier(feishu).send(MESSAGE, [*recipients(feishu, zhang), *recipients(feishu, zhang)])
    assert len(feishu.delivered) == 1


@pytest.mark.parametrize("status, code, headers, wait", [
    (429, 99991400, {"x-ogw-ratelimit-limit": "50", "x-ogw-ratelimit-reset": "7"}, 7.0),
    (400, 99991400, {"x-ogw-ratelimit-reset": "3"}, 3.0),
    (400, 230020, {}, 5.0),
])
def test_platform_rate_limits_for_messages_become_retry_after(feishu, status, code, headers, wait):
    zhang = feishu.add_user("zhangsan")
    feishu.fail(MESSAGES_PATH, status=status, code=code, headers=headers)
    with pytest.raises(DeliveryError) as err:
        user_notifier(feishu).send(MESSAGE, recipients(feishu, zhang))
    assert err.value.retry_after == wait and err.value.code == code


def test_fake_enforces_the_per_user_limit_and_the_client_never_reaches_it(feishu, ticks):
    zhang = feishu.add_user("zhangsan")
    n = user_notifier(feishu, ticks)
    for alert_id in range(5):
        n.send(AlertMessage(**{**MESSAGE.__dict__, "alert_id": alert_id}), recipients(feishu, zhang))
    with pytest.raises(DeliveryError) as err:
        n.send(AlertMessage(**{**MESSAGE.__dict__, "alert_id": 99}), recipients(feishu, zhang))
    assert 0 < err.value.retry_after <= 1.0
    assert len(feishu.seen(MESSAGES_PATH)) == 5
    ticks.advance(1.0)
    n.send(AlertMessage(**{**MESSAGE.__dict__, "alert_id": 99}), recipients(feishu, zhang))
    assert len(feishu.delivered) == 6
    # without the client-side window the platform answers 230020
    raw = user_notifier(feishu, ticks)
    raw.user_limiter = RateLimiter(((1000, 1.0),), ticks, "x")
    with pytest.raises(DeliveryError) as err:
        for alert_id in range(100, 106):
            raw.send(AlertMessage(**{**MESSAGE.__dict__, "alert_id": alert_id}), recipients(feishu, zhang))
    assert err.value.code == 230020


@pytest.mark.parametrize("code, hint", [(230006, "机器人能力"), (99991672, "im:message:send_as_bot")])
def test_app_configuration_errors_with_http_200_or_400_are_delivery_errors(feishu, code, hint):
    zhang = feishu.add_user("zhangsan")
    feishu.fail(MESSAGES_PATH, status=200, code=code)
    with pytest.raises(DeliveryError) as err:
        user_notifier(feishu).send(MESSAGE, recipients(feishu, zhang))
    assert err.value.code == code and hint in str(err.value)


def test_partial_failure_is_retried_without_writing_to_anyone_twice(feishu):
    zhang, li = feishu.add_user("zhangsan"), feishu.add_user("lisi")
    n = user_notifier(feishu)
    original = feishu._message
    calls = []

    def flaky(seen):
        calls.append(seen.json()["receive_id"])
        if seen.json()["receive_id"] == "lisi" and calls.count("lisi") == 1:
            return 500, None, {}
        return original(seen)

    feishu._message = flaky
    with pytest.raises(DeliveryError, match="HTTP 500"):
        n.send(MESSAGE, recipients(feishu, zhang, li))
    assert [d.user for d in feishu.delivered] == [zhang]
    assert n.send(MESSAGE, recipients(feishu, zhang, li)).invalid == []
    assert [d.user for d in feishu.delivered] == [zhang, li]
    assert calls == ["zhangsan", "lisi", "lisi"]  # zhang was not asked again
    # a restarted service (no memory) retrying the same alert within the hour: uuid makes Feishu deliver nothing new
    user_notifier(feishu).send(MESSAGE, recipients(feishu, zhang, li))
    assert len(feishu.delivered) == 2


def test_without_an_ack_link_the_button_opens_the_dashboard_or_is_left_out(feishu):
    zhang = feishu.add_user("zhangsan")
    user_notifier(feishu, dashboard_url="https://sentinel.example.edu.cn").send(
        MESSAGE, recipients(feishu, zhang, ack=False))
    user_notifier(feishu).send(AlertMessage(**{**MESSAGE.__dict__, "alert_id": 13}), recipients(feishu, zhang, ack=False))
    with_link, bare = (d.content for d in feishu.delivered)
    assert "https://sentinel.example.edu.cn/alerts/12" in card_texts(with_link)
    assert all(e["tag"] != "action" for e in bare["elements"])


def test_no_recipients_is_an_error_and_sends_nothing(feishu):
    with pytest.raises(DeliveryError, match="没有收件人"):
        user_notifier(feishu).send(MESSAGE, [])
    assert feishu.requests == []


def test_transient_500_and_network_errors_are_delivery_errors(feishu, closed_port):
    zhang = feishu.add_user("zhangsan")
    feishu.fail(MESSAGES_PATH, status=500)
    with pytest.raises(DeliveryError, match="HTTP 500"):
        user_notifier(feishu).send(MESSAGE, recipients(feishu, zhang))
    down = FeishuUserNotifier("飞书", feishu.app_id, feishu.app_secret, base_url=f"http://127.0.0.1:{closed_port}",
                              timeout=5)
    with pytest.raises(DeliveryError, match="tenant_access_token") as err:
        down.send(MESSAGE, recipients(feishu, zhang))
    assert feishu.app_secret not in str(err.value)


# ============================================================================ configuration
BOT_CFG = {"name": "值班群", "type": "feishu_bot", "webhook_env": "HOOK"}
USER_CFG = {"name": "飞书个人", "type": "feishu_user", "app_id": "cli_x", "app_secret_env": "APP_SECRET"}
ENV = {"HOOK": "hook-id-1", "APP_SECRET": "s3cret-value"}


@pytest.mark.parametrize("cfg, expected", [
    ({k: v for k, v in BOT_CFG.items() if k != "webhook_env"}, ["notifiers[0]（值班群）", "webhook_env"]),
    ({**BOT_CFG, "webhook_env": "UNSET"}, ["notifiers[0]（值班群）.webhook_env", "UNSET", "未设置"]),
    ({**BOT_CFG, "webhook": "https://open.feishu.cn/open-apis/bot/v2/hook/x"}, ["notifiers[0]（值班群）.webhook", "webhook_env"]),
    ({**BOT_CFG, "secret": "abc"}, ["notifiers[0]（值班群）.secret", "secret_env"]),
    ({**BOT_CFG, "msg_type": "post"}, ["notifiers[0]（值班群）.msg_type", "interactive"]),
    ({**BOT_CFG, "base_url": "open.feishu.cn"}, ["notifiers[0]（值班群）.base_url", "格式不对"]),
    ({**BOT_CFG, "timezone": "Mars/Olympus"}, ["notifiers[0]（值班群）.timezone", "Asia/Shanghai"]),
    ({**BOT_CFG, "webhook_env": "BAD_HOOK"}, ["notifiers[0]（值班群）.webhook_env", "BAD_HOOK", "hook id"]),
    ({**USER_CFG, "app_secret": "明文"}, ["notifiers[0]（飞书个人）.app_secret", "app_secret_env"]),
    ({k: v for k, v in USER_CFG.items() if k != "app_id"}, ["notifiers[0]（飞书个人）", "缺少必填项 app_id"]),
    ({**USER_CFG, "receive_id_type": "chat_id"}, ["notifiers[0]（飞书个人）.receive_id_type", "open_id"]),
    ({**USER_CFG, "app_secret_env": "NOPE"}, ["notifiers[0]（飞书个人）.app_secret_env", "NOPE", "未设置"]),
    ({**USER_CFG, "timeout": 0}, ["notifiers[0]（飞书个人）.timeout", "超出范围"]),
])
def test_config_errors_name_the_field_and_never_the_secret(cfg, expected):
    env = {**ENV, "BAD_HOOK": "not a hook/with spaces and s3cret"}
    with pytest.raises(ConfigError) as err:
        build_notifiers([cfg], "/etc/sentinel.yaml", env)
    message = str(err.value)
    assert "/etc/sentinel.yaml" in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"
    assert "s3cret" not in message and "明文" not in message


def test_config_builds_with_defaults():
    built = build_notifiers([BOT_CFG, USER_CFG], "s.yaml", ENV)
    bot, user = built["值班群"], built["飞书个人"]
    assert isinstance(bot, FeishuBotNotifier) and bot.route is None and bot.msg_type == "interactive"
    assert bot.url == "https://open.feishu.cn/open-apis/bot/v2/hook/hook-id-1" and bot.secret is None
    assert isinstance(user, FeishuUserNotifier) and user.receive_id_type == "user_id"
    assert user.base_url == "https://open.feishu.cn" and user.app_secret == "s3cret-value"
    for n in built.values():
        assert "hook-id-1" not in n.describe() and "s3cret" not in n.describe()


# ============================================================================ through the outbox
class RoutedFeishuUser(FeishuUserNotifier):
    """The outbox in this tree calls `send(message)` without recipients (routing is not wired yet):
    this stands in for the routing, giving every alert the same two people."""

    people: list[Recipient] = []

    def send(self, message, recipients=()):
        return super().send(message, recipients or self.people)


def state(store, alert_id, notifier):
    return next(d for d in store.deliveries(alert_id) if d.notifier == notifier)


def test_outage_then_recovery_delivers_each_alert_exactly_once(store, make_alert, clock, feishu):
    bot = feishu.add_bot(secret=SECRET, keywords=["预警"])
    zhang, li = feishu.add_user("zhangsan"), feishu.add_user("lisi")
    person = RoutedFeishuUser("飞书个人", feishu.app_id, feishu.app_secret, base_url=feishu.url)
    person.people = recipients(feishu, zhang, li)
    outbox = Outbox(store, {"值班群": FeishuBotNotifier("值班群", bot.hook_id, secret=SECRET, base_url=feishu.url,
                                                        timeout=3),
                            "飞书个人": person}, clock=clock)
    alerts = [make_alert(["值班群", "飞书个人"]), make_alert(["值班群", "飞书个人"], level=Level.RED)]
    feishu.stop()  # the platform is down
    report = outbox.deliver_due()
    assert (report.sent, report.failed) == (0, 4)
    for a in alerts:
        for name in ("值班群", "飞书个人"):
            d = state(store, a.id, name)
            assert d.state.value == "failing" and "请求失败" in d.last_error
            assert bot.hook_id not in d.last_error and SECRET not in d.last_error
            assert feishu.app_secret not in d.last_error
    clock.advance(minutes=5)
    assert outbox.deliver_due().failed == 4  # still down: retried, still failing, nothing dropped
    feishu.start()  # back, same address
    clock.advance(minutes=5)
    report = outbox.deliver_due()
    assert (report.sent, report.failed) == (4, 0)
    clock.advance(hours=3)
    assert outbox.deliver_due().sent == 0
    assert sorted(m["card"]["header"]["template"] for m in bot.messages) == ["orange", "red"]
    assert sorted((d.user.user_id for d in feishu.delivered)) == ["lisi", "lisi", "zhangsan", "zhangsan"]
    # masked: no phone, no ID number, no author name in anything that reached Feishu
    wire = b"".join(r.raw for r in feishu.requests).decode("utf-8")
    assert "13812345678" not in wire and "110101199003071234" not in wire and "王某某" not in wire
    assert "138****5678" in json.dumps([m["card"] for m in bot.messages], ensure_ascii=False)
    assert "1101**********1234" in json.dumps([d.content for d in feishu.delivered], ensure_ascii=False)


def test_rate_limited_delivery_is_retried_later_through_the_outbox(store, make_alert, clock, feishu):
    bot = feishu.add_bot()
    outbox = Outbox(store, {"值班群": bot_notifier(feishu, bot)}, clock=clock)
    alert = make_alert(["值班群"])
    feishu.fail(HOOK_PATH, status=200, code=11232, msg="frequency limited psm")
    assert outbox.deliver_due().failed == 1
    d = state(store, alert.id, "值班群")
    assert "限流" in d.last_error and d.next_attempt_at > clock.now
    clock.advance(hours=1)
    assert outbox.deliver_due().sent == 1 and len(bot.messages) == 1


def test_a_digest_ending_with_an_alert_sent_alone_is_a_new_message(feishu):
    zhang = feishu.add_user("zhangsan")
    n = user_notifier(feishu)
    n.send(MESSAGE, recipients(feishu, zhang))
    digest = AlertMessage(alert_id=MESSAGE.alert_id, rule="digest", level=Level.ORANGE, title="预警汇总：2 条",
                          body="· 03-02 14:05 橙色 传言扩散", created_at=MESSAGE.created_at)
    n.send(digest, recipients(feishu, zhang))
    assert len(feishu.delivered) == 2
    first, second = (r.json()["uuid"] for r in feishu.seen(MESSAGES_PATH))
    assert first != second


def test_errors_do_not_chain_the_transport_exception(closed_port):
    for n, args in ((FeishuBotNotifier("群", "hook-x", base_url=f"http://127.0.0.1:{closed_port}", timeout=2), ()),
                    (FeishuUserNotifier("人", "cli_x", "sec-x", base_url=f"http://127.0.0.1:{closed_port}",
                                        timeout=2), ([Recipient("u", "u1", ACK)],))):
        with pytest.raises(DeliveryError, match="无法连接飞书服务器") as err:
            n.send(MESSAGE, *args)
        assert err.value.__cause__ is None and err.value.__suppress_context__
