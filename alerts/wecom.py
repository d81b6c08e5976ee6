"""WeCom (企业微信) notifiers: `wecom_app` (an application message to named users) and `wecom_robot`
(a group robot, 群机器人 / 消息推送, in one group chat).

What each follows in WeCom's documentation (developer.work.weixin.qq.com/document/path/…):

- `wecom_app`
  - token (91039 获取access_token): `GET /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET` →
    `{errcode, errmsg, access_token, expires_in}`; cached until shortly before `expires_in` runs out
    (core.tokens.TokenCache). "企业微信可能会出于运营需要，提前使access_token失效": errcode 40014
    (不合法的access_token) or 42001 (access_token已过期) on a call → fetch a new token and repeat that
    call once. 40001 is 不合法的secret参数 in WeCom (not a token code as in the WeChat MP API).
  - sending (90236 发送应用消息): `POST /cgi-bin/message/send?access_token=…` with
    `{touser: "u1|u2", msgtype, agentid, textcard|text: {…}, enable_duplicate_check, …}`; the answer
    `{errcode, errmsg, invaliduser, invalidparty, invalidtag, unlicenseduser, msgid, response_code}`.
    Recipients the platform rejected while delivering to the others come back in `invaliduser` (and
    `unlicenseduser`), user ids in lower case; when every recipient is rejected the call fails with
    81013. Each recipient with an acknowledgement link gets their own `textcard` (title ≤128 bytes,
    description ≤512 bytes with `<div class="gray|highlight|normal">`, url = the ack link, btntxt ≤4
    characters); recipients without one share one message (a textcard to the dashboard, or text
    ≤2048 bytes). `enable_duplicate_check` keeps a repeated identical request (a retry after an answer
    that got lost) from reaching anyone twice.
  - limits (90236, 90454 访问频率限制): per app and member at most 30 messages a minute and 1000 an
    hour, "超过部分会被丢弃不下发" (silently dropped!), so they are enforced here, per member, before
    calling; "按分钟拦截则被屏蔽60秒，按小时拦截则被屏蔽60分钟": 45009 (接口调用超过限制) waits 60 s,
    45033 (接口并发调用超过限制) a few seconds.
- `wecom_robot` (91770 / 99110 群机器人配置说明): `POST /cgi-bin/webhook/send?key=KEY` with
  `{msgtype: "markdown", markdown: {content ≤4096 bytes}}` or `{msgtype: "text", text: {content ≤2048
  bytes}}` → `{errcode, errmsg}`; "每个机器人发送的消息不能超过20条/分钟" (enforced here; 45009 from
  the platform waits 60 s); 93000 invalid webhook url (a wrong or deleted key).

Every failure is a DeliveryError in Chinese; secrets, tokens and keys never appear in one (they ride
in query strings, so network errors are rewritten, not quoted).
"""
from __future__ import annotations

import html
import json
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

import requests

from alerts.base import (
    BASE_URL, DEFAULT_TZ, ENV_NAME, AlertMessage, DeliveryError, Notifier, Recipient, Secrets, SendReport,
    options_schema
)
from core.errors import ConfigError
from core.ratelimit import KeyedLimits
from core.masking import redact
from core.tokens import TokenCache, TokenExpired

log = logging.getLogger("sentinel.alerts")

DEFAULT_BASE_URL = "https://qyapi.weixin.qq.com"
USER_AGENT = "UnionSentinel/1.0 (+https://github.com/union-sentinel)"

TOKEN_CODES = frozenset({40014, 42001})  # 不合法的access_token, access_token已过期: refresh once
ALL_INVALID = 81013  # UserID、部门ID、标签ID全部非法或无权限
RATE_LIMIT_WAIT = {45009: 60.0, 45033: 10.0}  # 接口调用超过限制 (blocked 60 s), 接口并发调用超过限制

# Byte limits from the documentation (UTF-8).
TEXTCARD_TITLE_BYTES = 128
TEXTCARD_DESCRIPTION_BYTES = 512
TEXTCARD_URL_BYTES = 2048
APP_TEXT_BYTES = 2048
ROBOT_MARKDOWN_BYTES = 4096
ROBOT_TEXT_BYTES = 2048
MAX_TOUSER = 1000  # touser: at most 1000 user ids per call
BUTTON_TEXT = "认领确认"  # btntxt: at most 4 characters
DUPLICATE_CHECK_SECONDS = 1800

