"""Feishu (飞书) notifiers: `feishu_bot`, a custom bot in a group chat, and `feishu_user`, a message
card to each person, sent by a self-built app.

`feishu_bot` (自定义机器人, open.feishu.cn/document/client-docs/bot-v3/add-custom-bot):
`POST {base_url}/open-apis/bot/v2/hook/{hook_id}` with `{timestamp, sign, msg_type, card | content}`.
With 签名校验 on, `timestamp` is the time in seconds (sent as a string, as in the documentation's
example) and `sign` = Base64(HMAC-SHA256(key = f"{timestamp}\\n{secret}", message = b"")): the
documented algorithm signs an EMPTY message under that key (DingTalk signs the string under the secret).
The answer is `{code, msg, data}` (plus the legacy `StatusCode`/`StatusMessage`); code 0 is success,
anything else a failure even with HTTP 200: 19021 signature or timestamp refused, 19022 IP not in the
whitelist, 19024 no custom keyword in the message, 9499 a malformed body ("Bad Request") or, as
observed, "too many request", 11232 throttled. The documented limit is 100 requests a minute and 5 a
second per bot; the request body may not exceed 20 KB.

`feishu_user` (自建应用 with the bot ability): a `tenant_access_token` from
`POST {base_url}/open-apis/auth/v3/tenant_access_token/internal` `{app_id, app_secret}` →
`{code, msg, tenant_access_token, expire}`, cached until shortly before it expires or until the
platform calls it invalid (99991663 / 99991661 / 99991665: fetched again once); then, per recipient,
`POST {base_url}/open-apis/im/v1/messages?receive_id_type=…` with `Authorization: Bearer …` and
`{receive_id, msg_type: "interactive", content: "<card JSON as a string>", uuid}`. `uuid` (at most 50
characters) makes Feishu send at most one message per uuid within an hour, so a retry after a partial
failure does not write to anyone twice. A recipient the platform will not reach (230013 not in the
app's availability range, 230053 the user blocked the bot, 230029 resigned, 230034 / 99992351 … an id
that does not exist) is reported in the SendReport, not retried. Limits: 1000 requests a minute and
50 a second per app, 5 a second to the same user; 99991400 (HTTP 429 with `x-ogw-ratelimit-reset`)
and 230020 mean "slow down".

Every send makes one HTTP attempt per message (the outbox retries); only a refused token repeats a
request. Errors never quote the webhook address, the signing secret, the App Secret or a token.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import time
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import urlsplit

import requests

from alerts.base import (
    BASE_URL, DEFAULT_TZ, ENV_NAME, AlertMessage, DeliveryError, Notifier, Recipient, Secrets, SendReport,
    options_schema
)
from core.errors import ConfigError
from core.ratelimit import KeyedLimits
from core.tokens import TokenCache, TokenExpired

DEFAULT_BASE_URL = "https://open.feishu.cn"
HOOK_PATH = "/open-apis/bot/v2/hook/"
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"
JSON_CONTENT = "application/json; charset=utf-8"

BOT_MAX_BODY = 20 * 1024  # "请求体的数据大小不能超过 20 KB"
CARD_MAX_BODY = 30 * 1024  # "卡片消息、富文本消息请求体最大不能超过 30 KB"
BOT_LIMITS = ((5, 1.0), (100, 60.0))  # per bot: 5 a second, 100 a minute
APP_LIMITS = ((50, 1.0), (1000, 60.0))  # im/v1/messages per app: 50 a second, 1000 a minute
USER_LIMITS = ((5, 1.0),)  # "向同一用户发送消息的限频为 5 QPS"
RATE_LIMIT_DEFAULT_WAIT = 60.0  # seconds, when a throttled answer does not say how long

TOKEN_INVALID = {99991661, 99991663, 99991665}  # need a token / invalid access token / invalid tenant token
BOT_RATE_LIMITED = {11232}
APP_RATE_LIMITED = {99991400, 230020}
RECIPIENT_REJECTED = {
    230002: "机器人不在该会话中",
    230013: "该用户不在应用的可用范围内（或已离职）",
    230029: "该用户已离职",
    230034: "接收者 ID 无效",
    230035: "没有向该用户发消息的权限（可能被屏蔽或受租户沟通权限管控）",
    230038: "不能通过该接口给其他租户的用户发单聊消息",
    230053: "该用户已设置不再接收机器人消息",
    99992351: "open_id 不存在",
    99992352: "用户 ID 不存在",
    99992353: "用户 ID 不存在",
    99992359: "user_id 不存在",
    99992360: "user_id 不存在",
    99992361: "open_id 不属于当前应用",
    99992363: "union_id 不存在",
    99992364: "ID 不存在或属于其他租户",
    99992381: "union_id 不属于当前租户",
}
RECEIVE_ID_TYPES = ("user_id", "open_id", "union_id", "email")
_ADDRESS_SHAPE = {  # an address that cannot be right is reported without asking the platform
    "open_id": re.compile(r"^\S{1,256}$"),
    "union_id": re.compile(r"^\S{1,256}$"),
    "user_id": re.compile(r"^\S{1,256}$"),
    "email": re.compile(r"^[^@\s]+@[^@\s]+$"),
}
_HOOK_ID = re.compile(r"^[A-Za-z0-9_.~-]+$")
_LEVEL_TEMPLATE = {"yellow": "yellow", "orange": "orange", "red": "red"}
# ---------------------------------------------------------------------------- shared helpers
def gen_sign(timestamp: int | str, secret: str) -> str:
    """The custom bot's signature: Base64 of HMAC-SHA256 keyed with f"{timestamp}\\n{secret}" over b""."""
    string_to_sign = f"{timestamp}\n{secret}".encode("utf-8")
    return base64.b64encode(hmac.new(string_to_sign, b"", hashlib.sha256).digest()).decode("ascii")


