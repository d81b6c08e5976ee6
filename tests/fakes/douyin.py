"""A local fake of the Douyin open platform (抖音开放平台, 移动/网站应用 OpenAPI), for tests.

A real HTTP server (`ThreadingHTTPServer` on 127.0.0.1, port 0) that answers what the documentation
says the platform answers, with an account whose videos, comments and replies a test sets up and
changes while the collector runs. What each part reproduces (pages of developer.open-douyin.com, under
docs/resource/zh-CN/dop/develop/openapi/):

- Envelope (every OpenAPI page's 响应样例, e.g. …/enterprise-open-ability/comment-management-enterprise/
  comment-list): HTTP 200 with `{"data": {…, "error_code": 0, "description": ""}, "extra": {"logid",
  "now", "error_code", "description", "sub_error_code", "sub_description"}}`; an error is the same
  shape with a non-zero `error_code` in both `data` and `extra` (响应错误样例: 2100005 "Parameter error").
- Error codes (…/status-code/, 通用状态码 新/旧; …/account-permission/refresh-access-token and
  …/refresh-token 错误码): 2190008 access_token过期 (`expire_access()`), 2190002 access_token无效 (a
  token never issued), 2190015 access_token 与 open_id 不匹配, 2100005 参数不合法 (a documented
  required parameter missing, `count` out of range), 2100004 系统繁忙, 28003018 请求频率过高,
  2190004 应用未获得该能力 / 28001012 用户未授权该OpenAPI (`fail(...)` scripts any code), 2111003 无效的评论
  (a reply to an unknown comment); OAuth: 10005 缺少参数, 10003 client_key 错误, 10010 refresh_token
  过期, 10004 权限不足 (no renew_refresh_token permission), 10020 超过刷新次数限制.
- Tokens (…/account-permission/refresh-access-token): `POST /oauth/refresh_token/`, form-encoded
  `client_key`, `grant_type=refresh_token`, `refresh_token`; answers `{"data": {"access_token",
  "expires_in", "open_id", "refresh_expires_in", "refresh_token", "scope", "error_code": 0,
  "description": ""}, "message": "success"}` with a new access token; the refresh token keeps its
  expiry ("refresh_token 的有效期保持不变"). `POST /oauth/renew_refresh_token/` (…/refresh-token),
  form-encoded `client_key`, `refresh_token`: a new refresh token valid 30 days, the old one invalid,
  at most 5 renewals. API calls carry the token in the `access-token` header (current pages; the
  older `access_token` query parameter is also accepted, as the older generation documented it).
- `GET /api/douyin/v1/video/video_list/` (…/video-management/douyin/search-video/account-video-list,
  scope video.list.bind): `open_id`, `cursor`, `count` (required); `data.list[]` with `item_id`,
  `title`, `create_time`, `cover`, `share_url`, `is_top`, `is_reviewed`, `video_status`, `media_type`,
  `statistics` {`comment_count`, `digg_count`, `download_count`, `forward_count`, `play_count`,
  `share_count`}; pinned videos first, then newest first; `data.cursor`, `data.has_more`.
- `GET /item/comment/list/` (…/interaction-management/comment-management-user/comment-list, scope
  item.comment): `open_id`, `item_id`, `count` (1–50) required, `cursor` (0 on the first page, then the
  answer's `cursor`), `sort_type` (`time`: newest first, `time_asc`, absent: 推荐序, here by likes);
  `data.list[]` with `comment_id`, `comment_user_id`, `content`, `create_time` (unix seconds),
  `digg_count`, `reply_comment_total`, `top`; `data.cursor`, `data.has_more`.
- `GET /item/comment/reply/list/` (…/comment-management-user/comment-reply-list): as above plus
  `comment_id`; `count` 1–20; `device_brand`, `device_platform`, `device_type`, `ip`, `os_version`,
  `shark_channel` documented as required.
- `POST /item/comment/reply/?open_id=…` (…/comment-management-user/comment-reply, "只能回复授权用户自己
  发布的视频"): JSON `{"item_id", "comment_id", "content"}`; answers `data.comment_id` of the new reply,
  which then appears in the reply list like any reply.
- Paging edge cases: the cursor is the offset of the next item (the pages show a number); the last
  page says `has_more: false`; a comment arriving while a collector pages newest-first shifts the
  later pages (so a page may repeat items); `page_size` of the video list is configurable.
- Transient failures: `fail(path, status=500)` answers HTTP 500 once (or `times` times).
"""
from __future__ import annotations