# Per app and member (90236): 30 a minute, 1000 an hour, the excess is dropped without an error.
MEMBER_LIMITS = ((30, 60.0), (1000, 3600.0))
ROBOT_LIMITS = ((20, 60.0),)  # per robot: 20 messages a minute

_EXPLAIN: dict[int, str] = {
    -1: "企业微信系统繁忙，稍后会自动重试",
    40001: "应用 Secret 不正确：请检查 secret_env 指向的环境变量，Secret 在管理后台「应用管理 → 本应用」中查看",
    40003: "成员 UserID 无效",
    40008: "消息类型不合法",
    40013: "corp_id 不正确：企业ID 在管理后台「我的企业 → 企业信息」页底部",
    40033: "请求里有不合法的字符",
    40056: "agent_id 不正确：AgentId 在管理后台「应用管理 → 本应用」中查看",
    40058: "参数不合法（可能是消息内容超长）",
    40091: "Secret 不属于这个企业：请确认 corp_id 与 Secret 来自同一个企业",
    41001: "请求缺少 access_token",
    41002: "corp_id 为空",
    41004: "Secret 为空",
    44004: "消息内容为空",
    45002: "消息内容超过长度限制",
    45009: "接口调用超过企业微信的频率限制，60 秒后再试",
    45033: "接口并发调用超过限制，稍后再试",
    48002: "该应用无权调用发送消息接口：请确认用的是这个自建应用自己的 Secret（不是通讯录同步等其他 Secret），且应用已启用",
    50003: "应用已被停用：请在管理后台「应用管理」中启用它",
    60020: "本服务器的出口 IP 不在该应用的「企业可信IP」里：请在管理后台「应用管理 → 本应用 → 开发者接口 → 企业可信IP」加入它（约 1 分钟后生效）",
    81013: "收件人全部无效或无权限：请确认这些成员的 UserID 正确，并且在该应用的「可见范围」内",
    82001: "指定的成员全部无效",
    93000: "群机器人的 Webhook key 无效：请检查 key_env 指向的环境变量（只填 key=后面那一串），或机器人已被移出群聊或删除",
    301002: "无权操作这个应用：agent_id 与 Secret 不属于同一个应用",
}

_SECRET_QUERY = re.compile(r"((?:corpsecret|access_token|key)=)[^&\s'\"<>)]+", re.IGNORECASE)
_ERRNO = re.compile(r"\[Errno -?\d+\][^'\")\]]*")
_FROM_IP = re.compile(r"from ip:\s*([0-9A-Fa-f.:]+)")


# --------------------------------------------------------------------------- helpers
def fit_bytes(text: str, limit: int) -> str:
    """`text` cut to at most `limit` UTF-8 bytes, with "…" when cut (never half a character)."""
    data = text.encode("utf-8")
    if len(data) <= limit:
        return text
    ellipsis = "…".encode("utf-8")
    return data[: max(0, limit - len(ellipsis))].decode("utf-8", "ignore") + "…"


def _nbytes(text: str) -> int:
    return len(text.encode("utf-8"))


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _md_safe(text: str) -> str:
    """Text that cannot mention anyone (`<@userid>`) nor open links or markup in WeCom markdown."""
    return (text.replace("<", "＜").replace(">", "＞").replace("[", "［").replace("]", "］")
            .replace("`", "｀"))


def _no_mention(text: str) -> str:
    """Plain text that cannot mention anyone in a group (`<@userid>`, `<@all>`)."""
    return text.replace("<", "＜").replace(">", "＞")


def _errcode(data: Mapping[str, Any]) -> int:
    value = data.get("errcode", 0)
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _retry_after(value: str | None) -> float | None:
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and math.isfinite(seconds) and seconds >= 0 else None