class RateLimiter(KeyedLimits):
    """Feishu's limits (per second, per minute), optionally one set per key (per user).
    `take(key)` records a request or raises DeliveryError(retry_after) without recording it."""

    def __init__(self, limits: Iterable[tuple[int, float]], clock: Callable[[], float], what: str) -> None:
        super().__init__(limits, clock)
        self.what = what

    def refuse(self, wait: float) -> DeliveryError:
        limits = "、".join(f"{n} 次/{_period_zh(p)}" for n, p in self.limits)
        return DeliveryError(f"{self.what}已达到飞书的频率限制（{limits}），为避免被限流暂不发送；"
                             f"约 {wait:.1f} 秒后可再发", retry_after=wait, code="client_rate_limit")

    def take(self, key: str = "") -> None:
        """Record one request, or raise DeliveryError(retry_after) without recording it."""
        take_all((self, key))


def take_all(*limits: tuple[RateLimiter, str]) -> None:
    """Record one request in every (limiter, key) when all have room; else record none and raise."""
    for limiter, key in limits:
        wait = limiter.wait(key)
        if wait > 0:
            raise limiter.refuse(wait)
    for limiter, key in limits:
        limiter.record(key)


def _period_zh(period: float) -> str:
    return {1.0: "秒", 60.0: "分钟"}.get(period, f"{period:g} 秒")


def _scrub(text: Any, secrets: Iterable[str | None]) -> str:
    """One line, at most 200 characters, with every secret replaced by ***."""
    out = " ".join(str(text).split())
    for s in sorted((s for s in secrets if s), key=len, reverse=True):
        out = out.replace(s, "***")
    return out if len(out) <= 200 else out[:199] + "…"


def _network(exc: requests.RequestException, secrets: Iterable[str | None]) -> str:
    """What went wrong on the wire, in Chinese, without the URL (requests quotes it whole)."""
    if isinstance(exc, requests.Timeout):
        return f"请求超时（{type(exc).__name__}），请检查网络或调大 timeout"
    if isinstance(exc, requests.ConnectionError):
        return f"无法连接飞书服务器（{type(exc).__name__}），请检查网络、代理和 base_url"
    return f"{type(exc).__name__}: {_scrub(exc, secrets)}"


