"""DingTalk (钉钉) notifiers: `dingtalk_robot`, a custom group robot, and `dingtalk_notice`, work notices
(工作通知) to named users through an internal app.

`dingtalk_robot` (group notifier, `route = None`): `POST {base_url}/robot/send?access_token=…`, with
`&timestamp=<ms>&sign=<urlEncode(Base64(HmacSHA256(key=secret, msg=f"{timestamp}\\n{secret}")))>` when the
robot's security setting is 加签 (`secret_env`). Body `{"msgtype": "markdown", "markdown": {"title", "text"}}`
in UTF-8; the text links to the alert on the dashboard (never an acknowledgement link: a group reads it).
Answer `{"errcode", "errmsg"}`; errcode 0 is success. The documented limit, 20 messages a minute per robot
("超过20条，会限流10分钟"), is enforced here too, per notifier.

`dingtalk_notice` (personal notifier, `route = "dingtalk"`): an access token from
`GET {base_url}/gettoken?appkey=…&appsecret=…` (`{access_token, expires_in}`, cached, refreshed when the
platform calls it invalid or expired), then `POST {base_url}/topapi/message/corpconversation/asyncsend_v2
?access_token=…` `{"agent_id", "userid_list": "u1,u2", "msg": {"msgtype": "action_card", "action_card":
{"title", "markdown", "single_title", "single_url": <the recipient's ack link>}}}` (or `markdown` without a
link). Each recipient's ack link is their own, so recipients are grouped by link: one request per link.
The send is asynchronous (`task_id`); with `check_result` (default) one more request,
`POST …/topapi/message/corpconversation/getsendresult` `{"agent_id", "task_id"}`, reads
`send_result.invalid_user_id_list` for the SendReport. A recipient already accepted in an earlier,
partly failed attempt of the same alert is not sent again when the outbox retries.

Every failure is a DeliveryError in Chinese saying what to check; no token, secret or signature ever
appears in an error text (they are masked even in the transport's own messages).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
import threading
import time
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable, Mapping, Sequence
from urllib.parse import parse_qs, quote_plus, urlsplit

import requests

from alerts.base import (
    BASE_URL, DEFAULT_TZ, ENV_NAME, AlertMessage, DeliveryError, Notifier, Recipient, Secrets, SendReport,
    options_schema
)
from core.errors import ConfigError
from core.tokens import TokenCache, TokenExpired

DEFAULT_BASE_URL = "https://oapi.dingtalk.com"
ROBOT_PER_MINUTE = 20  # documented: "每个机器人每分钟最多发送20条"
ROBOT_THROTTLE_SECONDS = 600.0  # documented: "如果超过20条，会限流10分钟"
NOTICE_MSG_BYTES = 2048  # documented: msg "最长不超过2048个字节"
NOTICE_USERS_PER_CALL = 100  # userid_list "最大用户列表长度100"; getsendresult refuses more than 100 recipients
NOTICE_RECIPIENTS_PER_MINUTE = 5000  # documented: "每分钟最多可以给 5000 人发送"
NOTICE_REQUESTS_PER_SECOND = 20  # documented for standard organisations: 20 qps per app
NOTICE_PER_USER_PER_DAY = 500  # documented: an internal app sends one person at most 500 notices a day
USER_AGENT = "UnionSentinel/1.0 (alerts)"
NETWORK = "network"  # DeliveryError.code of a request that never reached the platform

_SECRET_PARAM = re.compile(r"(?i)\b(access_token|appsecret|appkey|secret|sign|timestamp)=[^&\s'\"]+")


# ---------------------------------------------------------------------------------------------- helpers
class _Scrub:
    """Masks secrets (and secret query values) in any text that may reach an error message or a log."""

    def __init__(self, *secrets: str | None) -> None:
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def add(self, secret: str | None) -> None:
        if secret and len(secret) >= 4 and secret not in self.secrets:
            self.secrets = sorted([*self.secrets, secret], key=len, reverse=True)

    def __call__(self, value: Any, limit: int = 200) -> str:
        text = " ".join(str(value).split())
        for secret in self.secrets:
            text = text.replace(secret, "***").replace(quote_plus(secret), "***")
        text = _SECRET_PARAM.sub(r"\1=***", text)
        return text if len(text) <= limit else text[: limit - 1] + "…"


class _Window:
    """A sliding window: at most `limit` units in any `period` seconds (units: messages, recipients)."""

    def __init__(self, limit: int, period: float, clock: Callable[[], float]) -> None:
        self.limit, self.period, self.clock = limit, period, clock
        self.events: deque[tuple[float, int]] = deque()
        self.blocked_until = 0.0

    def wait(self, units: int = 1) -> float:
        """Seconds until `units` more fit (0: now)."""
        now = self.clock()
        while self.events and self.events[0][0] <= now - self.period:
            self.events.popleft()
        wait = max(0.0, self.blocked_until - now)
        used = sum(n for _, n in self.events)
        if used + units > self.limit:
            freed = 0
            for at, n in self.events:  # the oldest events leave the window first
                freed += n
                if used - freed + units <= self.limit:
                    wait = max(wait, at + self.period - now)
                    break
        return wait

    def add(self, units: int = 1) -> None:
        self.events.append((self.clock(), units))

    def release(self, units: int = 1) -> None:
        """Take back the newest `units` (a request that never reached the platform)."""
        if self.events and self.events[-1][1] == units:
            self.events.pop()

    def block(self, seconds: float) -> None:
        self.blocked_until = max(self.blocked_until, self.clock() + seconds)


def robot_sign(secret: str, timestamp_ms: int | str) -> str:
    """The documented 加签 value before URL-encoding: Base64(HmacSHA256(key=secret, msg="timestamp\\nsecret"))."""
    string_to_sign = f"{timestamp_ms}\n{secret}".encode("utf-8")
    digest = hmac.new(secret.encode("utf-8"), string_to_sign, hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")




def _errcode(answer: Mapping[str, Any]) -> int | None:
    """The answer's errcode as an int (the platform sends a number; a string is accepted too)."""
    value = answer.get("errcode")
    if value is None or value == "":
        return None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _host(url: str) -> str:
    return urlsplit(url).netloc or url