import base64
import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.fakes.server import LocalPlatform

VIDEO_LIST = "/api/douyin/v1/video/video_list/"
COMMENT_LIST = "/item/comment/list/"
REPLY_LIST = "/item/comment/reply/list/"
COMMENT_REPLY = "/item/comment/reply/"
REFRESH = "/oauth/refresh_token/"
RENEW = "/oauth/renew_refresh_token/"
DEVICE_PARAMS = ("device_brand", "device_platform", "device_type", "ip", "os_version", "shark_channel")


def douyin_id(kind: str, n: int) -> str:
    """An id shaped like Douyin's encrypted ids (@ + base64 with + / =), so URL encoding matters."""
    return "@" + base64.b64encode(f"{kind}+/{n:06d}?&=".encode() + bytes([250, 251, n % 256])).decode()


@dataclass
class Comment:
    comment_id: str
    item_id: str
    user: str
    content: str
    create_time: int
    digg_count: int = 0
    top: bool = False
    parent: str | None = None  # the top-level comment a reply belongs to
    served: dict[str, Any] = field(default_factory=dict)  # fields served as they are (a malformed record)


@dataclass
class Video:
    item_id: str
    title: str
    create_time: int
    share_url: str
    is_top: bool = False
    comments: list[Comment] = field(default_factory=list)  # top level, in arrival order
    replies: dict[str, list[Comment]] = field(default_factory=dict)
    fixed_count: int | None = None  # statistics.comment_count frozen at this value (a stale platform)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: Any