# --------------------------------------------------------------------------- HTTP
class _WeComHttp:
    """One HTTP request to qyapi, answered as a dict or raised as a DeliveryError without secrets."""

    base_url: str
    timeout: float

    def _hidden(self) -> list[str]:
        return []

    def _scrub(self, text: str) -> str:
        for value in self._hidden():
            if value:
                for form in {value, quote(value, safe=""), quote_plus(value)}:
                    text = text.replace(form, "***")
        return _SECRET_QUERY.sub(r"\1***", text)

    @property
    def host(self) -> str:
        return urlsplit(self.base_url).netloc or self.base_url

    def _request(self, method: str, path: str, what: str, *, params: dict[str, Any],
                 body: Any = None) -> dict[str, Any]:
        url = self.base_url.rstrip("/") + "/" + path
        headers = {"User-Agent": USER_AGENT}
        data = None
        if body is not None:
            # Raw UTF-8: WeCom refuses \uXXXX escapes (40033 不合法的请求字符).
            data = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
            headers["Content-Type"] = "application/json; charset=utf-8"
        try:
            resp = requests.request(method, url, params=params, data=data, headers=headers,
                                    timeout=self.timeout, allow_redirects=False)
        except requests.Timeout:
            raise DeliveryError(f"{what}超时：企业微信（{self.host}）在 {self.timeout:g} 秒内没有响应",
                                code="timeout") from None
        except requests.RequestException as exc:
            found = _ERRNO.search(str(exc))
            reason = found.group(0).strip() if found else self._scrub(str(exc))[:200]
            raise DeliveryError(f"{what}失败：无法连接企业微信（{self.host}）：{type(exc).__name__}: {reason}",
                                code="network") from None
        status = resp.status_code
        if not 200 <= status < 300:
            wait = _retry_after(resp.headers.get("Retry-After"))
            if status == 429 and wait is None:
                wait = 60.0
            raise DeliveryError(f"{what}失败：企业微信（{self.host}）返回 HTTP {status}",
                                retry_after=wait, code=f"http_{status}")
        try:
            answer = json.loads(resp.content.decode("utf-8-sig"))
        except (UnicodeDecodeError, ValueError):
            raise DeliveryError(f"{what}失败：企业微信（{self.host}）的回答不是 JSON（HTTP {status}）",
                                code="bad_answer") from None
        if not isinstance(answer, dict):
            raise DeliveryError(f"{what}失败：企业微信（{self.host}）的回答不是 JSON 对象", code="bad_answer")
        return answer

    def _platform_error(self, what: str, code: int, answer: Mapping[str, Any]) -> DeliveryError:
        errmsg = str(answer.get("errmsg") or "")
        short = self._scrub(errmsg.split(", hint:")[0].strip())[:120]
        text = f"{what}失败：企业微信返回 errcode {code}" + (f"（{short}）" if short else "")
        hint = _EXPLAIN.get(code)
        if hint:
            text += f"。{hint}"
        if code == 60020:
            ip = _FROM_IP.search(errmsg)
            if ip:
                text += f"。企业微信看到的出口 IP：{ip.group(1)}"
        return DeliveryError(text, retry_after=RATE_LIMIT_WAIT.get(code), code=code)


class _Blocker:
    """After the platform said "too many" (45009 …), calls wait until it said to, without calling."""

    def __init__(self) -> None:
        self.until = 0.0
        self.error = ""

    def check(self, now: float) -> None:
        if now < self.until:
            raise DeliveryError(f"{self.error}（还需等待约 {math.ceil(self.until - now)} 秒，期间不调用接口）",
                                retry_after=self.until - now, code="rate_limit")

    def note(self, exc: DeliveryError, now: float) -> None:
        if exc.code in RATE_LIMIT_WAIT and exc.retry_after:
            self.until = max(self.until, now + exc.retry_after)
            self.error = str(exc)


# --------------------------------------------------------------------------- wecom_app
@dataclass
class _Progress:
    """What one alert's delivery reached so far (kept in memory between the outbox's retries, so a
    retry writes only to those not yet reached)."""

    done: set[str] = field(default_factory=set)  # lower-case user ids delivered
    invalid: dict[str, str] = field(default_factory=dict)  # lower-case → address as given
    unlicensed: set[str] = field(default_factory=set)
    accepted: bool = False  # WeCom answered errcode 0 to at least one call


