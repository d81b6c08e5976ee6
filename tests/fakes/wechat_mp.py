"""A local fake of the WeChat official-account (微信公众号) APIs the `wechat_mp` channel calls, on
127.0.0.1: a real `ThreadingHTTPServer`, answering what the documentation says, nothing invented on
top (where the documentation is silent, the choice is marked "undocumented" below).

Documented behaviour reproduced, by endpoint (developers.weixin.qq.com/doc/subscription/api/…):

- `GET /cgi-bin/token?grant_type=client_credential&appid=…&secret=…` (base/api_getaccesstoken):
  `{"access_token", "expires_in": 7200}`; every call issues a new token. Errors: 40002 invalid
  grant_type, 41002 appid missing, 41004 appsecret missing, 40013 invalid appid, 40001 for a wrong
  AppSecret ("获取 access_token 时 AppSecret 错误"), 40164 IP not in the whitelist.
- `POST /cgi-bin/stable_token` JSON `{grant_type, appid, secret, force_refresh}`
  (base/api_getstableaccesstoken): normal mode hands back the current token while it is valid, with its
  remaining `expires_in`; `force_refresh: true` invalidates it and issues a new one; only POST (a GET
  answers 43002 require POST method); 40013 invalid appid, 40125 invalid appsecret, 40164.
- Tokens on every other call (global return codes): no `access_token` → 41001 access_token missing; a
  token never issued or replaced → 40001 invalid credential ("access_token is invalid or not latest");
  one expired → 42001 access_token expired. A JSON body with `\\uXXXX` escapes → 40033 invalid charset
  (the global table: "不合法的请求字符，不能包含\\uxxxx格式的字符"). A body that is not the documented JSON
  (a required field missing, a wrong type) → 47001 data format error.
- `POST /cgi-bin/comment/list?access_token=…` `{msg_data_id, index, begin, count, type}`
  (leaving/api_listcomment): `{"errcode": 0, "errmsg": "ok", "comment": [{user_comment_id, openid,
  create_time, content, comment_type, reply: {content, create_time}}], "total": n}`; `index` counts from
  0 and defaults to 0; `count` >= 50 → 88010 (count range error); type 0 all, 1 normal, 2 elected; an
  unknown article → 88001 msg_data is not exists; a reader who commented without a WeChat identity has
  no `openid` ("用户如果用非微信身份评论,不返回openid"). Undocumented, so switchable: the list order
  (`newest_first`), and what `total` counts: the article's comments as documented, or the page's size
  (`total_is_page_size`), as developers report in the WeChat community.
- `POST /cgi-bin/comment/markelect | unmarkelect | delete | reply/add | reply/delete`
  `{msg_data_id, index, user_comment_id[, content]}` → `{"errcode": 0, "errmsg": "ok"}`
  (leaving/api_markelect, api_unmarkelect, api_delcomment, api_replycomment, api_delreply); 88000
  without comment privilege, 88001 msg_data is not exists, 88003 elected comment upper limit, 88004
  comment was deleted by user, 88005 already reply, 88007 reply content beyond max len or content len
  is zero, 88008 comment is not exists.
- `POST /datacube/getarticletotaldetail` `{begin_date, end_date}` (wedata/news/api_getarticletotaldetail):
  `{"list": [{ref_date, msgid: "<msg_data_id>_<n>" (n from 1), publish_type, detail_list}], "is_delay"}`;
  `end_date` at most yesterday, else 61501 date range error; a bad date → 61500; an account without the
  permission → 48001 api unauthorized ("仅认证").
- Any endpoint, on demand (`fail`): -1 system error, 45009 reach max api daily quota limit, 45011
  api minute-quota reach limit, 48001 api unauthorized, or an HTTP status (500, 503 with Retry-After).
"""
from __future__ import annotations

import json
import re
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import date, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any, Callable

from tests.fakes.server import LocalPlatform, read, reply

OK = {"errcode": 0, "errmsg": "ok"}
ERRMSG = {
    -1: "system error",
    40001: "invalid credential, access_token is invalid or not latest",
    40002: "invalid grant_type",
    40013: "invalid appid",
    40033: "invalid charset. please check your request, if include \\uxxxx will create fail!",
    40125: "invalid appsecret",
    40164: "invalid ip, not in whitelist",
    41001: "access_token missing",
    41002: "appid missing",
    41004: "appsecret missing",
    42001: "access_token expired",
    43002: "require POST method",
    45009: "reach max api daily quota limit",
    45011: "api minute-quota reach limit  mustslower  retry next minute",
    47001: "data format error",
    48001: "api unauthorized",
    61500: "date format error",
    61501: "date range error",
    88000: "without comment privilege",
    88001: "msg_data is not exists",
    88003: "elected comment upper limit",
    88004: "comment was deleted by user",
    88005: "already reply",
    88007: "reply content beyond max len or content len is zero",
    88008: "comment is not exists",
    88010: "count range error. cout <= 50",
}


