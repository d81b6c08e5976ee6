"""A local fake of the DingTalk (钉钉) APIs the `dingtalk_robot` and `dingtalk_notice` notifiers call, on
127.0.0.1: a real `ThreadingHTTPServer` answering what the documentation says (where it is silent, the
choice is marked "undocumented" below). Both APIs live on one host, as on oapi.dingtalk.com.

Documented behaviour reproduced, by endpoint:

Custom group robot (open.dingtalk.com/document/orgapp/custom-robot-access,
…/custom-robots-send-group-messages; "自定义机器人接入" / "自定义机器人发送群消息"):
- `POST /robot/send?access_token=…[&timestamp=…&sign=…]`, a UTF-8 JSON body `{"msgtype", <msgtype>: {…}}`,
  msgtypes text (`content`), link, markdown (`title`, `text`), actionCard, feedCard. Answer
  `{"errcode": 0, "errmsg": "ok"}` over HTTP 200, errors too.
- An unknown access_token → `{"errcode": 300001, "errmsg": "token is not exist"}` (the answer users report
  for a wrong token; `new_codes` answers the newer table's 400101 "access_token不存在" instead).
- Security settings, one or more per robot (安全设置): 加签 — `timestamp` in milliseconds, at most one hour
  from the server's time ("与请求调用时间误差不能超过1小时"), else 310000 "invalid timestamp"; `sign` =
  urlEncode(Base64(HmacSHA256(key=secret, msg=timestamp+"\\n"+secret))) (UTF-8), else 310000 "sign not
  match"; 自定义关键词 — at most 10, the message must contain one, else 310000 "keywords not in content";
  IP 地址（段） — else 310000 "ip X.X.X.X not in whitelist". (errmsg texts as in the documentation's
  examples; `chinese_errmsg` answers the newer "description:机器人发送签名不匹配;solution:…" style.)
- "每个机器人每分钟最多发送20条消息到群里，如果超过20条，会限流10分钟": the 21st message in 60 s gets
  130101 "send too fast, exceed 20 times per minute" (newer table: 410100 "发送速度太快而限流") and the
  robot refuses everything for 10 minutes.
- Newer error table: 400102 机器人已停用 (`stopped`), 400105 不支持的消息类型 (an unknown msgtype).
  Undocumented: a markdown message without title or text — answered 400105 too.

Work notices of an internal app (…/obtain-orgapp-token, …/asynchronous-sending-of-enterprise-session-
messages, …/gets-the-result-of-sending-messages-asynchronously-to-the-enterprise, global error codes):
- `GET /gettoken?appkey=…&appsecret=…` → `{"errcode": 0, "errmsg": "ok", "access_token", "expires_in": 7200}`;
  within its validity the same token is returned ("有效期内重复获取会返回相同结果"); a wrong key or secret →
  40089 "不合法的corpId或corpSecret"; an address outside the app's server IP whitelist → 60020.
- Tokens on the topapi endpoints: an unknown or expired token → errcode 88 with `sub_code` "40014"
  ("ding talk error[subcode=40014,submsg=不合法的access_token]", the topapi style), or with
  `plain_token_errors` the classic 40014 不合法的access_token / 42001 access_token超时.
- `POST /topapi/message/corpconversation/asyncsend_v2?access_token=…` `{"agent_id", "userid_list": "a,b",
  "dept_id_list", "to_all_user", "msg": {"msgtype", …}}` → `{"errcode": 0, "task_id", "request_id"}`.
  msg types text / markdown (`title`, `text`) / action_card (`title`, `markdown`, and `single_title` +
  `single_url` or `btn_orientation` + `btn_json_list`) / link / oa. msg at most 2048 bytes ("最长不超过
  2048个字节"; the errcode for a longer one is undocumented: 40035 here). No recipient → 1430000 接受者为空.
  Unknown agent_id → 40056 (global codes: 不合法的agentid). Limits that the documentation says are
  answered with *success* while the user gets nothing ("超出以上限制次数后，接口返回成功，但用户无法接收
  到"): the same content to the same user once a day (forbidden_list code 143106), 500 notices per user per
  day (143105); they show in `getsendresult`. Per-app frequency: more than `qps` calls in one second →
  90018; more than 5,000 recipients in a minute → 143103 (企业单应用消息发送人次QPM超限).
- `POST /topapi/message/corpconversation/getsendresult?access_token=…` `{"agent_id", "task_id"}` →
  `{"errcode": 0, "send_result": {"invalid_user_id_list", "forbidden_user_id_list", "failed_user_id_list",
  "read_user_id_list", "unread_user_id_list", "invalid_dept_id_list", "forbidden_list": [{"code", "count",
  "userid"}]}}`; an unknown task → undocumented, 40035 here.
- Any endpoint, on demand (`fail`): an errcode over HTTP 200 (-1 系统繁忙 …) or an HTTP status (500, 503).
"""
from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