def _never_sent(exc: requests.RequestException) -> bool:
    """The connection could not be made, so the platform did not count the request."""
    return isinstance(exc, (requests.ConnectionError, requests.ConnectTimeout)) and not isinstance(
        exc, requests.ReadTimeout)


def _answer(resp: requests.Response) -> dict[str, Any] | None:
    """The decoded JSON object of an answer, or None when it is not one."""
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _code(data: Mapping[str, Any] | None) -> int | None:
    """`code`, falling back to the legacy `StatusCode`; None when neither is there."""
    if not data:
        return None
    for key in ("code", "StatusCode"):
        value = data.get(key)
        if value is None or isinstance(value, bool):
            continue
        try:
            return int(value)
        except (TypeError, ValueError):
            continue
    return None


def _msg(data: Mapping[str, Any] | None) -> str:
    if not data:
        return ""
    return str(data.get("msg") or data.get("StatusMessage") or "")


def _wait_hint(resp: requests.Response, default: float = RATE_LIMIT_DEFAULT_WAIT) -> float:
    """Seconds to wait: `x-ogw-ratelimit-reset` (Feishu's frequency-control header), else `Retry-After`."""
    for header in ("x-ogw-ratelimit-reset", "Retry-After"):
        value = resp.headers.get(header)
        if value:
            try:
                seconds = float(value)
            except ValueError:
                continue
            if seconds == seconds and 0 <= seconds < 86_400:  # not NaN, not absurd
                return max(seconds, 1.0)
    return default






def _safe(text: str, limit: int) -> str:
    """Texts from alerts and posts for a card or a text message: no `<at …>` mention (a post that says
    `<at user_id="all">` must not ping the whole group), at most `limit` characters."""
    text = str(text).replace("<", "＜").replace(">", "＞")
    return text if len(text) <= limit else text[: limit - 1] + "…"


def alert_lines(message: AlertMessage, tz: str, max_posts: int | None = None) -> dict[str, Any]:
    """The parts every Feishu message shows, already made safe and cut to size."""
    posts = message.posts if max_posts is None else message.posts[:max_posts]
    meta = [f"级别：{message.level_zh}", f"时间：{message.local_time(tz)}", f"规则：{_safe(message.rule, 100)}",
            f"编号：预警 #{message.alert_id}" + (f"（案件 #{message.case_id}）" if message.case_id else "")]
    return {
        "subject": _safe(message.subject, 200),
        "meta": "\n".join(meta),
        "body": _safe(message.body, 1500),
        "posts": [f"{i}. 【{p.channel_zh}】{_safe(p.excerpt, 300)}" for i, p in enumerate(posts, 1)],
    }


def build_card(message: AlertMessage, tz: str, button: tuple[str, str] | None,
               max_posts: int | None = None) -> dict[str, Any]:
    """A message card (card JSON 1.0: header + elements), with plain texts only (no Markdown, so a
    post's text cannot turn into a link or a mention) and, when given, one button that opens a URL."""
    parts = alert_lines(message, tz, max_posts)
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "plain_text", "content": parts["meta"]}},
        {"tag": "div", "text": {"tag": "plain_text", "content": parts["body"]}},
    ]
    if parts["posts"]:
        elements += [{"tag": "hr"},
                     {"tag": "div", "text": {"tag": "plain_text",
                                             "content": "相关帖子（个人信息已遮盖）：\n" + "\n".join(parts["posts"])}}]
    if button:
        label, url = button
        elements.append({"tag": "action", "actions": [
            {"tag": "button", "text": {"tag": "plain_text", "content": label}, "type": "primary", "url": url}]})
    elements.append({"tag": "note", "elements": [
        {"tag": "plain_text", "content": "高校工会舆情哨兵自动发送"}]})
    return {
        "config": {"wide_screen_mode": True, "enable_forward": False},
        "header": {"template": _LEVEL_TEMPLATE.get(message.level.value, "orange"),
                   "title": {"tag": "plain_text", "content": parts["subject"]}},
        "elements": elements,
    }