class FakeDouyin(LocalPlatform):
    """The platform's state; `url` is where the server listens."""

    def __init__(self, client_key: str = "tt_union_key", open_id: str = "union-open-id-0001") -> None:
        self.client_key = client_key
        self.open_id = open_id
        self.lock = threading.RLock()
        self.videos: list[Video] = []
        self.access: dict[str, bool] = {}  # token -> expired
        self.refresh: dict[str, float] = {}  # refresh token -> expires at (unix seconds)
        self.renewals = 0
        self.renew_permission = True
        self.refresh_expires_in = 30 * 86400
        self.access_expires_in = 15 * 86400
        self.video_page_size = 20
        self.count_mode = "all"  # statistics.comment_count: all (comments + replies), top, none (omitted)
        self.requests: list[Request] = []
        self.script: list[tuple[str, dict[str, Any]]] = []  # (path, failure) answered before the real one
        self.expire_after: int | None = None  # the access token expires after this many more API calls
        self._n = 0
        self.access_token = self.issue_access()
        self.refresh_token = self.issue_refresh()

    # ------------------------------------------------------------------ setup used by tests
    def next_id(self, kind: str) -> str:
        with self.lock:
            self._n += 1
            return douyin_id(kind, self._n)

    def issue_access(self) -> str:
        token = f"act.{self.next_id('a')[1:20].replace('/', 'x').replace('+', 'y')}{self._n:04d}"
        self.access[token] = False
        return token

    def issue_refresh(self, expires_in: float | None = None) -> str:
        token = f"rft.{self.next_id('r')[1:20].replace('/', 'x').replace('+', 'y')}{self._n:04d}"
        self.refresh[token] = time.time() + (self.refresh_expires_in if expires_in is None else expires_in)
        return token

    def add_video(self, title: str, *, age_days: float = 10, is_top: bool = False) -> str:
        with self.lock:
            item_id = self.next_id("v")
            self.videos.append(Video(item_id, title, int(time.time() - age_days * 86400),
                                     f"https://www.iesdouyin.com/share/video/{7000000000000000000 + self._n}/",
                                     is_top=is_top))
            return item_id

    def video(self, item_id: str) -> Video:
        return next(v for v in self.videos if v.item_id == item_id)

    def add_comment(self, item_id: str, content: str, *, user: str | None = None, ago: float = 60,
                    digg: int = 0) -> str:
        with self.lock:
            video = self.video(item_id)
            c = Comment(self.next_id("c"), item_id, user or f"user-{self._n % 7}", content, int(time.time() - ago), digg)
            video.comments.append(c)
            return c.comment_id

    def add_reply(self, item_id: str, comment_id: str, content: str, *, user: str | None = None,
                  ago: float = 30) -> str:
        with self.lock:
            video = self.video(item_id)
            r = Comment(self.next_id("r"), item_id, user or f"user-{self._n % 5}", content, int(time.time() - ago),
                        parent=comment_id)
            video.replies.setdefault(comment_id, []).append(r)
            return r.comment_id

    def all_ids(self) -> set[str]:
        with self.lock:
            ids = {c.comment_id for v in self.videos for c in v.comments}
            ids |= {r.comment_id for v in self.videos for rs in v.replies.values() for r in rs}
            return ids

    def expire_access(self) -> None:
        """Every access token issued so far expires (error 2190008 from now on)."""
        with self.lock:
            for token in self.access:
                self.access[token] = True

    def fail(self, path: str, *, status: int = 200, error_code: int = 0, description: str = "", times: int = 1,
             headers: dict[str, str] | None = None) -> None:
        """The next `times` calls to `path` fail: HTTP `status`, or HTTP 200 with `error_code`."""
        for _ in range(times):
            self.script.append((path, {"status": status, "error_code": error_code, "description": description,
                                       "headers": headers or {}}))

    def calls(self, path: str) -> list[Request]:
        return [r for r in self.requests if r.path == path]

    # ------------------------------------------------------------------ answers
    @staticmethod
    def ok(data: dict[str, Any]) -> dict[str, Any]:
        return {"data": {**data, "error_code": 0, "description": ""},
                "extra": {"logid": "2026060112000001", "now": int(time.time() * 1000), "error_code": 0,
                          "description": "", "sub_error_code": 0, "sub_description": ""}}

    @staticmethod
    def error(code: int, description: str) -> dict[str, Any]:
        return {"data": {"error_code": code, "description": description},
                "extra": {"logid": "2026060112000002", "now": int(time.time() * 1000), "error_code": code,
                          "description": description, "sub_error_code": 0, "sub_description": ""}}

    @staticmethod
    def oauth_error(code: int, description: str) -> dict[str, Any]:
        return {"data": {"error_code": code, "description": description}, "message": "error"}

    def handle(self, method: str, path: str, query: dict[str, str], headers: dict[str, str], body: Any
               ) -> tuple[int, dict[str, str], Any]:
        with self.lock:
            self.requests.append(Request(method, path, query, headers, body))
            for i, (p, failure) in enumerate(self.script):
                if p == path:
                    del self.script[i]
                    if failure["status"] != 200:
                        return failure["status"], failure["headers"], {"message": "internal error"}
                    return 200, {}, self.error(failure["error_code"], failure["description"])
            if path == REFRESH and method == "POST":
                return 200, {}, self._refresh(body)
            if path == RENEW and method == "POST":
                return 200, {}, self._renew(body)
            routes = {(VIDEO_LIST, "GET"): self._video_list, (COMMENT_LIST, "GET"): self._comment_list,
                      (REPLY_LIST, "GET"): self._reply_list, (COMMENT_REPLY, "POST"): self._reply}
            route = routes.get((path, method))
            if route is None:
                return 404, {}, {"message": "not found"}
            denied = self._authorize(query, headers)
            if denied:
                return 200, {}, denied
            return 200, {}, route(query, body)

    def _authorize(self, query: dict[str, str], headers: dict[str, str]) -> dict[str, Any] | None:
        token = headers.get("access-token") or query.get("access_token")
        if not token or token not in self.access:
            return self.error(2190002, "access_token无效")
        if self.expire_after is not None:
            if self.expire_after <= 0:
                self.expire_access()
                self.expire_after = None
            else:
                self.expire_after -= 1
        if self.access[token]:
            return self.error(2190008, "access_token过期,请刷新或重新授权")
        if not query.get("open_id"):
            return self.error(2100005, "参数不合法")
        if query["open_id"] != self.open_id:
            return self.error(2190015, "请求参数access_token openid不匹配")
        return None

    def _refresh(self, form: Any) -> dict[str, Any]:
        form = form if isinstance(form, dict) else {}
        if not form.get("client_key") or not form.get("refresh_token") or form.get("grant_type") != "refresh_token":
            return self.oauth_error(10005, "缺少参数")
        if form["client_key"] != self.client_key:
            return self.oauth_error(10003, "client_key 错误")
        until = self.refresh.get(form["refresh_token"])
        if until is None or until < time.time():
            return self.oauth_error(10010, "refresh_token 过期")
        token = self.issue_access()
        self.access_token = token
        return {"data": {"access_token": token, "description": "", "error_code": 0,
                         "expires_in": str(self.access_expires_in), "open_id": self.open_id,
                         "refresh_expires_in": str(int(until - time.time())),
                         "refresh_token": form["refresh_token"], "scope": "video.list.bind,item.comment"},
                "message": "success"}

    def _renew(self, form: Any) -> dict[str, Any]:
        form = form if isinstance(form, dict) else {}
        if not form.get("client_key") or not form.get("refresh_token"):
            return self.oauth_error(10005, "缺少参数")
        if not self.renew_permission:
            return self.oauth_error(10004, "权限不足")
        until = self.refresh.get(form["refresh_token"])
        if until is None or until < time.time():
            return self.oauth_error(10010, "refresh_token 过期")
        if self.renewals >= 5:
            return self.oauth_error(10020, "超过刷新次数限制")
        self.renewals += 1
        del self.refresh[form["refresh_token"]]
        token = self.issue_refresh(30 * 86400)
        self.refresh_token = token
        return {"data": {"description": "", "error_code": 0, "expires_in": str(30 * 86400), "refresh_token": token},
                "message": "success"}

    @staticmethod
    def _paging(query: dict[str, str], limit: int) -> tuple[int, int] | None:
        try:
            count = int(query["count"])
            cursor = int(query.get("cursor") or 0)
        except (KeyError, ValueError):
            return None
        if not 1 <= count <= limit or cursor < 0:
            return None
        return cursor, count

    def _count(self, video: Video) -> int:
        if video.fixed_count is not None:
            return video.fixed_count
        replies = sum(len(rs) for rs in video.replies.values())
        return len(video.comments) + (replies if self.count_mode == "all" else 0)

    def _video_list(self, query: dict[str, str], body: Any) -> dict[str, Any]:
        paging = self._paging(query, 50)
        if paging is None:
            return self.error(2100005, "参数不合法")
        cursor, count = paging
        count = min(count, self.video_page_size)  # a page may hold fewer items than asked for
        ordered = sorted(self.videos, key=lambda v: (not v.is_top, -v.create_time))
        page = ordered[cursor:cursor + count]
        items = []
        for v in page:
            stats = {"digg_count": 3, "download_count": 0, "forward_count": 0, "play_count": 120, "share_count": 1}
            if self.count_mode != "none":
                stats["comment_count"] = self._count(v)
            items.append({"item_id": v.item_id, "title": v.title, "create_time": v.create_time,
                          "cover": "https://p3-sign.douyinpic.com/cover.jpeg", "share_url": v.share_url,
                          "is_top": v.is_top, "is_reviewed": True, "video_status": 5, "media_type": 4,
                          "statistics": stats})
        nxt = cursor + len(page)
        return self.ok({"list": items, "cursor": nxt, "has_more": nxt < len(ordered)})

    def _ordered(self, comments: list[Comment], sort_type: str | None) -> list[Comment]:
        if sort_type == "time":
            return sorted(comments, key=lambda c: (-c.create_time, c.comment_id))
        if sort_type == "time_asc":
            return sorted(comments, key=lambda c: (c.create_time, c.comment_id))
        return sorted(comments, key=lambda c: (not c.top, -c.digg_count, c.comment_id))  # 推荐序

    def _item(self, c: Comment, video: Video) -> dict[str, Any]:
        item = {"comment_id": c.comment_id, "comment_user_id": c.user, "content": c.content,
                "create_time": c.create_time, "digg_count": c.digg_count, "top": c.top}
        if c.parent is None:
            item["reply_comment_total"] = len(video.replies.get(c.comment_id, []))
        return {**item, **c.served}

    def _comment_list(self, query: dict[str, str], body: Any) -> dict[str, Any]:
        paging = self._paging(query, 50)
        if paging is None or not query.get("item_id"):
            return self.error(2100005, "参数不合法")
        video = next((v for v in self.videos if v.item_id == query["item_id"]), None)
        if video is None:
            return self.error(2111007, "获取视频失败")
        cursor, count = paging
        ordered = self._ordered(video.comments, query.get("sort_type"))
        page = ordered[cursor:cursor + count]
        nxt = cursor + len(page)
        return self.ok({"list": [self._item(c, video) for c in page], "cursor": nxt, "has_more": nxt < len(ordered)})

    def _reply_list(self, query: dict[str, str], body: Any) -> dict[str, Any]:
        paging = self._paging(query, 20)
        if paging is None or not query.get("item_id") or not query.get("comment_id") or \
                any(not query.get(p) for p in DEVICE_PARAMS):
            return self.error(2100005, "参数不合法")
        video = next((v for v in self.videos if v.item_id == query["item_id"]), None)
        if video is None:
            return self.error(2111007, "获取视频失败")
        if not any(c.comment_id == query["comment_id"] for c in video.comments):
            return self.error(2111003, "无效的评论")
        cursor, count = paging
        ordered = self._ordered(video.replies.get(query["comment_id"], []), query.get("sort_type"))
        page = ordered[cursor:cursor + count]
        nxt = cursor + len(page)
        return self.ok({"list": [self._item(c, video) for c in page], "cursor": nxt, "has_more": nxt < len(ordered)})

    def _reply(self, query: dict[str, str], body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("item_id") or not body.get("content"):
            return self.error(2100005, "参数不合法")
        video = next((v for v in self.videos if v.item_id == body["item_id"]), None)
        if video is None:
            return self.error(2111007, "获取视频失败")
        target = body.get("comment_id")
        if target:
            top = {c.comment_id for c in video.comments}
            parent = target if target in top else next(
                (p for p, rs in video.replies.items() if any(r.comment_id == target for r in rs)), None)
            if parent is None:
                return self.error(2111003, "无效的评论")
            rid = self.add_reply(video.item_id, parent, body["content"], user=self.open_id, ago=0)
        else:
            rid = self.add_comment(video.item_id, body["content"], user=self.open_id, ago=0)
        return self.ok({"comment_id": rid})

    # ------------------------------------------------------------------ server
    def _serve(self, h: BaseHTTPRequestHandler, method: str) -> None:
        url = urlsplit(h.path)
        query = {k: v[-1] for k, v in parse_qs(url.query, keep_blank_values=True).items()}
        length = int(h.headers.get("Content-Length") or 0)
        data = h.rfile.read(length) if length else b""
        ctype = (h.headers.get("Content-Type") or "").lower()
        body: Any = None
        if data and "json" in ctype:
            try:
                body = json.loads(data)
            except ValueError:
                body = None
        elif data:
            body = {k: v[-1] for k, v in parse_qs(data.decode(), keep_blank_values=True).items()}
        headers = {k.lower(): v for k, v in h.headers.items()}
        status, extra, answer = self.handle(method, url.path, query, headers, body)
        out = json.dumps(answer, ensure_ascii=False).encode()
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        for k, v in extra.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(out)))
        h.end_headers()
        h.wfile.write(out)
