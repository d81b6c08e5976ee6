"""A local fake of the WeCom (企业微信) APIs the `wecom_app` and `wecom_robot` notifiers call, on
127.0.0.1: a real `ThreadingHTTPServer` answering what the documentation says (where it is silent,
the choice is marked "undocumented" below). Pages are developer.work.weixin.qq.com/document/path/N.

Documented behaviour reproduced:

- `GET /cgi-bin/gettoken?corpid=ID&corpsecret=SECRET` (91039 获取access_token):
  `{"errcode": 0, "errmsg": "ok", "access_token", "expires_in": 7200}`; each app (agent) has its own
  secret and its own token ("每个应用有独立的secret，获取到的access_token只能本应用使用"); within its
  lifetime the same token is handed out again (91039, older text: "有效期内重复获取返回相同结果").
  Errors (90313 全局错误码): 41002 缺少corpid参数, 41004 缺少secret参数, 40013 不合法的CorpID,
  40001 不合法的secret参数, 60020 不安全的访问IP (the 企业可信IP list, `ip_allowed`).
- Tokens on other calls (90313): none → 41001 缺少access_token参数; unknown or invalidated early
  ("企业微信可能会出于运营需要，提前使access_token失效", `revoke_tokens`) → 40014 不合法的access_token;
  past its lifetime (`expire_tokens`) → 42001 access_token已过期.
- `POST /cgi-bin/message/send?access_token=…` (90236 发送应用消息): `{touser: "a|b", toparty, totag,
  msgtype, agentid, text|textcard|markdown: {…}, enable_duplicate_check, duplicate_check_interval}`.
  The answer `{errcode, errmsg, invaliduser, invalidparty, invalidtag, unlicenseduser, msgid,
  response_code}`: "如果部分接收人无权限或不存在，发送仍然执行，但会返回无效的部分（即invaliduser或
  invalidparty或invalidtag或unlicenseduser），常见的原因是接收人不在应用的可见范围内。如果全部接收人
  无权限或不存在，则本次调用返回失败，errcode为81013。返回包中的userid，不区分大小写，统一转为小写".
  Users without a basic interface licence (`unlicensed`) come back in `unlicenseduser` (not delivered).
  Fields: textcard needs title (41016 缺少title参数), description (41033), url (41010 缺少url参数);
  title over 128 bytes, description over 512 bytes and btntxt over 4 characters are cut
  ("超过会自动截断"); text/markdown content over 2048 bytes is cut (undocumented what happens: we cut);
  an empty text → 44004; an unknown msgtype → 40008; agentid of no app → 40056 不合法的agentid, of
  another app than the token's → 301002 无权限操作指定的应用 (undocumented which of the two: inferred
  from their descriptions); over 1000 users → 40032 不合法的UserID列表长度; nobody → 82001.
  A body with `\\uXXXX` escapes → 40033 不合法的请求字符 (90313: "不能包含\\uxxxx格式的字符").
  `enable_duplicate_check: 1`: "在一定时间间隔内，同样内容（请求json）的消息，不会重复收到；时间间隔
  可通过duplicate_check_interval指定，默认1800秒".
  Frequency (90236 / 90454): "每应用对同一个成员不可超过30次/分钟，1000次/小时，超过部分会被丢弃
  不下发": errcode 0 and the message is dropped (kept in `dropped`, never in `inbox`).
- `POST /cgi-bin/webhook/send?key=KEY` (91770 / 99110 群机器人 / 消息推送配置说明):
  `{"msgtype": "text", "text": {"content" ≤2048 bytes}}` or `{"msgtype": "markdown", "markdown":
  {"content" ≤4096 bytes}}` → `{"errcode": 0, "errmsg": "ok"}`; a wrong key → 93000 "invalid webhook
  url" (as reported by users in public issues); "每个机器人发送的消息不能超过20条/分钟": the 21st in a
  minute → 45009 "api freq out of limit" (the message WeCom users report for robots); content over
  its limit → 40058 (undocumented code, documented limit).
- Any endpoint, on demand (`fail`): an errcode with HTTP 200 (-1 系统繁忙, 45009 接口调用超过限制,
  45033 接口并发调用超过限制, 48002 API接口无权限调用, …) or an HTTP status (500, 503 …). Error
  answers carry WeCom's real errmsg tail (", hint: [...], from ip: …, more info at …").
- `stop()` then `start()` again: the platform is down (connection refused) and comes back on the
  same port.
"""
from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