def build_text(message: AlertMessage, tz: str, link: tuple[str, str] | None,
               max_posts: int | None = None) -> str:
    parts = alert_lines(message, tz, max_posts)
    lines = [parts["subject"], parts["meta"], "", parts["body"]]
    if parts["posts"]:
        lines += ["", "相关帖子（个人信息已遮盖）：", *parts["posts"]]
    if link:
        lines += ["", f"{link[0]}：{link[1]}"]
    return "\n".join(lines)


def _fit(build: Callable[[int | None], bytes], limit: int, total_posts: int) -> bytes:
    """The largest rendering (fewest posts dropped) whose body fits in `limit` bytes."""
    body = build(None)
    n = total_posts
    while len(body) > limit and n > 0:
        n -= 1
        body = build(n)
    return body


# ---------------------------------------------------------------------------- feishu_bot
class FeishuBotNotifier(Notifier):
    """A custom bot (自定义机器人) in one Feishu group chat: each alert is sent once, as a card (or text)."""

    type_name = "feishu_bot"
    title_zh = "飞书群自定义机器人"
    route = None
    options_schema = options_schema("feishu_bot", {
        "webhook_env": ENV_NAME,
        "secret_env": ENV_NAME,
        "msg_type": {"enum": ["interactive", "text"]},
        "base_url": BASE_URL,
    }, required=("webhook_env",))
    inline_secrets = {"webhook": "webhook_env", "webhook_url": "webhook_env", "hook_id": "webhook_env",
              "sign_secret": "secret_env"}

    def __init__(self, name: str, webhook: str, secret: str | None = None, *, base_url: str | None = None,
                 msg_type: str = "interactive", timeout: float = 10.0, dashboard_url: str | None = None,
                 timezone: str = DEFAULT_TZ, clock: Callable[[], float] = time.monotonic,
                 now: Callable[[], float] = time.time) -> None:
        super().__init__(name)
        self.url, self.hook_id = self.hook_url(webhook, base_url)
        self.secret, self.msg_type, self.timeout = secret, msg_type, timeout
        self.dashboard_url, self.timezone = dashboard_url, timezone
        self.now = now
        self.limiter = RateLimiter(BOT_LIMITS, clock, f"飞书群机器人 “{name}”")

    @staticmethod
    def hook_url(webhook: str, base_url: str | None) -> tuple[str, str]:
        """(URL to post to, hook id) from the webhook address or its hook id. A configured base_url
        replaces the scheme and host of a full address (e.g. for a proxy or open.larksuite.com)."""
        webhook = webhook.strip()
        if webhook.startswith(("http://", "https://")):
            parts = urlsplit(webhook)
            hook_id = parts.path.rstrip("/").rsplit("/", 1)[-1]
            if not hook_id or not _HOOK_ID.match(hook_id) or not parts.netloc:
                raise ValueError("webhook")
            if base_url:
                return f"{base_url.rstrip('/')}{parts.path}", hook_id
            return webhook, hook_id
        if not _HOOK_ID.match(webhook):
            raise ValueError("webhook")
        return f"{(base_url or DEFAULT_BASE_URL).rstrip('/')}{HOOK_PATH}{webhook}", webhook

    @classmethod
    def create(cls, cfg: Mapping[str, Any], secrets: Secrets) -> "FeishuBotNotifier":
        tz = secrets.timezone(cfg)
        webhook = secrets.get(cfg, "webhook_env") or ""
        try:
            return cls(name=cfg["name"], webhook=webhook, secret=secrets.get(cfg, "secret_env"),
                       base_url=cfg.get("base_url"), msg_type=cfg.get("msg_type", "interactive"),
                       timeout=float(cfg.get("timeout", 10.0)), dashboard_url=cfg.get("dashboard_url"),
                       timezone=tz)
        except ValueError:
            raise ConfigError(secrets.config_file, f"{secrets.where}.webhook_env",
                              f"环境变量 {cfg['webhook_env']} 的值不是飞书机器人的 webhook 地址"
                              f"（https://open.feishu.cn{HOOK_PATH}…）或其中的 hook id") from None

    def describe(self) -> str:
        return f"飞书群机器人 {urlsplit(self.url).netloc}"

    def _secrets(self) -> list[str | None]:
        return [self.secret, self.hook_id, self.url]

    def payload(self, message: AlertMessage, max_posts: int | None = None) -> dict[str, Any]:
        """The documented request body, without timestamp and sign."""
        link = message.link(self.dashboard_url)
        button = ("在看板中查看和处理", link) if link else None
        if self.msg_type == "text":
            return {"msg_type": "text", "content": {"text": build_text(message, self.timezone, button, max_posts)}}
        return {"msg_type": "interactive", "card": build_card(message, self.timezone, button, max_posts)}

    def body(self, message: AlertMessage) -> bytes:
        def render(max_posts: int | None) -> bytes:
            data = self.payload(message, max_posts)
            if self.secret:
                timestamp = int(self.now())
                data = {"timestamp": str(timestamp), "sign": gen_sign(timestamp, self.secret), **data}
            return json.dumps(data, ensure_ascii=False).encode("utf-8")

        return _fit(render, BOT_MAX_BODY, len(message.posts))

    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        body = self.body(message)
        self.limiter.take()
        try:
            resp = requests.post(self.url, data=body, headers={"Content-Type": JSON_CONTENT},
                                 timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            if _never_sent(exc):
                self.limiter.release()
            raise DeliveryError(f"飞书群机器人请求失败（{self.describe()}）：{_network(exc, self._secrets())}") from None
        self._check(resp)
        return None

    def _check(self, resp: requests.Response) -> None:
        data = _answer(resp)
        code, msg = _code(data), _scrub(_msg(data), self._secrets())
        ok_status = 200 <= resp.status_code < 300
        if ok_status and data is not None and code in (None, 0):
            return
        where = self.describe()
        if code in BOT_RATE_LIMITED or resp.status_code == 429 or (code == 9499 and "too many" in msg.lower()):
            wait = _wait_hint(resp)
            raise DeliveryError(f"飞书群机器人被限流（{where}，code {code}：{msg}）；将在 {wait:.0f} 秒后重试。"
                                "自定义机器人限 5 次/秒、100 次/分钟，整点和半点更易被限流",
                                retry_after=wait, code=code)
        if code == 9499:  # documented as "Bad Request", also seen as "too many request": wait either way
            wait = _wait_hint(resp)
            raise DeliveryError(f"飞书群机器人返回错误（{where}，code 9499：{msg}）：请求格式或参数有误（请求体不能超过 "
                                f"20 KB），也可能是被限流；将在 {wait:.0f} 秒后重试", retry_after=wait, code=code)
        if code is not None and code != 0:
            hint = {
                19021: "签名校验失败：请检查 secret_env 指向的签名密钥是否与机器人安全设置一致，并校准服务器时间（时间戳须在 1 小时内）",
                19022: "IP 不在机器人安全设置的 IP 白名单内：请把本机出口 IP 加入白名单",
                19024: "消息里没有机器人安全设置中的自定义关键词：请把“预警”设为关键词（卡片标题总含“预警”）",
                19001: "webhook 地址无效：请检查 webhook_env 指向的地址或 hook id（机器人可能已被删除）",
                19002: "webhook 地址无效：请检查 webhook_env 指向的地址或 hook id",
                19007: "机器人已停用：请在群设置里启用该自定义机器人",
            }.get(code, "飞书拒绝了这条消息")
            raise DeliveryError(f"飞书群机器人返回错误（{where}，code {code}：{msg}）：{hint}", code=code)
        if data is None:
            raise DeliveryError(f"飞书群机器人返回 HTTP {resp.status_code}，应答不是 JSON（{where}）："
                                f"{_scrub(resp.text, self._secrets())}", code=resp.status_code)
        raise DeliveryError(f"飞书群机器人返回 HTTP {resp.status_code}（{where}）：{msg or '无错误信息'}",
                            code=resp.status_code)


# ---------------------------------------------------------------------------- feishu_user
class _Rejected(Exception):
    """The platform will not deliver to this recipient (reported, not retried)."""

    def __init__(self, code: int, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


class FeishuUserNotifier(Notifier):
    """A message card from a self-built app's bot to each recipient (their Feishu id on the "feishu"
    route), with the acknowledgement link as a button."""

    type_name = "feishu_user"
    title_zh = "飞书应用消息（发给个人）"
    route = "feishu"
    options_schema = options_schema("feishu_user", {
        "app_id": {"type": "string", "pattern": r"^\S+$"},
        "app_secret_env": ENV_NAME,
        "receive_id_type": {"enum": list(RECEIVE_ID_TYPES)},
        "base_url": BASE_URL,
    }, required=("app_id", "app_secret_env"))
    inline_secrets = {"app_secret": "app_secret_env"}
    DELIVERED_TTL = 2 * 3600.0  # remember recipients already written to, across retries of one alert

    def __init__(self, name: str, app_id: str, app_secret: str, *, base_url: str | None = None,
                 receive_id_type: str = "user_id", timeout: float = 10.0, dashboard_url: str | None = None,
                 timezone: str = DEFAULT_TZ, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name)
        if receive_id_type not in RECEIVE_ID_TYPES:
            raise ValueError(receive_id_type)
        self.app_id, self.app_secret = app_id, app_secret
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.receive_id_type, self.timeout = receive_id_type, timeout
        self.dashboard_url, self.timezone = dashboard_url, timezone
        self.clock = clock
        self.app_limiter = RateLimiter(APP_LIMITS, clock, f"飞书应用 “{name}” 的发消息接口")
        self.user_limiter = RateLimiter(USER_LIMITS, clock, "给同一用户发消息")
        self._delivered: dict[tuple[str, str], float] = {}  # (message key, address) -> when
        self._issued: list[str] = []
        self.tokens = TokenCache(self._fetch_token, clock=clock, refused=self._refused)

    @classmethod
    def create(cls, cfg: Mapping[str, Any], secrets: Secrets) -> "FeishuUserNotifier":
        tz = secrets.timezone(cfg)
        return cls(name=cfg["name"], app_id=cfg["app_id"], app_secret=secrets.get(cfg, "app_secret_env") or "",
                   base_url=cfg.get("base_url"), receive_id_type=cfg.get("receive_id_type", "user_id"),
                   timeout=float(cfg.get("timeout", 10.0)), dashboard_url=cfg.get("dashboard_url"), timezone=tz)

    def describe(self) -> str:
        return f"飞书应用 {self.app_id}（{urlsplit(self.base_url).netloc}）"

    def _secrets(self) -> list[str | None]:
        return [self.app_secret, *self._issued]

    # ------------------------------------------------------------------ token
    def _fetch_token(self) -> tuple[str, float]:
        try:
            resp = requests.post(self.base_url + TOKEN_PATH, headers={"Content-Type": JSON_CONTENT},
                                 data=json.dumps({"app_id": self.app_id, "app_secret": self.app_secret}),
                                 timeout=self.timeout, allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryError(f"获取飞书 tenant_access_token 请求失败（{self.describe()}）：{_network(exc, self._secrets())}") from None
        data = _answer(resp)
        code, msg = _code(data), _scrub(_msg(data), self._secrets())
        token = (data or {}).get("tenant_access_token")
        if resp.status_code == 429 or code == 99991400:
            wait = _wait_hint(resp)
            raise DeliveryError(f"获取飞书 tenant_access_token 被限流（{self.describe()}）；将在 {wait:.0f} 秒后重试",
                                retry_after=wait, code=code)
        if code not in (None, 0) or not isinstance(token, str) or not token or not 200 <= resp.status_code < 300:
            hint = {10003: "参数有误，请检查 app_id", 10014: "应用不可用（可能已停用），请在开发者后台检查",
                    10015: "App Secret 错误，请检查 app_secret_env 指向的环境变量"}.get(code or 0, "请检查 app_id 和 app_secret_env")
            raise DeliveryError(f"飞书拒绝签发 tenant_access_token（{self.describe()}，HTTP {resp.status_code}，"
                                f"code {code}：{msg or '无错误信息'}）：{hint}", code=code)
        self._issued = [*self._issued[-4:], token]
        try:
            lifetime = float((data or {}).get("expire", 7200))
        except (TypeError, ValueError):
            lifetime = 7200.0
        return token, lifetime

    def _refused(self, exc: Exception) -> Exception:
        return DeliveryError(f"新取得的 tenant_access_token 也被飞书拒绝（{self.describe()}，code "
                             f"{getattr(exc, 'code', None)}）：请检查应用凭据与应用状态", code=getattr(exc, "code", None))

    # ------------------------------------------------------------------ sending
    @staticmethod
    def message_key(message: AlertMessage) -> str:
        """Tells one message from another: the alert and what it says (a digest that ends with an alert
        already sent alone is a different message)."""
        parts = [str(message.alert_id), message.created_at.isoformat(), message.rule, message.level.value,
                 message.title, message.body]
        return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()

    def uuid(self, message: AlertMessage, address: str) -> str:
        """The same for every attempt at one message to one person: Feishu sends at most one message
        per uuid within an hour. At most 50 characters."""
        key = f"{self.app_id}|{self.name}|{self.message_key(message)}|{self.receive_id_type}|{address}"
        return "sentinel-" + hashlib.sha256(key.encode("utf-8")).hexdigest()[:32]

    def card(self, message: AlertMessage, recipient: Recipient, max_posts: int | None = None) -> dict[str, Any]:
        if recipient.ack_url:
            button: tuple[str, str] | None = ("认领 / 确认", recipient.ack_url)
        else:
            link = message.link(self.dashboard_url)
            button = ("在看板中查看", link) if link else None
        return build_card(message, self.timezone, button, max_posts)

    def body(self, message: AlertMessage, recipient: Recipient) -> bytes:
        def render(max_posts: int | None) -> bytes:
            return json.dumps({
                "receive_id": recipient.address,
                "msg_type": "interactive",
                "content": json.dumps(self.card(message, recipient, max_posts), ensure_ascii=False),
                "uuid": self.uuid(message, recipient.address),
            }, ensure_ascii=False).encode("utf-8")

        return _fit(render, CARD_MAX_BODY, len(message.posts))

    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        if not recipients:
            raise DeliveryError(f"没有收件人：“{self.name}” 是发给个人的飞书通知方式，要由路由（routing 的 via）"
                                "指定收件人；请检查 routing 配置，不要把它当作群通知方式使用")
        invalid: list[str] = []
        reasons: list[str] = []
        self._forget_old()
        key = self.message_key(message)
        seen: set[str] = set()
        for r in recipients:
            address = (r.address or "").strip()
            if address in seen:
                continue
            seen.add(address)
            if (key, address) in self._delivered:
                continue  # written to on an earlier attempt of this alert
            shape = _ADDRESS_SHAPE[self.receive_id_type]
            if not shape.match(address):
                invalid.append(r.address)
                reasons.append(f"{r.username}：地址不是有效的 {self.receive_id_type}")
                continue
            body = self.body(message, r)
            try:
                self.tokens.call(lambda token: self._post(token, body, address))
            except _Rejected as rej:
                invalid.append(r.address)
                reasons.append(f"{r.username}：{rej.reason}（code {rej.code}）")
                continue
            self._delivered[(key, address)] = self.clock()
        if invalid:
            return SendReport(invalid=invalid, note="飞书无法送达：" + "；".join(reasons))
        return SendReport()

    def _forget_old(self) -> None:
        now = self.clock()
        for key in [k for k, at in self._delivered.items() if now - at > self.DELIVERED_TTL]:
            del self._delivered[key]

    def _post(self, token: str, body: bytes, address: str) -> None:
        """One request to im/v1/messages (counted against the app's and the user's limits)."""
        take_all((self.app_limiter, ""), (self.user_limiter, address))
        try:
            resp = requests.post(self.base_url + MESSAGES_PATH, params={"receive_id_type": self.receive_id_type},
                                 data=body, timeout=self.timeout, allow_redirects=False,
                                 headers={"Authorization": f"Bearer {token}", "Content-Type": JSON_CONTENT})
        except requests.RequestException as exc:
            if _never_sent(exc):
                self.app_limiter.release()
                self.user_limiter.release(address)
            raise DeliveryError(f"飞书发消息请求失败（{self.describe()}）：{_network(exc, [*self._secrets(), token])}") from None
        data = _answer(resp)
        code, msg = _code(data), _scrub(_msg(data), [*self._secrets(), token])
        if 200 <= resp.status_code < 300 and data is not None and code in (None, 0):
            return
        where = self.describe()
        if code in TOKEN_INVALID or (resp.status_code == 401 and code is None):
            raise TokenExpired(f"tenant_access_token 无效（code {code}：{msg}）", code=code)
        if code in APP_RATE_LIMITED or resp.status_code == 429:
            wait = _wait_hint(resp, default=RATE_LIMIT_DEFAULT_WAIT if code != 230020 else 5.0)
            raise DeliveryError(f"飞书发消息被限流（{where}，code {code}：{msg}）；将在 {wait:.0f} 秒后重试",
                                retry_after=wait, code=code)
        if code in RECIPIENT_REJECTED:
            raise _Rejected(code, RECIPIENT_REJECTED[code])
        if code == 230049:
            raise DeliveryError(f"飞书说这条消息正在发送中（{where}）；稍后重试（不会重复发送）", retry_after=5.0, code=code)
        if code is not None and code != 0:
            hint = {
                99991672: "应用缺少发消息权限：请在开发者后台为应用开通 im:message:send_as_bot 并发布版本",
                230006: "应用未启用机器人能力：请在开发者后台添加“机器人”能力并发布版本",
                230027: "应用缺少必要权限：请开通 im:message:send_as_bot（user_id 还需 contact:user.employee_id:readonly）",
                230025: "消息超过 30 KB",
                230028: "消息未通过飞书的数据防泄漏审查",
                230022: "消息含有敏感信息",
                230001: "请求参数有误",
                99992402: "请求参数有误",
                99991401: "本机 IP 不在应用的 IP 白名单内",
                99991403: "本月 API 调用次数已达上限",
            }.get(code) or "飞书拒绝了这条消息"
            raise DeliveryError(f"飞书发消息返回错误（{where}，HTTP {resp.status_code}，code {code}：{msg}）：{hint}",
                                code=code)
        if data is None:
            raise DeliveryError(f"飞书发消息返回 HTTP {resp.status_code}，应答不是 JSON（{where}）："
                                f"{_scrub(resp.text, [*self._secrets(), token])}", code=resp.status_code)
        raise DeliveryError(f"飞书发消息返回 HTTP {resp.status_code}（{where}）：{msg or '无错误信息'}",
                            code=resp.status_code)


__all__ = ["FeishuBotNotifier", "FeishuUserNotifier", "RateLimiter", "build_card", "gen_sign"]