from tests.fakes.server import LocalPlatform, read, reply

ERRMSG = {
    -1: "系统繁忙",
    88: "ding talk error",
    40014: "不合法的access_token",
    40035: "不合法的参数",
    40056: "不合法的agentid",
    40089: "不合法的corpId或corpSecret",
    42001: "access_token超时",
    60011: "没有调用该接口的权限",
    60020: "访问ip不在白名单之中",
    90018: "api访问频率超过限制",
    130101: "send too fast, exceed 20 times per minute",
    143103: "企业单应用消息发送人次QPM超限",
    300001: "token is not exist",
    310000: "sign not match",
    400101: "access_token不存在",
    400102: "机器人已停用",
    400105: "不支持的消息类型",
    410100: "发送速度太快而限流",
    1430000: "接受者为空",
}
ROBOT_MSGTYPES = {"text", "link", "markdown", "actionCard", "feedCard"}
NOTICE_MSGTYPES = {"text", "image", "voice", "file", "link", "oa", "markdown", "action_card"}


def reference_sign(secret: str, timestamp: str) -> str:
    """The documented 加签 before URL-encoding (the server side of the check)."""
    digest = hmac.new(secret.encode("utf-8"), f"{timestamp}\n{secret}".encode("utf-8"), hashlib.sha256).digest()
    return base64.b64encode(digest).decode("ascii")


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    raw_query: str
    body: Any
    raw: bytes
    headers: dict[str, str]
    client: str


@dataclass
class Robot:
    access_token: str
    secret: str | None = None  # 加签
    keywords: list[str] = field(default_factory=list)  # 自定义关键词
    ips: list[str] | None = None  # IP 地址（段）
    stopped: bool = False
    received: list[dict[str, Any]] = field(default_factory=list)  # the messages that reached the group
    sent_at: list[float] = field(default_factory=list)
    throttled_until: float = 0.0


@dataclass
class Task:
    task_id: int
    agent_id: int
    users: list[str]
    msg: dict[str, Any]
    invalid: list[str] = field(default_factory=list)
    forbidden: list[dict[str, Any]] = field(default_factory=list)
    delivered: list[str] = field(default_factory=list)


@dataclass
class Failure:
    path: str
    times: int
    errcode: int | None = None
    status: int | None = None
    sub_code: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    after: int = 0  # let this many matching requests through first