@dataclass
class Seen:
    """One request as the fake received it."""

    method: str
    path: str
    query: dict[str, str]
    body: Any
    raw: bytes


@dataclass
class Comment:
    user_comment_id: int
    content: str
    create_time: int
    openid: str | None
    comment_type: int = 0
    reply: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"user_comment_id": self.user_comment_id, "create_time": self.create_time,
                               "content": self.content, "comment_type": self.comment_type}
        if self.openid is not None:
            out["openid"] = self.openid
        if self.reply is not None:
            out["reply"] = dict(self.reply)
        return out


@dataclass
class Article:
    comments: list[Comment] = field(default_factory=list)
    next_id: int = 1
    deleted_by_user: set[int] = field(default_factory=set)


@dataclass
class Failure:
    path: str
    times: int
    errcode: int | None = None
    status: int | None = None
    headers: dict[str, str] = field(default_factory=dict)


class FakeWeChat(LocalPlatform):
    """The platform: articles with comments, issued tokens, scripted failures, every request seen."""

    def __init__(self, app_id: str = "wx0123456789abcdef", secret: str = "app-secret-f00d", *,
                 newest_first: bool = False, total_is_page_size: bool = False) -> None:
        self.app_id, self.secret = app_id, secret
        self.newest_first = newest_first
        self.total_is_page_size = total_is_page_size
        self.articles: dict[tuple[int, int], Article] = {}
        self.published: list[tuple[str, str, int]] = []  # (ref_date, msgid "<id>_<n>", publish_type)
        self.requests: list[Seen] = []
        self.failures: list[Failure] = []
        self.hooks: list[tuple[str, int, Callable[[], None]]] = []
        self.tokens: dict[str, float] = {}  # token -> expiry (time.monotonic)
        self.stable: str | None = None  # the stable_token of the moment
        self.token_lifetime = 7200
        self.comment_privilege = True
        self.datacube_authorized = True
        self.ip_allowed = True
        self.has_stable_token = True
        self.elect_limit = 100
        self.reply_max = 600  # undocumented: the documentation only says "beyond max len"
        self.raw_control_chars = False  # answer with raw line breaks inside JSON strings
        self.today = date.today()
        self.clock = lambda: int(time.time())
        self.lock = threading.RLock()

    # ------------------------------------------------------------------ the platform's content
    def add_article(self, msg_data_id: int, index: int = 0) -> Article:
        with self.lock:
            return self.articles.setdefault((msg_data_id, index), Article())

    def add_comment(self, msg_data_id: int, index: int = 0, content: str = "留言", *, openid: str | None = "",
                    create_time: int | None = None) -> int:
        """A reader comments; the new `user_comment_id`."""
        with self.lock:
            article = self.add_article(msg_data_id, index)
            cid = article.next_id
            article.next_id += 1
            if openid == "":
                openid = f"o{msg_data_id % 1000}-{index}-reader{cid % 7}"
            article.comments.append(Comment(cid, content, create_time or self.clock(), openid))
            return cid

    def user_deletes(self, msg_data_id: int, index: int, user_comment_id: int) -> None:
        """The reader deletes their own comment: it leaves the list and every later offset shifts."""
        with self.lock:
            article = self.articles[(msg_data_id, index)]
            article.comments = [c for c in article.comments if c.user_comment_id != user_comment_id]
            article.deleted_by_user.add(user_comment_id)

    def official_reply(self, msg_data_id: int, index: int, user_comment_id: int, content: str,
                       create_time: int | None = None) -> None:
        """The account replies in the MP backend (not through the API)."""
        with self.lock:
            self._comment(msg_data_id, index, user_comment_id).reply = {
                "content": content, "create_time": create_time or self.clock()}

    def publish(self, ref_date: date, msg_data_id: int, n_articles: int = 1, publish_type: int = 0) -> None:
        """A mass send on `ref_date` with `n_articles` articles (datacube's msgid counts them from 1)."""
        with self.lock:
            for n in range(1, n_articles + 1):
                self.published.append((ref_date.isoformat(), f"{msg_data_id}_{n}", publish_type))
                self.add_article(msg_data_id, n - 1)

    def comment(self, msg_data_id: int, index: int, user_comment_id: int) -> Comment:
        with self.lock:
            return self._comment(msg_data_id, index, user_comment_id)

    # ------------------------------------------------------------------ behaviour switches
    def expire_tokens(self) -> None:
        """Every token issued so far expires now (42001 from here on)."""
        with self.lock:
            for token in self.tokens:
                self.tokens[token] = 0.0

    def fail(self, path: str, *, errcode: int | None = None, status: int | None = None, times: int = 1,
             headers: dict[str, str] | None = None) -> None:
        """The next `times` requests to `path` (e.g. "cgi-bin/comment/list") fail with an errcode in an
        HTTP 200 answer, or with an HTTP status."""
        with self.lock:
            self.failures.append(Failure(path.strip("/"), times, errcode, status, dict(headers or {})))

    def before(self, path: str, nth: int, action: Callable[[], None]) -> None:
        """Run `action` just before serving the `nth` request (from 1) to `path`."""
        with self.lock:
            self.hooks.append((path.strip("/"), nth, action))

    def calls(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path.strip("/")]

    # ------------------------------------------------------------------ serving
    def _serve(self, handler: BaseHTTPRequestHandler, method: str) -> None:
        r = read(handler)
        path, query, body, raw = r.path, r.query, r.body, r.raw
        with self.lock:
            self.requests.append(Seen(method, path, query, body, raw))
            count = len(self.calls(path))
            for hook in [h for h in self.hooks if h[0] == path and h[1] == count]:
                self.hooks.remove(hook)
                hook[2]()
            status, headers, answer = self._route(method, path, query, body, raw)
        reply(handler, status, answer, headers, encode=self._encode)

    def _encode(self, answer: Any) -> bytes:
        text = json.dumps(answer, ensure_ascii=False)
        if self.raw_control_chars:
            text = text.replace("\\n", "\n").replace("\\t", "\t")
        return text.encode("utf-8")

    def _route(self, method: str, path: str, query: dict[str, str], body: Any, raw: bytes
               ) -> tuple[int, dict[str, str], Any]:
        for failure in self.failures:
            if failure.path == path and failure.times > 0:
                failure.times -= 1
                if failure.status is not None:
                    return failure.status, failure.headers, b"<html>busy</html>"
                return 200, failure.headers, _error(failure.errcode or -1)
        if path == "cgi-bin/token":
            return 200, {}, self._token(method, query)
        if path == "cgi-bin/stable_token":
            if not self.has_stable_token:
                return 404, {}, b"<html>404 Not Found</html>"
            if method != "POST":
                return 200, {}, _error(43002)
            return 200, {}, self._stable_token(body)
        routes: dict[str, Callable[[Any], dict[str, Any]]] = {
            "cgi-bin/comment/list": self._list,
            "cgi-bin/comment/markelect": lambda b: self._elect(b, 1),
            "cgi-bin/comment/unmarkelect": lambda b: self._elect(b, 0),
            "cgi-bin/comment/delete": self._delete,
            "cgi-bin/comment/reply/add": self._reply_add,
            "cgi-bin/comment/reply/delete": self._reply_delete,
            "datacube/getarticletotaldetail": self._datacube,
        }
        if path not in routes:
            return 404, {}, b"<html>404 Not Found</html>"
        if method != "POST":
            return 200, {}, _error(43002)
        token_error = self._check_token(query.get("access_token"))
        if token_error:
            return 200, {}, _error(token_error)
        if re.search(rb"\\u[0-9a-fA-F]{4}", raw):
            return 200, {}, _error(40033)
        if not isinstance(body, dict):
            return 200, {}, _error(47001)
        return 200, {}, routes[path](body)

    # ------------------------------------------------------------------ tokens
    def _issue(self) -> str:
        token = "ACCESS_TOKEN_" + secrets.token_hex(12)
        self.tokens[token] = time.monotonic() + self.token_lifetime
        return token

    def _credentials(self, grant_type: Any, appid: Any, secret: Any, wrong_secret: int) -> int | None:
        if grant_type != "client_credential":
            return 40002
        if not appid:
            return 41002
        if not secret:
            return 41004
        if appid != self.app_id:
            return 40013
        if secret != self.secret:
            return wrong_secret
        if not self.ip_allowed:
            return 40164
        return None

    def _token(self, method: str, query: dict[str, str]) -> dict[str, Any]:
        problem = self._credentials(query.get("grant_type"), query.get("appid"), query.get("secret"), 40001)
        if problem:
            return _error(problem)
        return {"access_token": self._issue(), "expires_in": self.token_lifetime}

    def _stable_token(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            return _error(47001)
        problem = self._credentials(body.get("grant_type"), body.get("appid"), body.get("secret"), 40125)
        if problem:
            return _error(problem)
        now = time.monotonic()
        current = self.stable
        if body.get("force_refresh") is True or current is None or self.tokens.get(current, 0.0) <= now:
            if current is not None:
                self.tokens.pop(current, None)  # force_refresh: the previous token stops working
            self.stable = current = self._issue()
        return {"access_token": current, "expires_in": max(1, int(self.tokens[current] - now))}

    def _check_token(self, token: str | None) -> int | None:
        if not token:
            return 41001
        if token not in self.tokens:
            return 40001
        if self.tokens[token] <= time.monotonic():
            return 42001
        return None

    # ------------------------------------------------------------------ comments
    def _comment(self, msg_data_id: Any, index: Any, user_comment_id: Any) -> Comment:
        article = self.articles[(msg_data_id, index)]
        return next(c for c in article.comments if c.user_comment_id == user_comment_id)

    def _target(self, body: dict[str, Any], need_comment: bool = True
                ) -> tuple[Article | None, Comment | None, dict[str, Any] | None]:
        m, i, cid = body.get("msg_data_id"), body.get("index", 0), body.get("user_comment_id")
        if not isinstance(m, int) or not isinstance(i, int) or (need_comment and not isinstance(cid, int)):
            return None, None, _error(47001)
        if not self.comment_privilege:
            return None, None, _error(88000)
        article = self.articles.get((m, i))
        if article is None:
            return None, None, _error(88001)
        if not need_comment:
            return article, None, None
        comment = next((c for c in article.comments if c.user_comment_id == cid), None)
        if comment is None:
            return article, None, _error(88004 if cid in article.deleted_by_user else 88008)
        return article, comment, None

    def _list(self, body: dict[str, Any]) -> dict[str, Any]:
        for key in ("begin", "count", "type"):
            if not isinstance(body.get(key), int):
                return _error(47001)
        article, _, error = self._target(body, need_comment=False)
        if error:
            return error
        assert article is not None
        begin, count, kind = body["begin"], body["count"], body["type"]
        if count >= 50 or count < 1 or begin < 0:
            return _error(88010)
        comments = [c for c in article.comments if kind == 0 or (kind == 1 and c.comment_type == 0)
                    or (kind == 2 and c.comment_type == 1)]
        if self.newest_first:
            comments = comments[::-1]
        page = [c.as_json() for c in comments[begin:begin + count]]
        total = len(page) if self.total_is_page_size else len(comments)
        return {**OK, "comment": page, "total": total}

    def _elect(self, body: dict[str, Any], comment_type: int) -> dict[str, Any]:
        article, comment, error = self._target(body)
        if error:
            return error
        assert article is not None and comment is not None
        if comment_type == 1 and comment.comment_type == 0 \
                and sum(c.comment_type for c in article.comments) >= self.elect_limit:
            return _error(88003)
        comment.comment_type = comment_type
        return dict(OK)

    def _delete(self, body: dict[str, Any]) -> dict[str, Any]:
        article, comment, error = self._target(body)
        if error:
            return error
        assert article is not None and comment is not None
        article.comments.remove(comment)
        return dict(OK)

    def _reply_add(self, body: dict[str, Any]) -> dict[str, Any]:
        content = body.get("content")
        if not isinstance(content, str):
            return _error(47001)
        article, comment, error = self._target(body)
        if error:
            return error
        assert comment is not None
        if not content or len(content) > self.reply_max:
            return _error(88007)
        if comment.reply is not None:
            return _error(88005)
        comment.reply = {"content": content, "create_time": self.clock()}
        return dict(OK)

    def _reply_delete(self, body: dict[str, Any]) -> dict[str, Any]:
        article, comment, error = self._target(body)
        if error:
            return error
        assert comment is not None
        comment.reply = None  # undocumented: deleting a reply that is not there also answers ok
        return dict(OK)

    # ------------------------------------------------------------------ datacube
    def _datacube(self, body: dict[str, Any]) -> dict[str, Any]:
        if not self.datacube_authorized:
            return _error(48001)
        try:
            begin = date.fromisoformat(str(body.get("begin_date")))
            end = date.fromisoformat(str(body.get("end_date")))
        except ValueError:
            return _error(61500)
        if begin > end or end > self.today - timedelta(days=1):
            return _error(61501)
        rows = [{"ref_date": ref, "msgid": msgid, "publish_type": kind,
                 "detail_list": [{"stat_date": ref, "read_user": 3, "share_user": 0, "comment_count": 0}]}
                for ref, msgid, kind in self.published if begin.isoformat() <= ref <= end.isoformat()]
        return {"list": rows, "is_delay": False}


def _error(code: int) -> dict[str, Any]:
    return {"errcode": code, "errmsg": ERRMSG.get(code, "error") + f" rid: {secrets.token_hex(4)}"}