def _retry_after_header(resp: requests.Response) -> float | None:
    value = resp.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value else None
    except ValueError:
        return None


def _post_or_get(session: requests.Session, method: str, url: str, *, body: bytes | None, timeout: float,
                 scrub: _Scrub, what: str) -> dict[str, Any]:
    """One HTTP request; the decoded JSON object, or a DeliveryError (nothing secret in its text)."""
    headers = {"User-Agent": USER_AGENT}
    if body is not None:
        headers["Content-Type"] = "application/json; charset=utf-8"
    try:
        resp = session.request(method, url, data=body, headers=headers, timeout=timeout, allow_redirects=False)
    except requests.Timeout:
        raise DeliveryError(f"{what}超时（{_host(url)}，超过 {timeout:g} 秒未响应）；请检查网络，或调大 timeout") from None
    except requests.RequestException as exc:
        raise DeliveryError(f"{what}失败：无法连接 {_host(url)}（{type(exc).__name__}: {scrub(exc)}）；"
                            "请检查网络、代理和 base_url", code=NETWORK) from None
    try:
        answer = resp.json()
    except ValueError:
        answer = None
    if resp.status_code != 200 and not (isinstance(answer, dict) and _errcode(answer)):
        retry_after = _retry_after_header(resp)
        if resp.status_code == 429:
            raise DeliveryError(f"{what}被限流（HTTP 429）", retry_after=retry_after or 60.0, code=429)
        hint = "钉钉服务暂时不可用，稍后自动重试" if resp.status_code >= 500 else "请检查 base_url"
        raise DeliveryError(f"{what}失败：HTTP {resp.status_code}（{_host(url)}）：{scrub(resp.text, 120)}；{hint}",
                            retry_after=retry_after, code=resp.status_code)
    if not isinstance(answer, dict):
        raise DeliveryError(f"{what}失败：{_host(url)} 返回的不是 JSON（HTTP {resp.status_code}）："
                            f"{scrub(resp.text, 120)}")
    return answer


# ---------------------------------------------------------------------------------------------- messages
def _cut(text: str, chars: int | None) -> str:
    return text if chars is None or len(text) <= chars else text[: max(chars - 1, 0)] + "…"