class FakeDingTalk(LocalPlatform):
    """The platform: robots in groups, one internal app with its users, tokens, scripted failures and every
    request seen. `clock` (seconds) drives rate limits and token expiry; `now_ms` is the server's time."""

    def __init__(self, app_key: str = "dingappkey0001", app_secret: str = "app-secret-5ec7e7-0123456789",
                 agent_id: int = 2233445566, users: tuple[str, ...] = ("zhangsan", "lisi", "wangwu"), *,
                 new_codes: bool = False, chinese_errmsg: bool = False, plain_token_errors: bool = False) -> None:
        self.app_key, self.app_secret, self.agent_id = app_key, app_secret, agent_id
        self.users = set(users)
        self.new_codes, self.chinese_errmsg, self.plain_token_errors = new_codes, chinese_errmsg, plain_token_errors
        self.robots: dict[str, Robot] = {}
        self.tokens: dict[str, float] = {}  # token -> expiry on `clock`
        self.current_token: str | None = None
        self.token_lifetime = 7200
        self.tasks: dict[int, Task] = {}
        self.inbox: dict[str, list[dict[str, Any]]] = {}  # userid -> notices received (msg)
        self.daily: dict[str, int] = {}  # userid -> notices today
        self.daily_limit = 500
        self.qps = 40
        self.recipients_per_minute = 5000
        self.ip_allowed = True
        self.requests: list[Seen] = []
        self.failures: list[Failure] = []
        self.clock: Callable[[], float] = time.monotonic
        self.now_ms: Callable[[], int] = lambda: int(time.time() * 1000)
        self._task_ids = itertools.count(256271667526)
        self._calls: list[float] = []
        self._recipients: list[tuple[float, int]] = []
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ set-up and inspection
    def add_robot(self, access_token: str, *, secret: str | None = None, keywords: list[str] | None = None,
                  ips: list[str] | None = None) -> Robot:
        with self.lock:
            robot = Robot(access_token, secret, list(keywords or []), ips)
            self.robots[access_token] = robot
            return robot

    def expire_tokens(self) -> None:
        """Every token issued so far expires now."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0
            self.current_token = None

    def fail(self, path: str, *, errcode: int | None = None, status: int | None = None, times: int = 1,
             sub_code: str | None = None, headers: dict[str, str] | None = None, after: int = 0) -> None:
        """The next `times` requests to `path` (e.g. "robot/send"), after letting `after` through, fail
        with an errcode in an HTTP 200 answer, or with an HTTP status."""
        with self.lock:
            self.failures.append(Failure(path.strip("/"), times, errcode, status, sub_code, dict(headers or {}),
                                         after))

    def calls(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path.strip("/")]

    # ------------------------------------------------------------------ serving
    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        r = read(handler)
        with self.lock:
            self.requests.append(Seen(method, r.path, r.query, r.raw_query, r.body, r.raw, r.headers, r.client))
            status, headers, answer = self._route(method, r.path, r.query, r.body, r.raw, r.client)
        reply(handler, status, answer, headers, json_type="application/json")

    def _route(self, method: str, path: str, query: dict[str, str], body: Any, raw: bytes, client: str
               ) -> tuple[int, dict[str, str], Any]:
        for failure in self.failures:
            if failure.path == path and failure.times > 0:
                if failure.after > 0:
                    failure.after -= 1
                    continue
                failure.times -= 1
                if failure.status is not None:
                    return failure.status, failure.headers, b"<html>503 Service Temporarily Unavailable</html>"
                answer = _error(failure.errcode if failure.errcode is not None else -1)
                if failure.sub_code is not None:
                    answer["sub_code"] = failure.sub_code
                return 200, failure.headers, answer
        if path == "robot/send" and method == "POST":
            return 200, {}, self._robot_send(query, body, raw, client)
        if path == "gettoken" and method == "GET":
            return 200, {}, self._gettoken(query)
        if path == "topapi/message/corpconversation/asyncsend_v2" and method == "POST":
            return 200, {}, self._with_token(query, lambda: self._asyncsend(body, raw))
        if path == "topapi/message/corpconversation/getsendresult" and method == "POST":
            return 200, {}, self._with_token(query, lambda: self._getsendresult(body))
        return 404, {}, b"<html>404 Not Found</html>"

    # ------------------------------------------------------------------ robot
    def _robot_error(self, code: int, errmsg: str, zh: str) -> dict[str, Any]:
        if self.chinese_errmsg:
            errmsg = f"description:{zh};solution:请参考本接口对应文档;link:请参考本接口对应文档获得具体要求;"
        return {"errcode": code, "errmsg": errmsg}

    def _robot_send(self, query: dict[str, str], body: Any, raw: bytes, client: str) -> dict[str, Any]:
        robot = self.robots.get(query.get("access_token", ""))
        if robot is None:
            return _error(400101) if self.new_codes else _error(300001)
        if robot.stopped:
            return _error(400102)
        now = self.clock()
        if now < robot.throttled_until:
            return _error(410100) if self.new_codes else _error(130101)
        if robot.secret is not None:
            timestamp = query.get("timestamp", "")
            if not timestamp.isdigit() or abs(int(timestamp) - self.now_ms()) > 3_600_000:
                return self._robot_error(310000, "invalid timestamp", "机器人发送时间戳无效")
            given = query.get("sign", "")  # parse_qs undid the URL-encoding once, as the platform does
            if not hmac.compare_digest(given, reference_sign(robot.secret, timestamp)):
                return self._robot_error(310000, "sign not match", "机器人发送签名不匹配")
        if robot.ips is not None and client not in robot.ips:
            return self._robot_error(310000, f"ip {client} not in whitelist", f"机器人发送的IP {client} 不在白名单中")
        if not isinstance(body, dict) or body.get("msgtype") not in ROBOT_MSGTYPES:
            return _error(400105)
        msgtype = body["msgtype"]
        content = body.get(msgtype)
        if not isinstance(content, dict) or (
                msgtype == "markdown" and not (content.get("title") and content.get("text"))):
            return _error(400105)
        if robot.keywords and not any(k in raw.decode("utf-8") for k in robot.keywords):
            return self._robot_error(310000, "keywords not in content", "消息内容中不包含任何关键词")
        robot.sent_at = [t for t in robot.sent_at if t > now - 60]
        if len(robot.sent_at) >= 20:
            robot.throttled_until = now + 600
            return _error(410100) if self.new_codes else _error(130101)
        robot.sent_at.append(now)
        robot.received.append(body)
        return {"errcode": 0, "errmsg": "ok"}

    # ------------------------------------------------------------------ app: tokens
    def _gettoken(self, query: dict[str, str]) -> dict[str, Any]:
        if query.get("appkey") != self.app_key or query.get("appsecret") != self.app_secret:
            return _error(40089)
        if not self.ip_allowed:
            return _error(60020)
        now = self.clock()
        if self.current_token is None or self.tokens.get(self.current_token, 0.0) <= now:
            self.current_token = "dt_" + secrets.token_hex(16)
            self.tokens[self.current_token] = now + self.token_lifetime
        remaining = max(1, int(self.tokens[self.current_token] - now))
        return {"errcode": 0, "errmsg": "ok", "access_token": self.current_token, "expires_in": remaining}

    def _with_token(self, query: dict[str, str], serve: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        token = query.get("access_token", "")
        expiry = self.tokens.get(token)
        if expiry is None or expiry <= self.clock():
            if self.plain_token_errors:
                return _error(40014 if expiry is None else 42001)
            return {"errcode": 88, "sub_code": "40014", "sub_msg": "不合法的access_token",
                    "errmsg": "ding talk error[subcode=40014,submsg=不合法的access_token]",
                    "request_id": secrets.token_hex(6)}
        return serve()

    # ------------------------------------------------------------------ app: work notices
    def _asyncsend(self, body: Any, raw: bytes) -> dict[str, Any]:
        if not isinstance(body, dict) or not isinstance(body.get("msg"), dict):
            return _error(40035)
        try:
            agent_id = int(body.get("agent_id"))
        except (TypeError, ValueError):
            return _error(40035)
        if agent_id != self.agent_id:
            return _error(40056)
        userids = body.get("userid_list") or ""
        if not isinstance(userids, str):
            return _error(40035)
        users = [u for u in userids.split(",") if u]
        if not users and not body.get("dept_id_list") and body.get("to_all_user") is not True:
            return _error(1430000)
        msg = body["msg"]
        if len(json.dumps(msg, ensure_ascii=False).encode("utf-8")) > 2048 or not _valid_notice_msg(msg):
            return _error(40035)
        now = self.clock()
        self._calls = [t for t in self._calls if t > now - 1]
        if len(self._calls) >= self.qps:
            return _error(90018)
        self._recipients = [(t, n) for t, n in self._recipients if t > now - 60]
        if sum(n for _, n in self._recipients) + len(users) > self.recipients_per_minute:
            return _error(143103)
        self._calls.append(now)
        self._recipients.append((now, len(users)))
        task = Task(next(self._task_ids), agent_id, users, msg)
        content = json.dumps(msg, sort_keys=True, ensure_ascii=False)
        for user in users:
            if user not in self.users:
                task.invalid.append(user)
            elif any(json.dumps(m, sort_keys=True, ensure_ascii=False) == content for m in self.inbox.get(user, [])):
                task.forbidden.append({"code": "143106", "count": 1, "userid": user})
            elif self.daily.get(user, 0) >= self.daily_limit:
                task.forbidden.append({"code": "143105", "count": self.daily_limit, "userid": user})
            else:
                self.inbox.setdefault(user, []).append(msg)
                self.daily[user] = self.daily.get(user, 0) + 1
                task.delivered.append(user)
        self.tasks[task.task_id] = task
        return {"errcode": 0, "task_id": task.task_id, "request_id": secrets.token_hex(6)}

    def _getsendresult(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            return _error(40035)
        try:
            task = self.tasks.get(int(body.get("task_id")))
            agent_id = int(body.get("agent_id"))
        except (TypeError, ValueError):
            return _error(40035)
        if task is None or agent_id != task.agent_id:
            return _error(40035)
        return {"errcode": 0, "request_id": secrets.token_hex(6), "send_result": {
            "invalid_user_id_list": list(task.invalid),
            "forbidden_user_id_list": [f["userid"] for f in task.forbidden],
            "failed_user_id_list": [],
            "read_user_id_list": [],
            "unread_user_id_list": list(task.delivered),
            "invalid_dept_id_list": [],
            "forbidden_list": [dict(f) for f in task.forbidden],
        }}


def _valid_notice_msg(msg: dict[str, Any]) -> bool:
    msgtype = msg.get("msgtype")
    content = msg.get(msgtype) if isinstance(msgtype, str) else None
    if msgtype not in NOTICE_MSGTYPES or not isinstance(content, dict):
        return False
    if msgtype == "markdown":
        return bool(content.get("title")) and bool(content.get("text"))
    if msgtype == "action_card":
        single = content.get("single_title") and content.get("single_url")
        buttons = content.get("btn_orientation") is not None and content.get("btn_json_list")
        return bool(content.get("title")) and bool(content.get("markdown")) and bool(single or buttons)
    if msgtype == "text":
        return bool(content.get("content"))
    return True


def _error(code: int) -> dict[str, Any]:
    return {"errcode": code, "errmsg": ERRMSG.get(code, "error")}