class WeComAppNotifier(_WeComHttp, Notifier):
    type_name = "wecom_app"
    title_zh = "企业微信应用消息（发给指定成员）"
    route = "wecom"
    options_schema = options_schema("wecom_app", {
        "corp_id": {"type": "string", "pattern": r"^\S+$"},
        "agent_id": {"type": "integer", "minimum": 0},
        "secret_env": ENV_NAME,
        "base_url": BASE_URL,
    }, required=("corp_id", "agent_id", "secret_env"))

    def __init__(self, name: str, corp_id: str, agent_id: int, secret: str, base_url: str = DEFAULT_BASE_URL,
                 dashboard_url: str | None = None, timezone: str = DEFAULT_TZ, timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name)
        self.corp_id, self.agent_id, self.secret = corp_id, int(agent_id), secret
        self.base_url, self.dashboard_url, self.timezone = base_url, dashboard_url, timezone
        self.timeout, self.clock = timeout, clock
        self.tokens = TokenCache(self._fetch_token, clock=clock, refused=self._refused)
        self._members = KeyedLimits(MEMBER_LIMITS, clock)  # per recipient UserID (lower case)
        self._blocker = _Blocker()
        self._progress: OrderedDict[tuple[int, str, str], _Progress] = OrderedDict()
        self._lock = threading.RLock()
        self._last_token = ""

    @classmethod
    def create(cls, cfg: Mapping[str, Any], secrets: Secrets) -> "WeComAppNotifier":
        tz = secrets.timezone(cfg)
        return cls(name=cfg["name"], corp_id=cfg["corp_id"], agent_id=int(cfg["agent_id"]),
                   secret=secrets.get(cfg, "secret_env") or "", base_url=cfg.get("base_url", DEFAULT_BASE_URL),
                   dashboard_url=cfg.get("dashboard_url"), timezone=tz, timeout=float(cfg.get("timeout", 10.0)))

    def describe(self) -> str:
        return f"企业微信应用 {self.corp_id}/{self.agent_id}"

    def _hidden(self) -> list[str]:
        return [self.secret, self._last_token]

    # ------------------------------------------------------------------ token
    def _fetch_token(self) -> tuple[str, float]:
        what = "获取企业微信 access_token"
        answer = self._request("GET", "cgi-bin/gettoken", what,
                               params={"corpid": self.corp_id, "corpsecret": self.secret})
        code = _errcode(answer)
        if code != 0:
            raise self._platform_error(what, code, answer)
        token = answer.get("access_token")
        if not isinstance(token, str) or not token:
            raise DeliveryError(f"{what}失败：企业微信的回答里没有 access_token", code="bad_answer")
        try:
            lifetime = float(answer.get("expires_in", 7200))
        except (TypeError, ValueError):
            lifetime = 7200.0
        if not math.isfinite(lifetime) or lifetime <= 0:
            lifetime = 7200.0
        self._last_token = token
        return token, lifetime

    def _refused(self, exc: Exception) -> DeliveryError:
        return DeliveryError(f"新取得的 access_token 也被企业微信拒绝（errcode {getattr(exc, 'code', '?')}）："
                             "请检查 corp_id、agent_id 与 Secret 是否属于同一个应用",
                             code=getattr(exc, "code", None))

    def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        """One message/send call; a refused token is refreshed and the call repeated once."""
        what = "发送企业微信应用消息"

        def call(token: str) -> dict[str, Any]:
            answer = self._request("POST", "cgi-bin/message/send", what, params={"access_token": token},
                                   body=body)
            code = _errcode(answer)
            if code in TOKEN_CODES:
                raise TokenExpired(f"access_token 失效（errcode {code}）", code=code)
            return answer

        return self.tokens.call(call)

    # ------------------------------------------------------------------ messages
    def title(self, message: AlertMessage) -> str:
        return fit_bytes(_one_line(message.subject), TEXTCARD_TITLE_BYTES)

    def description(self, message: AlertMessage) -> str:
        """The textcard description: ≤512 bytes of the documented `<div class=…>` / `<br>` markup; the
        time, alert number, level and rule first, then the body (its lines kept) and as many masked
        excerpts as fit."""
        def esc(text: str) -> str:
            return "<br>".join(html.escape(_one_line(line), quote=False) for line in text.splitlines() if line.strip())

        out = (f'<div class="gray">{esc(message.local_time(self.timezone))}（{esc(self.timezone)}）'
               f' · 预警 #{message.alert_id}</div>'
               f'<div class="highlight">{esc(message.level_zh)} · 规则 {esc(message.rule)}</div>')
        texts = [redact(message.body)] + [f"{i}. [{p.channel_zh}] {_one_line(redact(p.excerpt))}"
                                          for i, p in enumerate(message.posts, 1)]
        opening, closing = '<div class="normal">', "</div>"
        for text in filter(str.strip, texts):
            room = TEXTCARD_DESCRIPTION_BYTES - _nbytes(out) - _nbytes(opening + closing)
            if room < 30:
                break
            # a cut may split an escape (&lt;) or a <br>: drop the broken piece
            piece = re.sub(r"(&[a-z]*|<[a-z]*)…$", "…", fit_bytes(esc(text), room))
            out += opening + piece + closing
        return out

    def text(self, message: AlertMessage, link: str | None) -> str:
        lines = [message.subject, f"级别：{message.level_zh}（预警 #{message.alert_id}）",
                 f"时间：{message.local_time(self.timezone)}（{self.timezone}）", f"规则：{message.rule}", "",
                 redact(message.body)]
        if message.posts:
            lines += ["", "相关帖子（个人信息已遮盖）："]
            lines += [f"{i}. [{p.channel_zh}] {_one_line(redact(p.excerpt))}" for i, p in enumerate(message.posts, 1)]
        tail = ["", f"查看和处理：{link}"] if link else []
        body = "\n".join(lines)
        room = APP_TEXT_BYTES - _nbytes("\n".join(tail)) - 1
        return fit_bytes(body, room) + ("\n" + "\n".join(tail) if tail else "")

    def body(self, message: AlertMessage, users: Sequence[str], link: str | None) -> dict[str, Any]:
        out: dict[str, Any] = {"touser": "|".join(users), "agentid": self.agent_id,
                               "enable_duplicate_check": 1, "duplicate_check_interval": DUPLICATE_CHECK_SECONDS}
        if link and _nbytes(link) <= TEXTCARD_URL_BYTES:
            out["msgtype"] = "textcard"
            out["textcard"] = {"title": self.title(message), "description": self.description(message),
                               "url": link, "btntxt": BUTTON_TEXT}
        else:
            out["msgtype"] = "text"
            out["text"] = {"content": self.text(message, link)}
        return out

    # ------------------------------------------------------------------ sending
    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        if not recipients:
            raise DeliveryError("没有收件人：企业微信应用消息只发给指定成员，本条预警没有分派到任何有企业微信 UserID 的用户",
                                code="no_recipients")
        with self._lock:
            return self._send(message, recipients)

    def _send(self, message: AlertMessage, recipients: Sequence[Recipient]) -> SendReport | None:
        key = (message.alert_id, message.rule, message.title)  # a digest is another message than its alert
        progress = self._progress.setdefault(key, _Progress())
        self._progress.move_to_end(key)
        while len(self._progress) > 1000:
            self._progress.popitem(last=False)
        wanted: dict[str, Recipient] = {}
        for r in recipients:
            uid = r.address.strip()
            if uid and uid.lower() not in wanted:
                wanted[uid.lower()] = Recipient(r.username, uid, r.ack_url)
                if re.search(r"[|\s]", uid):  # would split `touser`: never a valid UserID
                    progress.invalid[uid.lower()] = uid
        if not wanted:
            raise DeliveryError("没有收件人：收件人的企业微信 UserID 为空", code="no_recipients")
        pending = [r for uid, r in wanted.items() if uid not in progress.done and uid not in progress.invalid]
        # Each person with an acknowledgement link gets their own card; the others share one message.
        groups: list[tuple[list[Recipient], str | None]] = [([r], r.ack_url) for r in pending if r.ack_url]
        shared = [r for r in pending if not r.ack_url]
        for start in range(0, len(shared), MAX_TOUSER):
            groups.append((shared[start:start + MAX_TOUSER], message.link(self.dashboard_url)))
        waits: list[float] = []
        failure: DeliveryError | None = None
        for group, link in groups:
            now = self.clock()
            ready = []
            for r in group:
                wait = self._members.wait(r.address.lower())
                if wait > 0:
                    waits.append(wait)
                else:
                    ready.append(r)
            if not ready:
                continue
            try:
                self._blocker.check(now)
                answer = self._post(self.body(message, [r.address for r in ready], link))
            except DeliveryError as exc:
                self._blocker.note(exc, self.clock())
                failure = exc
                break
            code = _errcode(answer)
            if code == ALL_INVALID:
                for r in ready:
                    progress.invalid[r.address.lower()] = r.address
                continue
            if code != 0:
                failure = self._platform_error("发送企业微信应用消息", code, answer)
                self._blocker.note(failure, self.clock())
                break
            self._accepted(answer, ready, progress, self.clock())
        reached = len([k for k in wanted if k in progress.done])
        left = len(wanted) - reached - len([k for k in wanted if k in progress.invalid])
        if failure is not None:
            note = f"（已送达 {reached} 人，其余 {left} 人在重试时补发）" if reached else ""
            raise DeliveryError(f"{failure}{note}", retry_after=failure.retry_after, code=failure.code)
        if waits:
            raise DeliveryError(
                f"企业微信限制同一应用每分钟最多给同一成员发 30 条、每小时 1000 条（超出的消息会被丢弃），"
                f"{left} 人暂时发满；约 {math.ceil(min(waits))} 秒后重试" + (f"（已送达 {reached} 人）" if reached else ""),
                retry_after=min(waits), code="rate_limit")
        del self._progress[key]
        invalid = [progress.invalid[k] for k in wanted if k in progress.invalid]
        if not reached and not progress.accepted:
            # nobody can be reached: not a failure to retry forever, but a fact for the admin (the
            # delivery is closed with this note on the alert page)
            who = "、".join(invalid)
            note = f"企业微信返回 errcode {ALL_INVALID}，收件人全部无效（{who}）。{_EXPLAIN[ALL_INVALID]}"
            log.warning("预警 #%d 通过 “%s”：%s", message.alert_id, self.name, note)
            return SendReport(invalid=invalid, note=note)
        if invalid:
            unlicensed = [progress.invalid[k] for k in wanted if k in progress.unlicensed]
            note = (f"企业微信未能送达 {len(invalid)} 人：{'、'.join(invalid)}（UserID 不存在或不在应用的可见范围内"
                    + (f"；{'、'.join(unlicensed)} 没有基础接口许可" if unlicensed else "") + "）")
            log.warning("预警 #%d 通过 “%s”：%s", message.alert_id, self.name, note)
            return SendReport(invalid=invalid, note=note)
        return None

    def _accepted(self, answer: Mapping[str, Any], sent: Sequence[Recipient], progress: _Progress,
                  now: float) -> None:
        progress.accepted = True
        by_key = {r.address.lower(): r.address for r in sent}
        rejected: set[str] = set()
        for fieldname in ("invaliduser", "unlicenseduser"):
            for uid in _ids(answer.get(fieldname)):
                key = uid.lower()
                rejected.add(key)
                progress.invalid[key] = by_key.get(key, uid)
                if fieldname == "unlicenseduser":
                    progress.unlicensed.add(key)
        for key in by_key:
            if key not in rejected:
                progress.done.add(key)
                self._members.record(key)


