"""A local fake OneBot v11 implementation (NapCat / go-cqhttp flavoured), for the `onebot` channel's tests.

Two halves, both over real HTTP on 127.0.0.1:

1. The HTTP API server (`FakeOneBot.start()`: a `ThreadingHTTPServer` on an ephemeral port) that keeps
   QQ groups and their messages in memory. What it reproduces, and where that is documented:

   - Requests (OneBot v11 communication/http.md): `/:action` (or `/:action/`) by GET or POST; parameters
     from the query string, an urlencoded form or a JSON body; `_async` suffixed actions answer
     `{"status": "async", "retcode": 1, "data": null}`.
   - Access token (communication/authorization.md): `Authorization: Bearer <token>` or
     `?access_token=<token>`; go-cqhttp's server/http.go answers HTTP 401 when none is given and 403
     when it does not match (NapCat answers 403 for both).
   - Answers (communication/http.md): HTTP 200 with `{"status": "ok"|"async"|"failed", "retcode": N,
     "data": …}`, failures carrying `msg`/`wording` (go-cqhttp) or `message`/`wording` (NapCat). Return
     codes (OneBot / CQHTTP API table): 100 missing or invalid parameters, 102 invalid data (no
     permission, e.g. not in that group), 103 operation failed (not an admin), 104 credentials expired,
     201 worker pool not ready. An unknown action: go-cqhttp `retcode 404` "API_NOT_FOUND" / "API不存在"
     (server/api.go `callAPI`); NapCat `retcode 200` "不支持的Api <name>" (OB11HttpServerAdapter); NapCat
     answers a payload that fails its schema with `retcode 400` and an exception in an action with
     `retcode 200` and the error text (OneBotAction.handle). The "lagrange" flavour answers an unknown
     action with a bare HTTP 404 — an assumption, to exercise that path.
   - `get_group_list` → `[{"group_id", "group_name", "member_count", "max_member_count"}]`.
   - `get_group_msg_history` (go-cqhttp extension; KarinJS/onebot-11 docs/api/message.md, go-cqhttp
     coolq/api.go `CQGetGroupMessageHistory`, NapCat `GoCQHTTPGetGroupMsgHistory`): `group_id`,
     optional `message_seq` (without it: the latest messages) and, NapCat only, `count` (default 20).
     `data.messages` are group message events; the page ENDS WITH the message at `message_seq`
     (go-cqhttp: seqs seq-19 … seq, always 20, oldest first, `message_seq` is the real sequence
     number and `message_id` a separate id; NapCat: `message_seq` IS the `message_id`, `count`
     messages, and its older versions reverse the list — newest first). Lagrange pages by
     `message_id` instead (`flavour="lagrange"`). A group the bot is not in: go-cqhttp `retcode 100`
     "GROUP_NOT_FOUND" / "群聊不存在"; NapCat, for an empty result: `retcode 200` "消息<id>不存在".
   - `delete_msg` (`message_id`) → data null; `set_group_ban` (`group_id`, `user_id`, `duration`,
     default 1800 seconds) → data null; `send_group_msg` / `send_private_msg` (`group_id` / `user_id`,
     `message` as a string or a segment array) → `{"message_id": N}` (communication/http.md,
     docs/api/message.md).

   `fail(action, *answers)` scripts the next answers of an action: an HTTP status with a body, or a
   failed OneBot answer (any retcode). Every request is recorded in `calls` (action, method, merged
   parameters, headers).

2. The HTTP POST event reporter (`push`): what NapCat's / go-cqhttp's HTTP client sends to the
   configured URL (communication/http-post.md, go-cqhttp server/http.go `onBotPushEvent`): `POST` with
   `Content-Type: application/json`, `X-Self-ID: <bot QQ>`, and, when a secret is set, `X-Signature:
   sha1=<hex HMAC-SHA1(secret, body)>` over the exact body bytes; an answer of 204 (or an empty body)
   means "no quick operation". Event shapes (event/message.md, event/meta.md, event/notice.md):
   group messages with `time`, `self_id`, `post_type: message`, `message_type: group`,
   `sub_type: normal`, `message_id`, `group_id`, `user_id`, `anonymous: null`, `message` (array of
   `{"type", "data"}` segments or a CQ-code string, message/array.md, message/string.md with its
   escaping rules), `raw_message`, `font`, `sender {user_id, nickname, card, sex, age, area, level,
   role, title}`; heartbeats (`meta_event_type: heartbeat`, `status`, `interval`), lifecycle events,
   notices (`group_recall`, `group_increase` …), private messages.
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import zlib
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import requests

SELF_ID = 10001000  # the bot's QQ number


@dataclass
class Call:
    action: str
    method: str
    params: dict[str, Any]
    headers: dict[str, str]


@dataclass
class Group:
    group_id: int
    name: str
    messages: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    joined: bool = True


def sign(secret: str, body: bytes) -> str:
    """The X-Signature header value OneBot sends: sha1=<hex HMAC-SHA1(secret, body)>."""
    return "sha1=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha1).hexdigest()


def cq_escape(text: str, *, comma: bool = False) -> str:
    text = text.replace("&", "&amp;").replace("[", "&#91;").replace("]", "&#93;")
    return text.replace(",", "&#44;") if comma else text


def to_cq(segments: list[dict[str, Any]]) -> str:
    """The string (CQ code) format of a segment array, escaped as message/string.md says."""
    out = []
    for seg in segments:
        if seg["type"] == "text":
            out.append(cq_escape(seg["data"]["text"]))
        else:
            params = "".join(f",{k}={cq_escape(str(v), comma=True)}" for k, v in seg["data"].items())
            out.append(f"[CQ:{seg['type']}{params}]")
    return "".join(out)


class FakeOneBot:
    """`flavour`: "napcat" (default), "gocq" or "lagrange" — how history paging and unknown actions behave."""

    def __init__(self, *, token: str | None = None, flavour: str = "napcat", self_id: int = SELF_ID) -> None:
        self.token = token
        self.flavour = flavour
        self.self_id = self_id
        self.groups: dict[int, Group] = {}
        self.calls: list[Call] = []
        self.scripted: dict[str, list[tuple[Any, ...]]] = {}
        self.unsupported: set[str] = set()
        self.sent: list[dict[str, Any]] = []
        self._seq = 5000
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.url = ""

    # ------------------------------------------------------------------ server
    def start(self) -> "FakeOneBot":
        fake = self

        class Handler(_ApiHandler):
            bot = fake

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def fail(self, action: str, *answers: tuple[Any, ...]) -> None:
        """Script the next answers of `action`: (HTTP status, body dict/bytes[, headers]); a dict body
        with HTTP 200 is a OneBot answer, e.g. (200, failed(103, "权限不足"))."""
        self.scripted.setdefault(action, []).extend(answers)

    def calls_to(self, action: str) -> list[Call]:
        return [c for c in self.calls if c.action == action]

    # ------------------------------------------------------------------ data
    def add_group(self, group_id: int, name: str, *, joined: bool = True) -> Group:
        group = self.groups[group_id] = Group(group_id, name, joined=joined)
        return group

    def next_seq(self) -> int:
        with self._lock:
            self._seq += 1
            return self._seq

    def message_id_for(self, group_id: int, seq: int) -> int:
        """go-cqhttp's global message id: a signed 32-bit CRC of "<group>-<seq>" (coolq toGlobalID);
        NapCat's short id is a hash too. Stable, and different from the sequence number."""
        value = zlib.crc32(f"{group_id}-{seq}".encode())
        return value - 2**32 if value >= 2**31 else value

    def group_message(self, group_id: int, message: str | list[dict[str, Any]], *, user_id: int = 20002000,
                      card: str = "", nickname: str = "教工甲", at: float | None = None, fmt: str = "array",
                      seq: int | None = None, group_name: str | None = None, keep: bool = True) -> dict[str, Any]:
        """A group message event (event/message.md), kept in the group's history when `keep`."""
        segments = [{"type": "text", "data": {"text": message}}] if isinstance(message, str) else message
        seq = seq if seq is not None else self.next_seq()
        event: dict[str, Any] = {
            "time": int(at if at is not None else time.time()), "self_id": self.self_id, "post_type": "message",
            "message_type": "group", "sub_type": "normal", "message_id": self.message_id_for(group_id, seq),
            "group_id": group_id, "user_id": user_id, "anonymous": None,
            "message": to_cq(segments) if fmt == "string" else segments, "raw_message": to_cq(segments),
            "font": 0,
            "sender": {"user_id": user_id, "nickname": nickname, "card": card, "sex": "unknown", "age": 0,
                       "area": "", "level": "1", "role": "member", "title": ""},
        }
        if self.flavour == "napcat":
            event["message_seq"] = event["message_id"]
            event["real_id"] = event["message_id"]
            event["message_format"] = fmt
        else:
            event["message_seq"] = seq
        if group_name is not None:
            event["group_name"] = group_name
        if keep and group_id in self.groups:
            self.groups[group_id].messages.append(event)
        return event

    def heartbeat(self) -> dict[str, Any]:
        return {"time": int(time.time()), "self_id": self.self_id, "post_type": "meta_event",
                "meta_event_type": "heartbeat", "status": {"online": True, "good": True}, "interval": 5000}

    def lifecycle(self) -> dict[str, Any]:
        return {"time": int(time.time()), "self_id": self.self_id, "post_type": "meta_event",
                "meta_event_type": "lifecycle", "sub_type": "connect"}

    def recall_notice(self, group_id: int, message_id: int, user_id: int = 20002000) -> dict[str, Any]:
        return {"time": int(time.time()), "self_id": self.self_id, "post_type": "notice",
                "notice_type": "group_recall", "group_id": group_id, "user_id": user_id, "operator_id": user_id,
                "message_id": message_id}

    def private_message(self, text: str, *, user_id: int = 30003000, message_id: int = 77001) -> dict[str, Any]:
        return {"time": int(time.time()), "self_id": self.self_id, "post_type": "message",
                "message_type": "private", "sub_type": "friend", "message_id": message_id, "user_id": user_id,
                "message": [{"type": "text", "data": {"text": text}}], "raw_message": cq_escape(text), "font": 0,
                "sender": {"user_id": user_id, "nickname": "私聊人", "sex": "unknown", "age": 0}}

    # ------------------------------------------------------------------ HTTP POST reporting
    def push(self, url: str, event: dict[str, Any] | bytes, secret: str | None = None, *,
             signature: str | None = None, headers: dict[str, str] | None = None, method: str = "POST",
             timeout: float = 10.0) -> requests.Response:
        """Report `event` like the implementation's HTTP client: the JSON body, X-Self-ID, and the
        X-Signature of `secret` (or the given `signature`)."""
        body = event if isinstance(event, bytes) else json.dumps(event, ensure_ascii=False).encode("utf-8")
        h = {"Content-Type": "application/json", "X-Self-ID": str(self.self_id), "User-Agent": "NapCat"}
        if signature is not None:
            h["X-Signature"] = signature
        elif secret is not None:
            h["X-Signature"] = sign(secret, body)
        h.update(headers or {})
        return requests.request(method, url, data=body, headers=h, timeout=timeout)

    # ------------------------------------------------------------------ actions
    def answer(self, action: str, params: dict[str, Any]) -> tuple[int, Any]:
        if action in self.unsupported or not hasattr(self, f"_do_{action}"):
            if self.flavour == "gocq":
                return 200, failed(404, "API不存在", msg="API_NOT_FOUND")
            if self.flavour == "lagrange":
                return 404, b""
            return 200, failed(200, f"不支持的Api {action}")
        try:
            return 200, getattr(self, f"_do_{action}")(params)
        except _Failed as exc:
            return 200, exc.answer

    def _group(self, params: dict[str, Any]) -> Group:
        try:
            gid = int(params["group_id"])
        except (KeyError, TypeError, ValueError):
            raise _Failed(failed(100, "group_id 无效", msg="PARAM_ERROR")) from None
        group = self.groups.get(gid)
        if group is None or not group.joined:
            raise _Failed(failed(100, "群聊不存在", msg="GROUP_NOT_FOUND"))
        return group

    def _do_get_group_list(self, params: dict[str, Any]) -> dict[str, Any]:
        return ok([{"group_id": g.group_id, "group_name": g.name, "member_count": 50, "max_member_count": 200}
                   for g in self.groups.values() if g.joined])

    def _do_get_group_msg_history(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        msgs = group.messages
        if self.flavour == "gocq":  # by real sequence number, seq-19 … seq
            seq = int(params.get("message_seq") or 0) or (msgs[-1]["message_seq"] if msgs else 0)
            page = [m for m in msgs if seq - 19 <= m["message_seq"] <= seq]
            return ok({"messages": page})
        count = int(params.get("count") or 20)
        key = "message_id" if self.flavour == "lagrange" else "message_seq"
        start = params.get(key)
        if start in (None, "", 0, "0"):
            page = msgs[-count:]
        else:
            at = next((i for i, m in enumerate(msgs) if str(m["message_id"]) == str(start)), None)
            page = [] if at is None else msgs[max(0, at - count + 1):at + 1]
        if not page:
            raise _Failed(failed(200, f"消息{start}不存在"))
        return ok({"messages": list(reversed(page)) if self.flavour == "napcat" else page})

    def _do_delete_msg(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("message_id") in (None, ""):
            raise _Failed(failed(100, "message_id 缺失"))
        return ok(None)

    def _do_set_group_ban(self, params: dict[str, Any]) -> dict[str, Any]:
        self._group(params)
        if params.get("user_id") in (None, ""):
            raise _Failed(failed(100, "user_id 缺失"))
        return ok(None)

    def _do_send_group_msg(self, params: dict[str, Any]) -> dict[str, Any]:
        group = self._group(params)
        if not params.get("message"):
            raise _Failed(failed(100, "message 为空"))
        self.sent.append(params)
        return ok({"message_id": self.message_id_for(group.group_id, self.next_seq())})

    def _do_send_private_msg(self, params: dict[str, Any]) -> dict[str, Any]:
        self.sent.append(params)
        return ok({"message_id": 424242})


class _Failed(Exception):
    def __init__(self, answer: dict[str, Any]) -> None:
        super().__init__(answer.get("wording"))
        self.answer = answer


def ok(data: Any) -> dict[str, Any]:
    return {"status": "ok", "retcode": 0, "data": data, "message": "", "wording": ""}


def failed(retcode: int, wording: str, *, msg: str | None = None) -> dict[str, Any]:
    answer = {"status": "failed", "retcode": retcode, "data": None, "wording": wording}
    answer["msg" if msg is not None else "message"] = msg if msg is not None else wording
    return answer


class _ApiHandler(BaseHTTPRequestHandler):
    bot: FakeOneBot
    protocol_version = "HTTP/1.1"
    wbufsize = 1 << 16  # one segment per answer (no delayed-ACK stalls on keep-alive connections)

    def do_GET(self) -> None:
        self._handle()

    def do_POST(self) -> None:
        self._handle()

    def _handle(self) -> None:
        bot = self.bot
        url = urlsplit(self.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        params: dict[str, Any] = {k: v for k, v in query.items() if k != "access_token"}
        ctype = self.headers.get("Content-Type", "")
        if body and "application/json" in ctype:
            try:
                data = json.loads(body)
            except ValueError:
                self._send(400, b"")
                return
            if isinstance(data, dict):
                params.update(data)
        elif body and "application/x-www-form-urlencoded" in ctype:
            params.update({k: v[-1] for k, v in parse_qs(body.decode()).items()})
        action = url.path.strip("/")
        bot.calls.append(Call(action, self.command, params, dict(self.headers.items())))
        if bot.token:
            auth = self.headers.get("Authorization", "")
            given = auth.split(" ", 1)[1] if auth.startswith("Bearer ") else query.get("access_token", "")
            if not given:
                self._send(401, b"")
                return
            if given != bot.token:
                self._send(403, json.dumps({"message": "token verify failed!"}).encode())
                return
        scripted = bot.scripted.get(action)
        headers: dict[str, str] = {}
        if scripted:
            status, answer, *rest = scripted.pop(0)
            headers = rest[0] if rest else {}
        elif action.endswith("_async") and hasattr(bot, f"_do_{action[:-6]}"):
            bot.answer(action[:-6], params)
            status, answer = 200, {"status": "async", "retcode": 1, "data": None}
        else:
            status, answer = bot.answer(action, params)
        self._send(status, answer if isinstance(answer, bytes) else json.dumps(answer, ensure_ascii=False).encode(),
                   headers)

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass
