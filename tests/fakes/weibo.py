"""A local fake of the Weibo open platform API v2 (api.weibo.com), for the `weibo` channel's tests.

A real HTTP server (`ThreadingHTTPServer` on 127.0.0.1, an ephemeral port) that keeps one Weibo
account in memory — its statuses and the comments it received — and answers the three documented
endpoints the channel uses. What each part reproduces, and where it is documented:

- `GET /2/comments/to_me.json` (open.weibo.com/wiki/2/comments/to_me, "获取当前登录用户所接收到的评论
  列表"): parameters `access_token`, `since_id` (only comments with an ID greater than it — later ones),
  `max_id` (only comments with an ID less than or equal to it), `count` (per page, default 50; the
  v1 page gives 200 as the maximum), `page` (default 1), `filter_by_author` (0 all, 1 people I follow,
  2 strangers) and `filter_by_source` (0 all, 1 Weibo, 2 Weiqun). Results are newest first (by id),
  `count` per page, page `page`. Answer: `{"comments": [...], "hasvisible": false, "previous_cursor": 0,
  "next_cursor": <id>|0, "total_number": N}`. A comment has `created_at` ("Wed Jun 01 00:50:25 +0800
  2011"), `id` (a JSON number), `idstr`, `mid`, `rootid`, `text`, `source`, `user` (`id`, `idstr`,
  `screen_name`, `name` …), `status` (the commented status, with its own `user`) and, for a reply,
  `reply_comment` (the comment replied to). Fields as in the documented JSON example and in answers
  quoted by client libraries (e.g. Rweibo's comments.to_me: idstr, created_at, id, text, source, mid,
  user, status, reply_comment).
- `POST /2/comments/destroy.json` (wiki/2/comments/destroy, "删除一条评论"): form fields `access_token`,
  `cid`; answers the deleted comment. An unknown comment → 20201 "target weibo comment does not
  exist"; a comment on another account's status by someone else → 20203 "Not your own comment".
- `POST /2/comments/reply.json` (wiki/2/comments/reply, "回复一条评论"): form fields `access_token`,
  `cid` (the comment replied to), `id` (the status it belongs to), `comment` (URL-encoded, at most 140
  Chinese characters), optional `without_mention` (0: prefix "回复@name:", default), `comment_ori`,
  `rip`; answers the new comment. Unknown comment → 20201; unknown status → 20101; empty text → 20008;
  too long → 20012; the same text again on the same status → 20019 "Repeat conetnt".
- Errors (wiki/Error_code): JSON `{"error": "...", "error_code": N, "request": "/2/..."}`. Token
  problems (OAuth2 table): unknown token → 21332 `invalid_access_token`, an expired one → 21327
  `expired_token`, none → 21301 `auth faild!` (answered with HTTP 401 here, as Weibo's are 4xx);
  rate limits 10022 "IP requests out of rate limit", 10023 "User requests out of rate limit", 10024
  "User requests for (%s) out of rate limit" (HTTP 403, as the platform's own error factors declare);
  10001 "System error", 10009 "Too many pending tasks, system is busy"; 10021 for a wrong method;
  10020 "Request api not found" for other paths; 10017 for a parameter that is not a number.
  `fail(...)` scripts any of these (and plain HTTP 500s) for the next requests, with any HTTP status,
  since Weibo answers error bodies with 200 and 4xx alike.

Knobs for edge cases: `id_as_float` makes `id` a JSON double (what a lossy JSON encoder produces for
ids over 2^53; `idstr` stays exact), `ignore_max_id` / `exclusive_max_id` model servers that
ignore `max_id` or treat it as "less than"; `on_request` runs before each answer (to add or delete
comments while a client is paging). Every request is recorded in `requests` (method, path, the
merged query and form parameters, the headers).
"""
from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import LocalPlatform

CST = timezone(timedelta(hours=8))
FIRST_ID = 2**53 + 1  # ids beyond what a double holds exactly
ACCOUNT = {"id": 5501234567, "idstr": "5501234567", "screen_name": "校工会官微", "name": "校工会官微"}