def _markdown(message: AlertMessage, tz: str, *, posts: int | None = None, excerpt_chars: int = 300,
              body_chars: int | None = None, link: tuple[str, str] | None = None, footer: str = "") -> str:
    """The alert as DingTalk markdown (paragraphs separated by blank lines, which DingTalk renders).
    The last line names the alert's number: no two alerts ever read the same."""
    shown = message.posts if posts is None else message.posts[:posts]
    parts = [
        f"#### {_cut(message.subject, body_chars)}",
        f"**级别**：{message.level_zh}",
        f"**时间**：{message.local_time(tz)}（{tz}）",
        f"**规则**：{_cut(message.rule, body_chars)}",
        _cut(message.body, body_chars),
    ]
    if shown:
        items = []
        for i, p in enumerate(shown, 1):
            items.append(f"{i}. [{p.channel_zh}] {_cut(' '.join(p.excerpt.split()), excerpt_chars)}")
        more = len(message.posts) - len(shown)
        if more > 0:
            items.append(f"……另有 {more} 条，请在看板中查看")
        parts.append("**相关帖子（个人信息已遮盖）**：\n\n" + "\n\n".join(items))
    if link:
        parts.append(f"[{link[0]}]({link[1]})")
    which = f"汇总至预警 #{message.alert_id}" if message.rule == "digest" else f"预警 #{message.alert_id}"
    parts.append(f"—— {which} · 高校工会舆情哨兵{footer}")
    return "\n\n".join(parts)


# ---------------------------------------------------------------------------------------------- robot
ROBOT_TOKEN_ERRORS = {300001, 300005, 400101}
ROBOT_RATE_ERRORS = {130101, 410100}


class DingTalkRobotNotifier(Notifier):
    """A custom robot (自定义机器人) in a DingTalk group: one markdown message per alert."""

    type_name = "dingtalk_robot"
    title_zh = "钉钉群自定义机器人"
    route = None
    options_schema = options_schema("dingtalk_robot", {
        "access_token_env": ENV_NAME,
        "secret_env": ENV_NAME,
        "keyword": {"type": "string", "minLength": 1},
        "base_url": BASE_URL,
    }, required=("access_token_env",))

    def __init__(self, name: str, access_token: str, secret: str | None = None, *, keyword: str | None = None,
                 base_url: str = DEFAULT_BASE_URL, dashboard_url: str | None = None, timeout: float = 10.0,
                 timezone: str = DEFAULT_TZ, clock: Callable[[], float] = time.monotonic,
                 now_ms: Callable[[], int] = lambda: int(time.time() * 1000)) -> None:
        super().__init__(name)
        self.access_token, self.secret, self.keyword = access_token, secret, keyword
        self.base_url = base_url.rstrip("/")
        self.dashboard_url, self.timeout, self.timezone = dashboard_url, timeout, timezone
        self.now_ms = now_ms
        self.window = _Window(ROBOT_PER_MINUTE, 60.0, clock)
        self.session = requests.Session()
        self.scrub = _Scrub(access_token, secret)
        self._lock = threading.Lock()

    @classmethod
    def create(cls, cfg: Mapping[str, Any], secrets: Secrets) -> "DingTalkRobotNotifier":
        tz = secrets.timezone(cfg)
        token = (secrets.get(cfg, "access_token_env") or "").strip()
        if token.startswith(("http://", "https://")):  # the whole Webhook address was pasted: take its token
            token = (parse_qs(urlsplit(token).query).get("access_token") or [""])[0]
            if not token:
                raise ConfigError(secrets.config_file, f"{secrets.where}.access_token_env",
                                  f"环境变量 {cfg['access_token_env']} 里的 Webhook 地址没有 access_token 参数；"
                                  "请只填 Webhook 地址中 access_token= 后面的部分")
        secret = secrets.get(cfg, "secret_env")
        return cls(name=cfg["name"], access_token=token, secret=secret.strip() if secret else None,
                   keyword=cfg.get("keyword"), base_url=cfg.get("base_url", DEFAULT_BASE_URL),
                   dashboard_url=cfg.get("dashboard_url"), timeout=float(cfg.get("timeout", 10.0)), timezone=tz)

    def describe(self) -> str:
        return f"钉钉群机器人（{_host(self.base_url)}）"

    def payload(self, message: AlertMessage) -> dict[str, Any]:
        """The documented markdown message. Group chat: a dashboard link at most, no acknowledgement link."""
        link = message.link(self.dashboard_url)
        footer = ""
        text = _markdown(message, self.timezone, link=("在看板中查看和处理", link) if link else None)
        if self.keyword and self.keyword not in text:
            footer = f" · {self.keyword}"
            text = _markdown(message, self.timezone, link=("在看板中查看和处理", link) if link else None,
                             footer=footer)
        return {"msgtype": "markdown", "markdown": {"title": message.subject, "text": text}}

    def url(self) -> str:
        """The send address with the documented query: access_token, and timestamp + sign under 加签."""
        query = f"access_token={quote_plus(self.access_token)}"
        if self.secret:
            timestamp = int(self.now_ms())
            query += f"&timestamp={timestamp}&sign={quote_plus(robot_sign(self.secret, timestamp))}"
        return f"{self.base_url}/robot/send?{query}"

    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        with self._lock:
            wait = self.window.wait()
            if wait > 0:
                raise DeliveryError(f"钉钉群机器人每分钟最多发送 {ROBOT_PER_MINUTE} 条消息（超过会被限流 10 分钟）；"
                                    f"本条将在 {wait:.0f} 秒后再发", retry_after=wait, code="client_rate_limit")
            self.window.add()
        try:
            answer = _post_or_get(self.session, "POST", self.url(), body=body, timeout=self.timeout,
                                  scrub=self.scrub, what="钉钉群机器人发送")
        except DeliveryError as exc:
            if exc.code == NETWORK:  # never reached DingTalk: does not count against its limit
                with self._lock:
                    self.window.release()
            raise
        code = _errcode(answer)
        if not code:
            return None
        raise self._error(code, str(answer.get("errmsg", "")))

    def _error(self, code: int, errmsg: str) -> DeliveryError:
        msg = self.scrub(errmsg, 160)
        low = errmsg.lower()
        if code == 310000:  # the robot's security settings refused the message
            if "keyword" in low or "关键词" in errmsg or "关键字" in errmsg:
                why = ("消息不含机器人安全设置里的自定义关键词；请把其中一个关键词填进 keyword 选项"
                       "（或改用加签）")
            elif "timestamp" in low or "时间戳" in errmsg:
                why = "时间戳无效：本机时钟与标准时间相差超过 1 小时，请校准系统时间（NTP）"
            elif "sign" in low or "签名" in errmsg:
                why = ("加签不匹配：请确认机器人安全设置选了“加签”，且 secret_env 指向的环境变量里是"
                       "“加签”下方以 SEC 开头的完整密钥")
            elif "ip" in low or "白名单" in errmsg:
                why = "本机出口 IP 不在机器人安全设置的 IP 地址（段）白名单里；请把它加进白名单，或改用加签"
            else:
                why = ("被机器人安全设置拒绝；请核对三项设置：自定义关键词（keyword）、加签（secret_env）、"
                       "IP 地址（段）白名单")
            return DeliveryError(f"钉钉群机器人拒收（errcode 310000）：{why}。钉钉原文：{msg}", code=code)
        if code in ROBOT_RATE_ERRORS:
            self.window.block(ROBOT_THROTTLE_SECONDS)
            return DeliveryError(f"钉钉群机器人发送太快被限流（errcode {code}，每分钟最多 {ROBOT_PER_MINUTE} 条，"
                                 f"超过后限流 10 分钟）：{msg}", retry_after=ROBOT_THROTTLE_SECONDS, code=code)
        if code in ROBOT_TOKEN_ERRORS:
            return DeliveryError(f"钉钉群机器人的 access_token 不存在（errcode {code}）：请检查 access_token_env 指向的"
                                 "环境变量，只填 Webhook 地址里 access_token= 后面的部分；机器人被删除后需重新添加。"
                                 f"钉钉原文：{msg}", code=code)
        known = {
            400013: "群已被解散，请把机器人加到别的群并更新 access_token",
            400102: "机器人已停用，请群管理员在群设置 → 机器人里启用它",
            400105: "不支持的消息类型（程序问题，请反馈）",
            400106: "机器人不存在，请确认它仍在群里",
            430101: "消息含有不安全的外链，请检查 dashboard_url",
            430102: "消息含有不合适的文本，被钉钉内容安全拦截",
            430103: "消息含有不合适的图片，被钉钉内容安全拦截",
            430104: "消息含有不合适的内容，被钉钉内容安全拦截",
        }
        if code in known:
            return DeliveryError(f"钉钉群机器人拒收（errcode {code}）：{known[code]}。钉钉原文：{msg}", code=code)
        if code == 90030:
            return DeliveryError(f"钉钉群机器人调用次数已达上限（errcode 90030）：{msg}", retry_after=3600.0, code=code)
        if code == -1:
            return DeliveryError(f"钉钉系统繁忙（errcode -1），稍后自动重试：{msg}", code=code)
        return DeliveryError(f"钉钉群机器人返回错误 errcode {code}：{msg}", code=code)


