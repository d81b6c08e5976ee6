"""A local fake of the Feishu (飞书) APIs the `feishu_bot` and `feishu_user` notifiers call, on
127.0.0.1: a real `ThreadingHTTPServer` answering what the documentation says (where it is silent, the
choice is marked "undocumented" below).

Documented behaviour reproduced, by endpoint:

- Custom bot webhook `POST /open-apis/bot/v2/hook/{hook_id}` (open.feishu.cn/document/client-docs/
  bot-v3/add-custom-bot, 自定义机器人使用指南):
  - body `{msg_type, content}` for text / post / image / share_chat, `{msg_type: "interactive", card}` for
    a card ("发送卡片时，需要将消息体的 content 字符串替换为 card 结构体"); success answers
    `{"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}`;
  - a body in the wrong shape, or over 20 KB ("请求体大小不能超过 20 K"), answers
    `{"code": 9499, "msg": "Bad Request", "data": {}}` (HTTP 400: undocumented, as observed);
  - 签名校验: with a secret set, `timestamp` (seconds, string or number) and `sign` are required, and
    `sign` must be Base64(HmacSHA256 keyed with `timestamp + "\\n" + secret` over an empty message),
    the timestamp no more than 1 hour (3600 s) from now; else `{"code": 19021, "msg": "sign match fail
    or timestamp is not within one hour from current time"}`;
  - 自定义关键词: with keywords set, a message whose text values (`text`, `title`, `content`) hold none
    → `{"code": 19024, "msg": "Key Words Not Found"}`; IP 白名单 → `{"code": 19022, "msg": "Ip Not Allowed"}`;
  - 频率: "单租户单机器人 100 次/分钟，5 次/秒": over either, `{"code": 9499, "msg": "too many request"}`
    with HTTP 400 (as reported by users: the documentation names no code; 11232 "frequency limited psm"
    under system pressure is available through `fail`);
  - an unknown hook id → `{"code": 19001, "msg": "param invalid: incoming webhook access token invalid"}`
    and a disabled bot → 19007 "Bot Not Enabled" (codes as seen in the wild; undocumented).
- `POST /open-apis/auth/v3/tenant_access_token/internal` `{app_id, app_secret}` (server-docs/
  authentication-management/access-token/tenant_access_token_internal): `{"code": 0, "msg": "ok",
  "tenant_access_token": "t-…", "expire": 7200}`; "剩余有效期小于 30 分钟时，调用本接口会返回一个新的
  tenant_access_token" (both then valid), otherwise the same token with its remaining `expire`. Generic
  codes (api-call-guide/generic-error-code): 10003 invalid parameter, 10014 app unauthorized (unknown
  or disabled app), 10015 wrong app secret; 99991301 for a method other than POST.
- `POST /open-apis/im/v1/messages?receive_id_type=…` (server-docs/im-v1/message/create), headers
  `Authorization: Bearer <tenant_access_token>` and `Content-Type: application/json; charset=utf-8`,
  body `{receive_id, msg_type, content: "<JSON string>", uuid}`:
  - no token → 99991661 "Missing access token for authorization"; a token never issued, expired or
    invalidated (`expire_tokens`) → 99991663 "Invalid access token for authorization" (HTTP 400 for
    both: undocumented status);
  - `receive_id_type` one of open_id / union_id / user_id / email / chat_id, `content` a JSON string
    (an object for `interactive`), `uuid` at most 50 characters, else 99992402 field validation
    failed; a card body over 30 KB → 230025;
  - "持有相同 uuid 的请求，在 1 小时内至多成功发送一条消息": a repeat answers like the first send and
    delivers nothing more (the answer to a repeat is undocumented);
  - recipients: 230013 "Bot has NO availability to this user." (outside the availability range, or
    resigned), 230053 "The user has stopped the bot from sending messages.", 230029 "User has
    resigned."; an unknown id → 99992351 (open_id), 99992360 (user_id), 99992363 (union_id),
    230034 "The receive_id is invalid." (email) — generic error-code table;
  - limits: "1000 次/分钟、50 次/秒" per app → HTTP 429 `{"code": 99991400, "msg": "request trigger
    frequency limit"}` with `x-ogw-ratelimit-limit` / `x-ogw-ratelimit-reset` (api-call-guide/
    frequency-control); "向同一用户发送消息的限频为 5 QPS" → 230020 "This operation triggers the
    frequency limit." (HTTP 400);
  - success: `{"code": 0, "msg": "success", "data": {message_id, msg_type, create_time, update_time,
    deleted, updated, chat_id, sender: {id, id_type: "app_id", sender_type: "app", tenant_key},
    body: {content}}}`.
- Any path, on demand (`fail`): an HTTP status (a transient 500, 503 …), any code with HTTP 200 or
  otherwise, extra headers. `stop()` / `start()` take the server down and back on the same port.
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import LocalPlatform

HOOK_PATH = "/open-apis/bot/v2/hook/"
TOKEN_PATH = "/open-apis/auth/v3/tenant_access_token/internal"
MESSAGES_PATH = "/open-apis/im/v1/messages"

BOT_OK = {"StatusCode": 0, "StatusMessage": "success", "code": 0, "data": {}, "msg": "success"}
BAD_REQUEST = {"code": 9499, "msg": "Bad Request", "data": {}}
TOO_MANY = {"code": 9499, "msg": "too many request", "data": {}}
SIGN_FAIL = {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}
IP_NOT_ALLOWED = {"code": 19022, "msg": "Ip Not Allowed"}
KEYWORDS_NOT_FOUND = {"code": 19024, "msg": "Key Words Not Found"}
FREQUENCY_LIMITED = {"code": 11232, "data": {}, "msg": "frequency limited psm[lark.oapi.app_platform_runtime]appID[1500]"}
MSG = {
    99991301: "request method doesn't match",
    99991400: "request trigger frequency limit",
    99991661: "Missing access token for authorization. Please make a request with token attached.",
    99991663: "Invalid access token for authorization. Please make a request with token attached.",
    99991672: "Access denied. One of the following scopes is required: [im:message, im:message:send_as_bot].",
    99992351: "these open ids not existed",
    99992360: "these ids not existed",
    99992363: "these ids not existed",
    99992402: "field validation failed",
    10003: "invalid param",
    10014: "app unauthorized",
    10015: "wrong app secret",
    230006: "Bot ability is not activated.",
    230013: "Bot has NO availability to this user.",
    230020: "This operation triggers the frequency limit.",
    230025: "The length of the message content reaches its limit.",
    230029: "User has resigned.",
    230034: "The receive_id is invalid.",
    230053: "The user has stopped the bot from sending messages.",
}
RECEIVE_ID_TYPES = ("open_id", "union_id", "user_id", "email", "chat_id")
UNKNOWN_ID = {"open_id": 99992351, "user_id": 99992360, "union_id": 99992363, "email": 230034, "chat_id": 230034}


def sign(timestamp: str | int, secret: str) -> str:
    """The documented signature (Python sample of the custom bot guide)."""
    string_to_sign = f"{timestamp}\n{secret}"
    return base64.b64encode(hmac.new(string_to_sign.encode("utf-8"), digestmod=hashlib.sha256).digest()).decode()


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    raw: bytes

    def json(self) -> Any:
        return json.loads(self.raw.decode("utf-8"))


@dataclass
class Bot:
    hook_id: str
    secret: str | None = None
    keywords: list[str] = field(default_factory=list)
    ip_allowed: bool = True
    enabled: bool = True
    messages: list[dict[str, Any]] = field(default_factory=list)  # accepted bodies


@dataclass
class User:
    user_id: str
    open_id: str
    union_id: str
    email: str
    status: str = "ok"  # ok | unavailable (230013) | blocked (230053) | resigned (230029)

    def ids(self) -> dict[str, str]:
        return {"user_id": self.user_id, "open_id": self.open_id, "union_id": self.union_id, "email": self.email}


@dataclass
class Delivered:
    """A message the app's bot delivered to a user."""

    user: User
    receive_id_type: str
    receive_id: str
    msg_type: str
    content: Any  # the decoded `content`
    uuid: str | None
    message_id: str