def _ids(value: Any) -> list[str]:
    """WeCom's `invaliduser`: "a|b"; liberal: a list, spaces, an empty string or null."""
    if not value:
        return []
    items = value if isinstance(value, list) else re.split(r"[|,\s]+", str(value))
    return [str(v).strip() for v in items if str(v).strip()]


# --------------------------------------------------------------------------- wecom_robot
class WeComRobotNotifier(_WeComHttp, Notifier):
    type_name = "wecom_robot"
    title_zh = "企业微信群机器人"
    route = None
    options_schema = options_schema("wecom_robot", {
        "key_env": ENV_NAME,
        "base_url": BASE_URL,
        "msgtype": {"enum": ["markdown", "text"]},
    }, required=("key_env",))

    def __init__(self, name: str, key: str, base_url: str = DEFAULT_BASE_URL, msgtype: str = "markdown",
                 dashboard_url: str | None = None, timezone: str = DEFAULT_TZ, timeout: float = 10.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(name)
        self.key, self.base_url, self.msgtype = key, base_url, msgtype
        self.dashboard_url, self.timezone, self.timeout, self.clock = dashboard_url, timezone, timeout, clock
        self._window = KeyedLimits(ROBOT_LIMITS, clock)
        self._blocker = _Blocker()
        self._lock = threading.Lock()

    @classmethod
    def create(cls, cfg: Mapping[str, Any], secrets: Secrets) -> "WeComRobotNotifier":
        tz = secrets.timezone(cfg)
        key = robot_key(secrets.get(cfg, "key_env") or "")
        if not key:
            raise ConfigError(secrets.config_file, f"{secrets.where}.key_env",
                              f"环境变量 {cfg['key_env']} 里不是群机器人的 key：应为 Webhook 地址中 key= 后面的一串"
                              "（也可以放整个 Webhook 地址）")
        return cls(name=cfg["name"], key=key, base_url=cfg.get("base_url", DEFAULT_BASE_URL),
                   msgtype=cfg.get("msgtype", "markdown"), dashboard_url=cfg.get("dashboard_url"), timezone=tz,
                   timeout=float(cfg.get("timeout", 10.0)))

    def describe(self) -> str:
        return f"企业微信群机器人（{self.host}）"

    def _hidden(self) -> list[str]:
        return [self.key]

    # ------------------------------------------------------------------ messages
    def markdown(self, message: AlertMessage) -> str:
        color = {"red": "warning", "orange": "warning", "yellow": "comment"}.get(message.level.value, "warning")
        head = [f"## {_md_safe(_one_line(message.subject))}",
                f'> 级别：<font color="{color}">{message.level_zh}</font>',
                f"> 时间：{message.local_time(self.timezone)}（{self.timezone}）",
                f"> 规则：{_md_safe(message.rule)}", "",
                _md_safe(redact(message.body))]
        link = message.link(self.dashboard_url)
        tail = ["", f"[在看板中查看和处理]({link})"] if link else []
        posts = [f"{i}. [{p.channel_zh}] {_md_safe(_one_line(redact(p.excerpt)))}"
                 for i, p in enumerate(message.posts, 1)]
        return self._assemble(head, "**相关帖子（个人信息已遮盖）**", posts, tail, ROBOT_MARKDOWN_BYTES)

    def text(self, message: AlertMessage) -> str:
        head = [message.subject, f"级别：{message.level_zh}",
                f"时间：{message.local_time(self.timezone)}（{self.timezone}）", f"规则：{message.rule}", "",
                _no_mention(redact(message.body))]
        link = message.link(self.dashboard_url)
        tail = ["", f"在看板中查看和处理：{link}"] if link else []
        posts = [f"{i}. [{p.channel_zh}] {_no_mention(_one_line(redact(p.excerpt)))}"
                 for i, p in enumerate(message.posts, 1)]
        return self._assemble(head, "相关帖子（个人信息已遮盖）：", posts, tail, ROBOT_TEXT_BYTES)

    @staticmethod
    def _assemble(head: list[str], posts_title: str, posts: list[str], tail: list[str], limit: int) -> str:
        """Head and tail whole (the head cut if need be), then as many excerpts as fit."""
        tail_text = "\n".join(tail)
        text = fit_bytes("\n".join(head), limit - _nbytes(tail_text) - 1)
        if posts:
            block = "\n\n" + posts_title
            for line in posts:
                if _nbytes(text + block + "\n" + line + tail_text) + 2 > limit:
                    break
                block += "\n" + line
            if block != "\n\n" + posts_title:
                text += block
        return text + ("\n" + tail_text if tail else "")

    def payload(self, message: AlertMessage) -> dict[str, Any]:
        if self.msgtype == "text":
            return {"msgtype": "text", "text": {"content": self.text(message)}}
        return {"msgtype": "markdown", "markdown": {"content": self.markdown(message)}}

    # ------------------------------------------------------------------ sending
    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        what = "企业微信群机器人发送"
        with self._lock:
            now = self.clock()
            self._blocker.check(now)
            wait = self._window.wait()
            if wait > 0:
                raise DeliveryError(f"企业微信限制每个群机器人每分钟最多发送 20 条消息，本分钟已发满；约 {math.ceil(wait)} 秒后重试",
                                    retry_after=wait, code="rate_limit")
            try:
                answer = self._request("POST", "cgi-bin/webhook/send", what, params={"key": self.key},
                                       body=self.payload(message))
            except DeliveryError as exc:
                if exc.code not in ("network", "timeout"):
                    self._window.record()  # it reached the platform: it may count
                raise
            self._window.record()
            code = _errcode(answer)
            if code != 0:
                exc = self._platform_error(what, code, answer)
                self._blocker.note(exc, self.clock())
                raise exc
        return None


def robot_key(value: str) -> str:
    """The key from `value`: the key itself, or a whole webhook URL (…/webhook/send?key=KEY)."""
    value = value.strip()
    if value.lower().startswith(("http://", "https://")):
        keys = parse_qs(urlsplit(value).query).get("key", [])
        value = keys[0].strip() if keys else ""
    return value if value and not re.search(r"[\s&?#/]", value) else ""