# ---------------------------------------------------------------------------------------------- work notice
TOKEN_INVALID = {33001, 40001, 40014, 42001}  # invalid / expired access_token: refresh and try once more
NOTICE_RATE = {  # errcode -> seconds to wait
    90018: 1.0,  # 每个 appkey 调用单个接口的频率超过每秒限制
    90002: 60.0, 90005: 60.0, 90006: 60.0, 90019: 60.0,  # 每分钟调用频率
    41047: 60.0, 41048: 60.0,  # 每分钟消息发送次数上限
    143103: 60.0, 143104: 60.0, 143203: 60.0, 143204: 60.0,  # 发送人次 QPM 超限
    143105: 3600.0, 143205: 3600.0,  # 单应用给单人每日推送量超限
    90020: 3600.0,  # 本月 API 调用量超过限额
}
DUPLICATE_CODES = {"143106", "143206"}  # 给同一员工一天只能发送一条内容相同的消息通知


@dataclass
class _Batch:
    link: str | None
    users: list[str]


class DingTalkNoticeNotifier(Notifier):
    """Work notices (工作通知) from an internal app to the DingTalk users routing chose."""

    type_name = "dingtalk_notice"
    title_zh = "钉钉工作通知（企业内部应用）"
    route = "dingtalk"
    options_schema = options_schema("dingtalk_notice", {
        "app_key": {"type": "string", "minLength": 1},
        "app_secret_env": ENV_NAME,
        "agent_id": {"type": ["integer", "string"], "minimum": 1, "pattern": r"^[1-9][0-9]*$"},
        "base_url": BASE_URL,
        "check_result": {"type": "boolean"},
    }, required=("app_key", "app_secret_env", "agent_id"))

    def __init__(self, name: str, app_key: str, app_secret: str, agent_id: int, *,
                 base_url: str = DEFAULT_BASE_URL, dashboard_url: str | None = None, check_result: bool = True,
                 timeout: float = 10.0, timezone: str = DEFAULT_TZ,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name)
        self.app_key, self.app_secret, self.agent_id = app_key, app_secret, int(agent_id)
        self.base_url = base_url.rstrip("/")
        self.dashboard_url, self.check_result = dashboard_url, check_result
        self.timeout, self.timezone = timeout, timezone
        self.session = requests.Session()
        self.scrub = _Scrub(app_secret)
        self.tokens = TokenCache(self._fetch_token, clock=clock, refused=self._refused)
        self.per_second = _Window(NOTICE_REQUESTS_PER_SECOND, 1.0, clock)
        self.per_minute = _Window(NOTICE_RECIPIENTS_PER_MINUTE, 60.0, clock)
        self.per_user: dict[str, _Window] = {}  # beyond 500 a day DingTalk answers success and drops them
        self.clock = clock
        self._accepted: OrderedDict[tuple[int, str], set[str]] = OrderedDict()  # (alert, rule) -> accepted users
        self._lock = threading.Lock()

    @classmethod
    def create(cls, cfg: Mapping[str, Any], secrets: Secrets) -> "DingTalkNoticeNotifier":
        tz = secrets.timezone(cfg)
        secret = (secrets.get(cfg, "app_secret_env") or "").strip()
        return cls(name=cfg["name"], app_key=cfg["app_key"], app_secret=secret, agent_id=int(cfg["agent_id"]),
                   base_url=cfg.get("base_url", DEFAULT_BASE_URL), dashboard_url=cfg.get("dashboard_url"),
                   check_result=bool(cfg.get("check_result", True)), timeout=float(cfg.get("timeout", 10.0)),
                   timezone=tz)

    def describe(self) -> str:
        return f"钉钉工作通知（应用 AgentId {self.agent_id}）"

    # -------------------------------------------------------------- token
    def _fetch_token(self) -> tuple[str, float]:
        url = (f"{self.base_url}/gettoken?appkey={quote_plus(self.app_key)}"
               f"&appsecret={quote_plus(self.app_secret)}")
        answer = _post_or_get(self.session, "GET", url, body=None, timeout=self.timeout, scrub=self.scrub,
                              what="获取钉钉访问令牌")
        code = _errcode(answer)
        token = answer.get("access_token")
        if code or not isinstance(token, str) or not token:
            errmsg = self.scrub(answer.get("errmsg", ""), 160)
            if code == 40089 or code == 40001:
                why = "AppKey 或 AppSecret 不对：请核对 app_key 与 app_secret_env 指向的环境变量（开发者后台 → 应用 → 凭证与基础信息）"
            elif code == 60020:
                why = "本机出口 IP 不在应用的服务器出口 IP 白名单里：请在开发者后台把它加上"
            elif code in NOTICE_RATE:
                raise DeliveryError(f"获取钉钉访问令牌被限流（errcode {code}）：{errmsg}",
                                    retry_after=NOTICE_RATE[code], code=code)
            else:
                why = "请检查 app_key、app_secret_env 和应用状态"
            raise DeliveryError(f"获取钉钉访问令牌失败（errcode {code}）：{why}。钉钉原文：{errmsg}", code=code)
        self.scrub.add(token)
        try:
            lifetime = float(answer.get("expires_in") or 7200)
        except (TypeError, ValueError):
            lifetime = 7200.0
        return token, lifetime

    @staticmethod
    def _refused(exc: Exception) -> Exception:
        return DeliveryError("新取得的钉钉访问令牌也被拒绝（errcode "
                             f"{getattr(exc, 'code', '?')}）：请检查应用的 AppKey/AppSecret 与接口权限",
                             code=getattr(exc, "code", None))

    def _call(self, path: str, body: dict[str, Any], what: str) -> dict[str, Any]:
        """POST `body` to `path` with the cached token; an invalid/expired token is refreshed once."""
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")

        def attempt(token: str) -> dict[str, Any]:
            url = f"{self.base_url}/{path}?access_token={quote_plus(token)}"
            answer = _post_or_get(self.session, "POST", url, body=data, timeout=self.timeout, scrub=self.scrub,
                                  what=what)
            code = _errcode(answer)
            if code in TOKEN_INVALID or (code == 88 and _sub_code(answer) in TOKEN_INVALID):
                raise TokenExpired(f"errcode {code}", code=_sub_code(answer) if code == 88 else code)
            return answer

        return self.tokens.call(attempt)

    # -------------------------------------------------------------- messages
    def msg(self, message: AlertMessage, link: str | None) -> dict[str, Any]:
        """The documented `msg`: an action card whose button opens `link` (the ack link), or markdown.
        Unique per alert (its number and time are in it: DingTalk drops identical content sent to one
        person twice a day) and at most 2,048 bytes (excerpts are shortened, then dropped, to fit)."""

        def build(posts: int, chars: int, body_chars: int | None = None) -> dict[str, Any]:
            text = _markdown(message, self.timezone, posts=posts, excerpt_chars=chars, body_chars=body_chars)
            title = _cut(message.subject, body_chars or 120)
            if link:
                return {"msgtype": "action_card", "action_card": {
                    "title": title, "markdown": text, "single_title": "查看并认领 / 确认", "single_url": link}}
            return {"msgtype": "markdown", "markdown": {"title": title, "text": text}}

        attempts = [(posts, chars, None) for posts in range(len(message.posts), -1, -1) for chars in (300, 120, 60)]
        attempts += [(0, 60, body_chars) for body_chars in (400, 150, 60, 20)]  # the alert's own texts are huge
        candidate: dict[str, Any] = {}
        for posts, chars, body_chars in attempts:
            candidate = build(posts, chars, body_chars)
            if len(json.dumps(candidate, ensure_ascii=False).encode("utf-8")) <= NOTICE_MSG_BYTES:
                break
        return candidate  # only an ack link longer than ~1.5 KB could still exceed the limit

    # -------------------------------------------------------------- send
    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        users = [r for r in recipients if r.address.strip()]
        if not users:
            raise DeliveryError("钉钉工作通知没有收件人：没有用户填写钉钉 userid，或路由没有选中任何人；"
                                "请在用户资料里填写钉钉 userid")
        key = (message.alert_id, message.rule)
        with self._lock:
            done = self._accepted.get(key, set())
            batches = self._batches(message, [r for r in users if r.address.strip() not in done])
            invalid: list[str] = []
            notes: list[str] = []
            if not batches:
                self._accepted.pop(key, None)
                return SendReport(note="所有收件人此前已由钉钉受理")
            sent = 0
            for batch in batches:
                try:
                    task_id = self._send_batch(message, batch)
                except DeliveryError as exc:
                    if sent:
                        exc.args = (f"{exc.args[0]}（本次已有 {sent} 人由钉钉受理，重试时只补发其余的人）",)
                    raise
                sent += len(batch.users)
                self._remember(key, batch.users)
                if task_id is not None and self.check_result:
                    bad, note = self._result(task_id, batch.users)
                    invalid += bad
                    if note:
                        notes.append(note)
            self._accepted.pop(key, None)
        if invalid or notes:
            return SendReport(invalid=invalid, note="；".join(notes))
        return None

    def _batches(self, message: AlertMessage, recipients: Iterable[Recipient]) -> list[_Batch]:
        by_link: dict[str | None, list[str]] = {}
        for r in recipients:
            address = r.address.strip()
            link = r.ack_url or message.link(self.dashboard_url)
            users = by_link.setdefault(link, [])
            if address not in users:
                users.append(address)
        return [_Batch(link, users[i: i + NOTICE_USERS_PER_CALL])
                for link, users in by_link.items() for i in range(0, len(users), NOTICE_USERS_PER_CALL)]

    def _remember(self, key: tuple[int, str], users: list[str]) -> None:
        self._accepted.setdefault(key, set()).update(users)
        self._accepted.move_to_end(key)
        while len(self._accepted) > 1000:
            self._accepted.popitem(last=False)

    def _send_batch(self, message: AlertMessage, batch: _Batch) -> Any:
        wait = max(self.per_second.wait(), self.per_minute.wait(len(batch.users)))
        if wait > 0:
            raise DeliveryError(f"钉钉工作通知发送频率已到上限（每秒 {NOTICE_REQUESTS_PER_SECOND} 次、每分钟 "
                                f"{NOTICE_RECIPIENTS_PER_MINUTE} 人次）；{wait:.0f} 秒后再发",
                                retry_after=max(wait, 1.0), code="client_rate_limit")
        windows = [self.per_user.setdefault(u, _Window(NOTICE_PER_USER_PER_DAY, 86400.0, self.clock))
                   for u in batch.users]
        full = [(u, w.wait()) for u, w in zip(batch.users, windows) if w.wait() > 0]
        if full:
            raise DeliveryError(f"钉钉工作通知每人每天最多 {NOTICE_PER_USER_PER_DAY} 条（超出的钉钉会丢弃）："
                                f"{'、'.join(u for u, _ in full)} 今天已满；{max(w for _, w in full) / 3600:.1f} 小时后再发",
                                retry_after=max(w for _, w in full), code="client_rate_limit")
        self.per_second.add()
        self.per_minute.add(len(batch.users))
        for w in windows:
            w.add()
        body = {"agent_id": self.agent_id, "userid_list": ",".join(batch.users), "msg": self.msg(message, batch.link)}
        answer = self._call("topapi/message/corpconversation/asyncsend_v2", body, "钉钉工作通知发送")
        code = _errcode(answer)
        if code:
            sub = _sub_code(answer)
            if code in DUPLICATE_CODES_INT or sub in DUPLICATE_CODES_INT:
                return None  # the same content already reached these people today
            raise self._error(code, answer)
        return answer.get("task_id")

    def _result(self, task_id: Any, users: list[str]) -> tuple[list[str], str]:
        """`getsendresult` for one task: (invalid user ids, a note). Best effort: the notice was already
        accepted, so a failure here is a note, never a DeliveryError (that would send it twice)."""
        try:
            answer = self._call("topapi/message/corpconversation/getsendresult",
                                {"agent_id": self.agent_id, "task_id": task_id}, "查询钉钉工作通知发送结果")
        except DeliveryError as exc:
            return [], f"发送结果查询失败（通知已由钉钉受理）：{exc}"
        code = _errcode(answer)
        if code:
            return [], f"发送结果查询失败（通知已由钉钉受理）：errcode {code} {self.scrub(answer.get('errmsg', ''), 80)}"
        result = answer.get("send_result") or answer.get("result") or {}
        if not isinstance(result, dict):
            return [], ""
        invalid = [u for u in _ids(result.get("invalid_user_id_list")) if u]
        failed = _ids(result.get("failed_user_id_list"))
        forbidden = _ids(result.get("forbidden_user_id_list"))
        duplicates = {str(f.get("userid")) for f in result.get("forbidden_list") or []
                      if isinstance(f, dict) and str(f.get("code")) in DUPLICATE_CODES}
        notes = []
        if invalid:
            notes.append(f"钉钉说这些 userid 无效：{'、'.join(invalid)}（请核对用户资料里的钉钉 userid）")
        limited = [u for u in forbidden if u not in duplicates]
        if limited:
            notes.append(f"钉钉因发送频率或每日上限未投递给：{'、'.join(limited)}")
        if failed:
            notes.append(f"钉钉投递失败：{'、'.join(failed)}")
        return invalid, "；".join(notes)

    def _error(self, code: int, answer: Mapping[str, Any]) -> DeliveryError:
        sub = _sub_code(answer)
        text = self.scrub(answer.get("sub_msg") or answer.get("errmsg") or "", 160)
        if code in NOTICE_RATE or sub in NOTICE_RATE:
            wait = NOTICE_RATE.get(code) or NOTICE_RATE.get(sub or 0) or 60.0
            return DeliveryError(f"钉钉工作通知被限流（errcode {code}{f'/{sub}' if sub else ''}）：{text}",
                                 retry_after=wait, code=code)
        if 60011 in (code, sub):
            why = "应用没有调用该接口的权限：请在开发者后台为应用开通权限并发布新版本"
        elif 60020 in (code, sub):
            why = "本机出口 IP 不在应用的服务器出口 IP 白名单里：请在开发者后台把它加上"
        elif 40056 in (code, sub):
            why = "agent_id 不对：请填开发者后台 → 应用 → 凭证与基础信息里的 AgentId"
        elif code == 1430000:
            why = "收件人为空"
        elif code == 1430002:
            why = "消息含有违禁内容，被钉钉拦截"
        elif code == -1:
            why = "钉钉系统繁忙，稍后自动重试"
        else:
            why = "请检查应用配置（app_key、agent_id）和可见范围"
        return DeliveryError(f"钉钉工作通知发送失败（errcode {code}{f'/{sub}' if sub else ''}）：{why}。钉钉原文：{text}",
                             code=code)


DUPLICATE_CODES_INT = {int(c) for c in DUPLICATE_CODES}


def _sub_code(answer: Mapping[str, Any]) -> int | None:
    value = answer.get("sub_code")
    try:
        return int(value) if value not in (None, "") else None
    except (TypeError, ValueError):
        return None


def _ids(value: Any) -> list[str]:
    """A list of user ids from an answer: a JSON list, or a comma-separated string."""
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return [str(v) for v in value if v is not None and str(v)]
    return []


__all__ = ["DingTalkNoticeNotifier", "DingTalkRobotNotifier", "robot_sign"]