def weibo_time(at: datetime) -> str:
    """`Tue May 31 17:46:55 +0800 2011`, locale-independent."""
    at = at.astimezone(CST)
    days = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
    months = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
    return f"{days[at.weekday()]} {months[at.month - 1]} {at.day:02d} {at:%H:%M:%S} +0800 {at.year}"


def user(uid: int, name: str) -> dict[str, Any]:
    return {"id": uid, "idstr": str(uid), "screen_name": name, "name": name, "province": "11", "city": "8",
            "location": "北京 海淀区", "gender": "f", "followers_count": 12, "verified": False}


@dataclass
class Request:
    method: str
    path: str
    params: dict[str, str]
    headers: dict[str, str]


@dataclass
class Failure:
    status: int
    body: dict[str, Any] | str
    path: str | None
    headers: dict[str, str] = field(default_factory=dict)


class FakeWeibo(LocalPlatform):
    """The fake platform. `with FakeWeibo() as wb:` serves at `wb.url`."""

    ERRORS = {  # error_code: (HTTP status, error text) as the platform words them
        10001: (500, "System error"), 10009: (400, "Too many pending tasks, system is busy"),
        10017: (400, "Parameter's value invalid, see doc for more info"),
        10020: (404, "Request api not found!"), 10021: (405, "HTTP method is not suported for this request!"),
        10022: (403, "IP requests out of rate limit!"), 10023: (403, "User requests out of rate limit!"),
        10024: (403, "User requests for (comments/to_me) out of rate limit!"),
        20008: (400, "Content is null!"), 20012: (400, "Text too long, please input text less than 140 characters!"),
        20019: (400, "Repeat conetnt!"), 20101: (400, "Target weibo does not exist!"),
        20201: (400, "target weibo comment does not exist!"), 20203: (403, "Not your own comment!"),
        21301: (401, "auth faild!"), 21327: (401, "expired_token"), 21332: (401, "invalid_access_token"),
    }

    def __init__(self, token: str = "2.00tokenAAA") -> None:
        self.tokens = {token}
        self.expired: set[str] = set()
        self.statuses: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, dict[str, Any]] = {}
        self.replies: dict[int, set[str]] = {}  # status id -> texts the account posted there
        self.requests: list[Request] = []
        self.failures: list[Failure] = []
        self.served: dict[str, int] = {}  # idstr -> times a comment was handed out by to_me
        self.on_request: Callable[[Request], None] | None = None
        self.id_as_float = False
        self.ignore_max_id = False
        self.exclusive_max_id = False
        self.rate_limit_after: int | None = None  # to_me calls allowed before 10023
        self._next = FIRST_ID
        self._clock = datetime.now(CST).replace(microsecond=0) - timedelta(days=2)
        self._lock = threading.RLock()

    # ------------------------------------------------------------------ the account's content
    def _id(self) -> int:
        with self._lock:
            self._next += 1 + (self._next % 3)  # increasing, not consecutive
            return self._next

    def _tick(self) -> datetime:
        self._clock += timedelta(seconds=7)
        return self._clock

    def add_status(self, text: str) -> str:
        with self._lock:
            sid = self._id()
            self.statuses[sid] = {"created_at": weibo_time(self._tick()), "id": sid, "idstr": str(sid), "mid": str(sid),
                                  "text": text, "source": '<a href="http://weibo.com" rel="nofollow">新浪微博</a>',
                                  "user": dict(ACCOUNT), "reposts_count": 0, "comments_count": 0}
            return str(sid)

    def add_comment(self, status: str, text: str, uid: int = 1404376560, name: str = "zaku",
                    reply_to: str | None = None, at: datetime | None = None) -> str:
        """A comment from someone else on one of the account's statuses (a reply when `reply_to`)."""
        with self._lock:
            cid = self._id()
            record = {"created_at": weibo_time(at or self._tick()), "id": cid, "idstr": str(cid), "mid": str(cid),
                      "rootid": cid, "text": text, "source": '<a href="http://weibo.com" rel="nofollow">新浪微博</a>',
                      "user": user(uid, name), "status": self.statuses[int(status)]}
            if reply_to is not None:
                parent = self.comments[int(reply_to)]
                record["reply_comment"] = {k: parent[k] for k in ("created_at", "id", "idstr", "mid", "text", "user")}
                record["rootid"] = parent["rootid"]
            self.comments[cid] = record
            self.statuses[int(status)]["comments_count"] += 1
            return str(cid)

    def delete(self, cid: str) -> None:
        """The comment disappears on the platform (deleted by its author)."""
        with self._lock:
            self.comments.pop(int(cid), None)

    def fail(self, error_code: int | None = None, *, status: int | None = None, times: int = 1,
             path: str | None = None, body: Any = None, headers: dict[str, str] | None = None) -> None:
        """The next `times` requests (to `path`, if given) fail: with Weibo's error body for `error_code`
        (HTTP `status`, default the platform's), or with a plain `status` and `body`."""
        if error_code is not None:
            default, text = self.ERRORS.get(error_code, (400, "error"))
            answer: Any = {"error": text, "error_code": error_code, "request": path or "/2/comments/to_me.json"}
            status = default if status is None else status
        else:
            answer = body if body is not None else "<html><body>502 Bad Gateway</body></html>"
            status = status or 502
        with self._lock:
            self.failures.extend(Failure(status, answer, path, headers or {}) for _ in range(times))

    def expire(self, token: str | None = None) -> None:
        with self._lock:
            self.expired |= set(self.tokens) if token is None else {token}

    def requests_to(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    # ------------------------------------------------------------------ serving

    def _serve(self, h: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(h.path)
        params = {k: v[-1] for k, v in parse_qs(parts.query, keep_blank_values=True).items()}
        if method == "POST":
            length = int(h.headers.get("Content-Length") or 0)
            body = h.rfile.read(length).decode("utf-8") if length else ""
            if "json" in (h.headers.get("Content-Type") or ""):
                params.update({k: str(v) for k, v in (json.loads(body or "{}")).items()})
            else:
                params.update({k: v[-1] for k, v in parse_qs(body, keep_blank_values=True).items()})
        req = Request(method, parts.path, params, dict(h.headers.items()))
        with self._lock:
            self.requests.append(req)
            hook = self.on_request
        if hook is not None:
            hook(req)
        status, answer, headers = self._answer(req)
        data = answer if isinstance(answer, str) else json.dumps(answer, ensure_ascii=False)
        if self.id_as_float and isinstance(answer, dict):
            data = _floats(data)
        raw = data.encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", "application/json;charset=UTF-8" if not isinstance(answer, str)
                      else "text/html")
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(raw)))
        h.end_headers()
        h.wfile.write(raw)

    def _error(self, code: int, path: str, status: int | None = None) -> tuple[int, Any, dict[str, str]]:
        default, text = self.ERRORS[code]
        return status or default, {"error": text, "error_code": code, "request": path}, {}

    def _answer(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        with self._lock:
            for i, f in enumerate(self.failures):
                if f.path is None or f.path == req.path:
                    del self.failures[i]
                    return f.status, f.body, f.headers
            routes = {"/2/comments/to_me.json": ("GET", self._to_me), "/2/comments/destroy.json": ("POST", self._destroy),
                      "/2/comments/reply.json": ("POST", self._reply)}
            if req.path not in routes:
                return self._error(10020, req.path)
            method, fn = routes[req.path]
            if req.method != method:
                return self._error(10021, req.path)
            auth = req.headers.get("Authorization", "")
            token = req.params.get("access_token") or (auth[7:].strip() if auth.startswith("OAuth2 ") else "")
            if not token:
                return self._error(21301, req.path)
            if token in self.expired:
                return self._error(21327, req.path)
            if token not in self.tokens:
                return self._error(21332, req.path)
            return fn(req)

    def _number(self, req: Request, name: str, default: int) -> int | None:
        value = req.params.get(name, "")
        if value == "":
            return default
        return int(value) if value.isdigit() else None

    def _to_me(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        if self.rate_limit_after is not None:
            if self.rate_limit_after <= 0:
                return self._error(10023, req.path)
            self.rate_limit_after -= 1
        nums = {n: self._number(req, n, d) for n, d in (("since_id", 0), ("max_id", 0), ("count", 50), ("page", 1),
                                                        ("filter_by_author", 0), ("filter_by_source", 0))}
        if any(v is None for v in nums.values()) or nums["filter_by_author"] > 2 or nums["filter_by_source"] > 2:
            return self._error(10017, req.path)
        since, max_id, page = nums["since_id"], nums["max_id"], max(nums["page"], 1)
        count = min(max(nums["count"], 1), 200)
        chosen = [c for i, c in sorted(self.comments.items(), reverse=True)
                  if i > since and (not max_id or self.ignore_max_id or (i < max_id if self.exclusive_max_id else i <= max_id))
                  and c.get("user", {}).get("idstr") != ACCOUNT["idstr"]]
        if nums["filter_by_author"] == 1:
            chosen = []  # the account follows nobody here
        shown = chosen[(page - 1) * count: page * count]
        for c in shown:
            self.served[c["idstr"]] = self.served.get(c["idstr"], 0) + 1
        rest = chosen[page * count:]
        return 200, {"comments": shown, "hasvisible": False, "previous_cursor": 0,
                     "next_cursor": rest[0]["id"] if rest else 0, "total_number": len(chosen)}, {}

    def _comment(self, req: Request) -> tuple[dict[str, Any] | None, tuple[int, Any, dict[str, str]] | None]:
        cid = req.params.get("cid", "")
        if not cid.isdigit():
            return None, self._error(10017, req.path)
        comment = self.comments.get(int(cid))
        if comment is None:
            return None, self._error(20201, req.path)
        return comment, None

    def _destroy(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        comment, error = self._comment(req)
        if error:
            return error
        assert comment is not None
        if comment["status"]["user"]["idstr"] != ACCOUNT["idstr"] and comment["user"]["idstr"] != ACCOUNT["idstr"]:
            return self._error(20203, req.path)
        del self.comments[comment["id"]]
        return 200, comment, {}

    def _reply(self, req: Request) -> tuple[int, Any, dict[str, str]]:
        comment, error = self._comment(req)
        if error:
            return error
        assert comment is not None
        sid = req.params.get("id", "")
        if not sid.isdigit():
            return self._error(10017, req.path)
        status = self.statuses.get(int(sid))
        if status is None or comment["status"]["id"] != status["id"]:
            return self._error(20101, req.path)
        text = req.params.get("comment", "").strip()
        if not text:
            return self._error(20008, req.path)
        if len(text) > 140:
            return self._error(20012, req.path)
        if text in self.replies.setdefault(status["id"], set()):
            return self._error(20019, req.path)
        self.replies[status["id"]].add(text)
        if req.params.get("without_mention", "0") != "1":
            text = f"回复@{comment['user']['screen_name']}:{text}"
        cid = self._id()
        new = {"created_at": weibo_time(self._tick()), "id": cid, "idstr": str(cid), "mid": str(cid),
               "rootid": comment["rootid"], "text": text, "source": '<a href="http://weibo.com">微博 weibo.com</a>',
               "user": dict(ACCOUNT), "status": status,
               "reply_comment": {k: comment[k] for k in ("created_at", "id", "idstr", "mid", "text", "user")}}
        self.comments[cid] = new
        return 200, new, {}


def _floats(data: str) -> str:
    """Every `"id": <integer>` written as a double, as a lossy JSON encoder would (idstr untouched)."""
    return re.sub(r'"id": (\d{16,})', lambda m: f'"id": {float(int(m.group(1)))!r}', data)