from tests.fakes.server import LocalPlatform, read, reply

ERRMSG = {
    -1: "system busy",
    40001: "invalid credential",
    40008: "invalid message type",
    40013: "invalid corpid",
    40014: "invalid access_token",
    40032: "invalid userid list size",
    40033: "invalid charset. please check your request, if include \\uxxxx will create fail!",
    40056: "invalid agentid",
    40058: "invalid parameter",
    41001: "access_token missing",
    41002: "corpid missing",
    41004: "corpsecret missing",
    41010: "url missing",
    41016: "title missing",
    41033: "description missing",
    42001: "access_token expired",
    44004: "empty content",
    45009: "api freq out of limit",
    45033: "api concurrent out of limit",
    47001: "data format error",
    48002: "api forbidden",
    60020: "not allow to access from your ip",
    81013: "user & party & tag all invalid",
    82001: "All touser & toparty & totag invalid",
    93000: "invalid webhook url",
    301002: "not allow operate another agent with this accesstoken.",
}


def error(code: int, ip: str = "127.0.0.1") -> dict[str, Any]:
    """An error answer as WeCom words it: errmsg, then a hint, the caller's IP and a link."""
    return {"errcode": code, "errmsg": f"{ERRMSG.get(code, 'error')}, hint: [{int(time.time())}{code}], "
                                       f"from ip: {ip}, more info at https://open.work.weixin.qq.com/devtool/query?e={code}"}


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class Delivered:
    """An application message that reached a member."""

    agent_id: int
    user: str
    msgtype: str
    content: dict[str, Any]


@dataclass
class Failure:
    path: str
    times: int
    errcode: int | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 0  # requests to let through first


@dataclass
class App:
    secret: str
    visible: set[str]  # user ids (lower case) in the app's visible range (可见范围)
    token: str | None = None