@dataclass
class Failure:
    path: str
    times: int
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


class Window:
    def __init__(self, limit: int, period: float) -> None:
        self.limit, self.period = limit, period
        self.events: list[float] = []

    def hit(self, now: float) -> bool:
        """Count one request; False when over the limit (counted anyway, as a gateway would)."""
        self.events = [t for t in self.events if now - t < self.period]
        self.events.append(now)
        return len(self.events) <= self.limit


class FakeFeishu(LocalPlatform):
    """The platform: custom bots, one self-built app with its users, issued tokens, scripted
    failures, every request seen."""

    def __init__(self, app_id: str = "cli_a1b2c3d4e5f60718", app_secret: str = "app-secret-5e11", *,
                 tenant_key: str = "736588c9260f175e") -> None:
        self.app_id, self.app_secret, self.tenant_key = app_id, app_secret, tenant_key
        self.app_enabled = True
        self.bot_ability = True
        self.scopes = True  # im:message:send_as_bot granted
        self.bots: dict[str, Bot] = {}
        self.users: list[User] = []
        self.delivered: list[Delivered] = []
        self.requests: list[Seen] = []
        self.failures: list[Failure] = []
        self.tokens: dict[str, float] = {}  # token -> expiry (self.now())
        self.token_lifetime = 7200
        self.uuids: dict[str, tuple[float, dict[str, Any]]] = {}
        self.bot_windows: dict[str, list[Window]] = {}
        self.app_windows = [Window(50, 1.0), Window(1000, 60.0)]
        self.user_windows: dict[str, Window] = {}
        self.now: Callable[[], float] = time.time
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ the platform's content
    def add_bot(self, hook_id: str | None = None, *, secret: str | None = None,
                keywords: list[str] | None = None) -> Bot:
        hook_id = hook_id or secrets.token_hex(16)
        with self.lock:
            bot = self.bots[hook_id] = Bot(hook_id, secret, list(keywords or []))
            return bot

    def hook_url(self, bot: Bot) -> str:
        return f"{self.url}{HOOK_PATH}{bot.hook_id}"

    def add_user(self, user_id: str, *, status: str = "ok") -> User:
        with self.lock:
            user = User(user_id=user_id, open_id=f"ou_{hashlib.md5(user_id.encode()).hexdigest()}",
                        union_id=f"on_{hashlib.sha1(user_id.encode()).hexdigest()[:32]}",
                        email=f"{user_id}@union.example.edu.cn", status=status)
            self.users.append(user)
            return user

    def expire_tokens(self) -> None:
        """Every token issued so far stops working (as when it expired or the secret was reset)."""
        with self.lock:
            self.tokens.clear()

    def fail(self, path: str, times: int = 1, *, status: int = 200, code: int | None = None,
             msg: str | None = None, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """The next `times` requests to a path starting with `path` get this answer instead."""
        if body is None and code is not None:
            body = {"code": code, "msg": msg if msg is not None else MSG.get(code, "error"), "data": {}}
        with self.lock:
            self.failures.append(Failure(path, times, status, body, dict(headers or {})))

    def seen(self, path_prefix: str) -> list[Seen]:
        return [r for r in self.requests if r.path.startswith(path_prefix)]

    # ------------------------------------------------------------------ dispatch
    def _serve(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        query = {k: v[0] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        seen = Seen(method, parts.path, query, {k.lower(): v for k, v in h.headers.items()}, raw)
        with self.lock:
            self.requests.append(seen)
            failure = next((f for f in self.failures if parts.path.startswith(f.path) and f.times > 0), None)
            if failure is not None:
                failure.times -= 1
                status, body, headers = failure.status, failure.body, failure.headers
            elif parts.path.startswith(HOOK_PATH):
                status, body, headers = self._bot(seen, parts.path[len(HOOK_PATH):])
            elif parts.path == TOKEN_PATH:
                status, body, headers = self._token(seen)
            elif parts.path == MESSAGES_PATH:
                status, body, headers = self._message(seen)
            else:
                status, body, headers = 404, {"code": 99991201, "msg": "resource not find"}, {}
        data = body if isinstance(body, bytes) else json.dumps(body, ensure_ascii=False).encode("utf-8") \
            if body is not None else b""
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        h.send_header("Content-Length", str(len(data)))
        for k, v in headers.items():
            h.send_header(k, v)
        h.end_headers()
        h.wfile.write(data)

    # ------------------------------------------------------------------ custom bot
    def _bot(self, seen: Seen, hook_id: str) -> tuple[int, Any, dict[str, str]]:
        bot = self.bots.get(hook_id.rstrip("/"))
        if bot is None or seen.method != "POST":
            return 200, {"code": 19001, "msg": "param invalid: incoming webhook access token invalid", "data": {}}, {}
        if not bot.enabled:
            return 200, {"code": 19007, "msg": "Bot Not Enabled", "data": {}}, {}
        windows = self.bot_windows.setdefault(hook_id, [Window(5, 1.0), Window(100, 60.0)])
        if not all([w.hit(self.now()) for w in windows]):
            return 400, TOO_MANY, {}
        if len(seen.raw) > 20 * 1024:
            return 400, BAD_REQUEST, {}
        try:
            body = seen.json()
        except (ValueError, UnicodeDecodeError):
            return 400, BAD_REQUEST, {}
        if not isinstance(body, dict) or not _bot_shape_ok(body):
            return 400, BAD_REQUEST, {}
        if not bot.ip_allowed:
            return 200, IP_NOT_ALLOWED, {}
        if bot.secret is not None:
            ts, given = body.get("timestamp"), body.get("sign")
            try:
                fresh = abs(self.now() - int(str(ts))) <= 3600
            except (TypeError, ValueError):
                fresh = False
            if not fresh or not isinstance(given, str) or not hmac.compare_digest(given, sign(str(ts), bot.secret)):
                return 200, SIGN_FAIL, {}
        if bot.keywords:
            texts = " ".join(_texts(body.get("card") if body.get("msg_type") == "interactive" else body.get("content")))
            if not any(k in texts for k in bot.keywords):
                return 200, KEYWORDS_NOT_FOUND, {}
        bot.messages.append(body)
        return 200, BOT_OK, {}

    # ------------------------------------------------------------------ token
    def _token(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        if seen.method != "POST":
            return 400, {"code": 99991301, "msg": MSG[99991301]}, {}
        try:
            body = seen.json()
        except (ValueError, UnicodeDecodeError):
            body = None
        if not isinstance(body, dict) or not body.get("app_id") or not body.get("app_secret"):
            return 400, {"code": 10003, "msg": MSG[10003]}, {}
        if body["app_id"] != self.app_id or not self.app_enabled:
            return 400, {"code": 10014, "msg": MSG[10014]}, {}
        if body["app_secret"] != self.app_secret:
            return 400, {"code": 10015, "msg": MSG[10015]}, {}
        now = self.now()
        current = max(self.tokens.items(), key=lambda kv: kv[1], default=None)
        if current is not None and current[1] - now >= 1800:
            token, expiry = current
        else:
            token, expiry = "t-" + secrets.token_hex(20), now + self.token_lifetime
            self.tokens[token] = expiry
        return 200, {"code": 0, "msg": "ok", "tenant_access_token": token, "expire": int(expiry - now)}, {}

    # ------------------------------------------------------------------ im/v1/messages
    def _message(self, seen: Seen) -> tuple[int, Any, dict[str, str]]:
        def err(code: int, status: int = 400, headers: dict[str, str] | None = None) -> tuple[int, Any, dict[str, str]]:
            return status, {"code": code, "msg": MSG.get(code, "error"), "data": {}}, headers or {}

        if seen.method != "POST":
            return err(99991301)
        auth = seen.headers.get("authorization", "")
        if not auth.startswith("Bearer ") or not auth[7:].strip():
            return err(99991661)
        token = auth[7:].strip()
        if token not in self.tokens or self.tokens[token] <= self.now():
            return err(99991663)
        if not self.scopes:
            return err(99991672)
        if not self.bot_ability:
            return err(230006)
        if not all([w.hit(self.now()) for w in self.app_windows]):
            reset = max(1, int(min(w.events[0] + w.period - self.now() for w in self.app_windows) + 0.999))
            return err(99991400, 429, {"x-ogw-ratelimit-limit": "50", "x-ogw-ratelimit-reset": str(reset)})
        rtype = seen.query.get("receive_id_type", "")
        if rtype not in RECEIVE_ID_TYPES or not seen.headers.get("content-type", "").startswith("application/json"):
            return err(99992402)
        try:
            body = seen.json()
        except (ValueError, UnicodeDecodeError):
            return err(99992402)
        if not isinstance(body, dict) or not all(isinstance(body.get(k), str) and body.get(k)
                                                 for k in ("receive_id", "msg_type", "content")):
            return err(99992402)
        uuid = body.get("uuid")
        if uuid is not None and (not isinstance(uuid, str) or len(uuid) > 50):
            return err(99992402)
        try:
            content = json.loads(body["content"])
        except ValueError:
            return err(99992402)
        if body["msg_type"] == "interactive":
            if not isinstance(content, dict):
                return err(99992402)
            if len(body["content"].encode("utf-8")) > 30 * 1024:
                return err(230025)
        if uuid and uuid in self.uuids and self.now() - self.uuids[uuid][0] < 3600:
            return 200, self.uuids[uuid][1], {}
        user = next((u for u in self.users if u.ids().get(rtype) == body["receive_id"]), None)
        if user is None:
            return err(UNKNOWN_ID[rtype])
        if user.status in ("unavailable", "resigned"):
            return err(230013 if user.status == "unavailable" else 230029)
        if user.status == "blocked":
            return err(230053)
        if not self.user_windows.setdefault(user.user_id, Window(5, 1.0)).hit(self.now()):
            return err(230020)
        message_id = "om_" + secrets.token_hex(16)
        millis = str(int(self.now() * 1000))
        answer = {"code": 0, "msg": "success", "data": {
            "message_id": message_id, "msg_type": body["msg_type"], "create_time": millis, "update_time": millis,
            "deleted": False, "updated": False, "chat_id": "oc_" + hashlib.md5(user.user_id.encode()).hexdigest(),
            "sender": {"id": self.app_id, "id_type": "app_id", "sender_type": "app", "tenant_key": self.tenant_key},
            "body": {"content": body["content"]}}}
        if uuid:
            self.uuids[uuid] = (self.now(), answer)
        self.delivered.append(Delivered(user, rtype, body["receive_id"], body["msg_type"], content, uuid, message_id))
        return 200, answer, {}


def _bot_shape_ok(body: dict[str, Any]) -> bool:
    kind = body.get("msg_type")
    if kind == "interactive":
        return isinstance(body.get("card"), dict)
    content = body.get("content")
    if not isinstance(content, dict):
        return False
    return {"text": lambda c: isinstance(c.get("text"), str),
            "post": lambda c: isinstance(c.get("post"), dict),
            "image": lambda c: isinstance(c.get("image_key"), str),
            "share_chat": lambda c: isinstance(c.get("share_chat_id"), str)}.get(str(kind), lambda c: False)(content)


def _texts(node: Any) -> list[str]:
    """The text values a keyword is looked for in ("自定义关键词只对 text、title 这类文本参数值生效")."""
    out: list[str] = []
    if isinstance(node, dict):
        for k, v in node.items():
            if k in ("text", "title", "content") and isinstance(v, str):
                out.append(v)
            else:
                out += _texts(v)
    elif isinstance(node, list):
        for v in node:
            out += _texts(v)
    return out