class FakeWeCom(LocalPlatform):
    """The platform: one corp with apps, members and group robots; issued tokens; scripted failures;
    every request seen, every message delivered or dropped."""

    def __init__(self, corp_id: str = "ww0123456789abcdef", agent_id: int = 1000002,
                 secret: str = "app-secret-Xq9", users: tuple[str, ...] = ("ZhangSan", "lisi", "wangwu"),
                 robot_key: str = "693a91f6-7aaa-4bc4-97a0-0ec2sifa5aaa") -> None:
        self.corp_id = corp_id
        self.users = {u.lower() for u in users}  # the corp's members (userids are case-insensitive)
        self.apps: dict[int, App] = {agent_id: App(secret, set(self.users))}
        self.unlicensed: set[str] = set()
        self.robots: dict[str, list[dict[str, Any]]] = {robot_key: []}
        self.robot_key = robot_key
        self.tokens: dict[str, tuple[int, float]] = {}  # token -> (agent id, expiry on `clock`)
        self.token_lifetime = 7200
        self.ip_allowed = True
        self.inbox: list[Delivered] = []
        self.dropped: list[Delivered] = []  # over the per-member frequency limit: silently dropped
        self.requests: list[Seen] = []
        self.failures: list[Failure] = []
        self.clock: Callable[[], float] = time.monotonic
        self._member_sends: dict[tuple[int, str], deque[float]] = {}
        self._robot_sends: dict[str, deque[float]] = {}
        self._dupes: dict[str, float] = {}
        self._msgid = 0
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ behaviour switches
    @property
    def agent_id(self) -> int:
        return next(iter(self.apps))

    @property
    def secret(self) -> str:
        return self.apps[self.agent_id].secret

    def hide_from_app(self, user: str) -> None:
        """Take a member out of the app's visible range (可见范围)."""
        with self.lock:
            self.apps[self.agent_id].visible.discard(user.lower())

    def expire_tokens(self) -> None:
        """Every token issued so far is past its lifetime (42001 from now on)."""
        with self.lock:
            for token, (agent, _) in list(self.tokens.items()):
                self.tokens[token] = (agent, 0.0)

    def revoke_tokens(self) -> None:
        """WeCom invalidates every token early (40014 from now on)."""
        with self.lock:
            self.tokens.clear()
            for app in self.apps.values():
                app.token = None

    def fail(self, path: str, *, errcode: int | None = None, status: int | None = None, times: int = 1,
             headers: dict[str, str] | None = None, after: int = 0) -> None:
        """The next `times` requests to `path` ("cgi-bin/message/send" …), after letting `after` through,
        fail with an errcode in an HTTP 200 answer, or with an HTTP status."""
        with self.lock:
            self.failures.append(Failure(path.strip("/"), times, errcode, status, dict(headers or {}), after))

    def calls(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path.strip("/")]

    def received(self, user: str) -> list[Delivered]:
        return [d for d in self.inbox if d.user == user.lower()]

    def group(self, key: str | None = None) -> list[dict[str, Any]]:
        return self.robots[key or self.robot_key]

    # ------------------------------------------------------------------ serving
    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        r = read(handler)
        with self.lock:
            self.requests.append(Seen(method, r.path, r.query, r.body, r.raw))
            status, headers, answer = self._route(method, r.path, r.query, r.body, r.raw)
        reply(handler, status, answer, headers, json_type="application/json; charset=UTF-8")

    def _route(self, method: str, path: str, query: dict[str, str], body: Any, raw: bytes
               ) -> tuple[int, dict[str, str], Any]:
        for failure in self.failures:
            if failure.path == path and failure.times > 0:
                if failure.after > 0:
                    failure.after -= 1
                    break
                failure.times -= 1
                if failure.status is not None:
                    return failure.status, failure.headers, b"<html><body>502 Bad Gateway</body></html>"
                return 200, failure.headers, error(failure.errcode if failure.errcode is not None else -1)
        if path == "cgi-bin/gettoken":
            return 200, {}, self._gettoken(query)
        if path == "cgi-bin/message/send":
            if method != "POST":
                return 200, {}, error(47001)
            return 200, {}, self._message_send(query, body, raw)
        if path == "cgi-bin/webhook/send":
            if method != "POST":
                return 200, {}, error(47001)
            return 200, {}, self._webhook_send(query, body, raw)
        return 404, {}, b"<html>404 Not Found</html>"

    # ------------------------------------------------------------------ tokens
    def _gettoken(self, query: dict[str, str]) -> dict[str, Any]:
        corpid, secret = query.get("corpid"), query.get("corpsecret")
        if not corpid:
            return error(41002)
        if not secret:
            return error(41004)
        if corpid != self.corp_id:
            return error(40013)
        agent = next((a for a, app in self.apps.items() if app.secret == secret), None)
        if agent is None:
            return error(40001)
        if not self.ip_allowed:
            return error(60020)
        app = self.apps[agent]
        now = self.clock()
        if app.token is None or self.tokens.get(app.token, (0, 0.0))[1] <= now:
            app.token = "ACCESS_TOKEN_" + secrets.token_hex(16)
            self.tokens[app.token] = (agent, now + self.token_lifetime)
        return {"errcode": 0, "errmsg": "ok", "access_token": app.token,
                "expires_in": max(1, int(self.tokens[app.token][1] - now))}

    def _token_agent(self, token: str | None) -> tuple[int | None, int | None]:
        if not token:
            return None, 41001
        if token not in self.tokens:
            return None, 40014
        agent, until = self.tokens[token]
        if until <= self.clock():
            return None, 42001
        return agent, None

    # ------------------------------------------------------------------ application messages
    def _message_send(self, query: dict[str, str], body: Any, raw: bytes) -> dict[str, Any]:
        agent, problem = self._token_agent(query.get("access_token"))
        if problem:
            return error(problem)
        if not self.ip_allowed:
            return error(60020)
        if re.search(rb"\\u[0-9a-fA-F]{4}", raw):
            return error(40033)
        if not isinstance(body, dict):
            return error(47001)
        agentid = body.get("agentid")
        if not isinstance(agentid, int) or agentid not in self.apps:
            return error(40056)
        if agentid != agent:
            return error(301002)
        msgtype = body.get("msgtype")
        content = body.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in ("text", "textcard", "markdown") or not isinstance(content, dict):
            return error(40008)
        if msgtype == "textcard":
            for name, code in (("title", 41016), ("description", 41033), ("url", 41010)):
                if not content.get(name):
                    return error(code)
            content = {"title": _cut(content["title"], 128), "description": _cut(content["description"], 512),
                       "url": content["url"], "btntxt": str(content.get("btntxt") or "详情")[:4]}
        else:
            if not content.get("content"):
                return error(44004)
            content = {"content": _cut(content["content"], 2048)}
        users = [u for u in str(body.get("touser") or "").split("|") if u.strip()]
        if not users and not body.get("toparty") and not body.get("totag"):
            return error(82001)
        if len(users) > 1000:
            return error(40032)
        app = self.apps[agentid]
        invalid = [u.strip().lower() for u in users if u.strip().lower() not in self.users
                   or u.strip().lower() not in app.visible]
        unlicensed = [u.strip().lower() for u in users if u.strip().lower() in self.unlicensed
                      and u.strip().lower() not in invalid]
        valid = [u.strip().lower() for u in users if u.strip().lower() not in invalid + unlicensed]
        if not valid and invalid and not unlicensed:
            return error(81013)
        duplicate = False
        if body.get("enable_duplicate_check") in (1, "1", True):
            digest = hashlib.sha256(json.dumps(body, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
            interval = min(int(body.get("duplicate_check_interval") or 1800), 4 * 3600)
            now = self.clock()
            duplicate = now - self._dupes.get(digest, -1e18) < interval
            if not duplicate:
                self._dupes[digest] = now
        if not duplicate:
            for user in valid:
                item = Delivered(agentid, user, msgtype, content)
                (self.inbox if self._member_allows(agentid, user) else self.dropped).append(item)
        self._msgid += 1
        return {"errcode": 0, "errmsg": "ok", "invaliduser": "|".join(invalid), "invalidparty": "",
                "invalidtag": "", "unlicenseduser": "|".join(unlicensed), "msgid": f"msgid{self._msgid}"}

    def _member_allows(self, agent: int, user: str) -> bool:
        sends = self._member_sends.setdefault((agent, user), deque())
        now = self.clock()
        while sends and sends[0] <= now - 3600:
            sends.popleft()
        if len([t for t in sends if t > now - 60]) >= 30 or len(sends) >= 1000:
            return False
        sends.append(now)
        return True

    # ------------------------------------------------------------------ group robots
    def _webhook_send(self, query: dict[str, str], body: Any, raw: bytes) -> dict[str, Any]:
        key = query.get("key")
        if not key or key not in self.robots:
            return error(93000)
        if re.search(rb"\\u[0-9a-fA-F]{4}", raw):
            return error(40033)
        if not isinstance(body, dict):
            return error(47001)
        sends = self._robot_sends.setdefault(key, deque())
        now = self.clock()
        while sends and sends[0] <= now - 60:
            sends.popleft()
        if len(sends) >= 20:
            return error(45009)
        msgtype = body.get("msgtype")
        limits = {"text": 2048, "markdown": 4096}
        content = body.get(msgtype) if isinstance(msgtype, str) else None
        if msgtype not in limits or not isinstance(content, dict):
            return error(40008)
        text = content.get("content")
        if not isinstance(text, str) or not text:
            return error(44004)
        if len(text.encode("utf-8")) > limits[msgtype]:
            return error(40058)
        sends.append(now)
        self.robots[key].append(body)
        return {"errcode": 0, "errmsg": "ok"}


def _cut(value: Any, limit: int) -> str:
    data = str(value).encode("utf-8")
    return data[:limit].decode("utf-8", "ignore")
