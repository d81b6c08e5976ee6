"""A local e-proposal system (电子提案) JSON API for the `http_json` channel tests.

It reproduces the API documented in docs/channels/http_json.md ("Worked example"), which is shaped the
way Chinese campus systems built on Spring/MyBatis PageHelper usually answer, and two variants the
channel must read as well:

- `GET /api/proposals?page=1&page_size=50&updated_after=2026-03-01 09:30:00` with
  `Authorization: Bearer <token>` answers `{"code": 0, "msg": "ok", "data": {"total": 123, "list": [...]}}`;
  each item is `{"id": "TA2026-015", "title", "content" (rich text, HTML), "proposer": {"no", "name"},
  "dept", "category", "submitted_at": "2026-03-01 09:30:00" (Beijing time, no offset), "updated_at",
  "status": "立案"}`, newest first (`order="asc"` for oldest first). Pages start at 1; `page_size` is at
  most 100 (`{"code": 10001, "msg": "参数错误…"}` otherwise, with HTTP 200); `updated_after` returns
  the items updated at or after that time (`strict=True`: after it). A page past the end has an empty
  `list`. `page_size_cap=N` serves at most N per page whatever was asked (as some deployments do,
  silently), pages numbered by that size; `total` stays right.
- Errors as that documentation lists them: a missing or wrong token is HTTP 401 with
  `{"code": 401, "msg": "未登录或令牌已过期"}` (revoke the token with `token = "new"` mid-run to expire
  it); `{"code": 42900, "msg": "请求过于频繁"}` with HTTP 200 is the platform's rate limit; HTTP 500
  and HTTP 429 with `Retry-After` (RFC 6585 §4) are scripted per request with `fail`.
- Cursor variant, `GET /api/v2/proposals?cursor=…&limit=20`: `{"code": 0, "data": {"items": [...],
  "next_cursor": "…", "has_more": false}}`, oldest first; the last page still carries a `next_cursor`
  to resume from later (a change stream), or `null` with `cursor_end_null=True`. An unknown cursor is
  `{"code": 40010, "msg": "cursor 已失效"}`.
- Offset variant (a suggestion board), `GET /api/suggestions?offset=0&limit=50`: a bare
  `{"total": N, "items": [{"sid": 17, "body", "uid": 3021, "nick", "created": 1772328600 (unix
  seconds)}]}` with no code field and no auth, oldest first.

Items that are malformed on purpose (no content, an unreadable time, a bare string) can be added raw
with `add_raw`.
"""
from __future__ import annotations

import base64
import json
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit
from zoneinfo import ZoneInfo

from tests.fakes.server import LocalPlatform

BEIJING = ZoneInfo("Asia/Shanghai")
FMT = "%Y-%m-%d %H:%M:%S"
MAX_PAGE_SIZE = 100


class ProposalApi(LocalPlatform):
    def __init__(self, token: str = "s3cr3t-token-2026", order: str = "desc", strict: bool = False,
                 cursor_end_null: bool = False, page_size_cap: int | None = None) -> None:
        self.token = token
        self.page_size_cap = page_size_cap
        self.order = order
        self.strict = strict
        self.cursor_end_null = cursor_end_null
        self.items: list[dict[str, Any]] = []  # proposals, in submission order
        self.suggestions: list[dict[str, Any]] = []
        # Beijing time, a few weeks back (the ingestion boundary refuses posts from the future)
        self.clock = datetime.now(BEIJING).replace(second=0, microsecond=0) - timedelta(days=20)
        self.fail: list[tuple[int, dict[str, str], Any]] = []  # (status, headers, body) answered first
        self.requests: list[tuple[str, str, dict[str, list[str]], dict[str, str], Any]] = []
        self.lock = threading.Lock()

    @property
    def base(self) -> str:
        return self.url

    # ---------------------------------------------------------------- data
    def add(self, n: int = 1, **over: Any) -> list[dict[str, Any]]:
        out = []
        with self.lock:
            for _ in range(n):
                self.clock += timedelta(minutes=7)
                seq = len(self.items) + 1
                item = {
                    "id": f"TA2026-{seq:03d}",
                    "title": f"关于改善第{seq}食堂伙食的提案",
                    "content": f"<p>建议学校<b>第{seq}食堂</b>增加窗口&nbsp;并公开价格。</p>",
                    "proposer": {"no": f"T{1000 + seq}", "name": f"教师{seq}"},
                    "dept": "机械工程学院",
                    "category": "后勤保障",
                    "submitted_at": self.clock.strftime(FMT),
                    "updated_at": self.clock.strftime(FMT),
                    "status": "待审查",
                    "_seq": seq,
                }
                item.update(over)
                self.items.append(item)
                out.append(item)
        return out

    def add_raw(self, item: Any) -> None:
        """A malformed item, kept as it is (it sorts with the time it was added)."""
        with self.lock:
            self.clock += timedelta(minutes=7)
            self.items.append({"_raw": item, "_seq": len(self.items) + 1, "updated_at": self.clock.strftime(FMT)})

    def edit(self, proposal_id: str, **changes: Any) -> None:
        with self.lock:
            self.clock += timedelta(minutes=7)
            item = next(i for i in self.items if i.get("id") == proposal_id)
            item.update(changes, updated_at=self.clock.strftime(FMT))

    def add_suggestions(self, n: int) -> None:
        with self.lock:
            for _ in range(n):
                self.clock += timedelta(minutes=3)
                sid = len(self.suggestions) + 17
                self.suggestions.append({"sid": sid, "body": f"第{sid}条建议：图书馆延长开放时间", "uid": 3000 + sid,
                                         "nick": f"匿名{sid}", "created": int(self.clock.timestamp())})

    # ---------------------------------------------------------------- endpoints
    def proposals(self, q: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"code": 401, "msg": "未登录或令牌已过期"}
        try:
            page = int(q.get("page", ["1"])[0])
            size = int(q.get("page_size", ["20"])[0])
        except ValueError:
            return 200, {}, {"code": 10001, "msg": "参数错误：page/page_size 应为整数"}
        if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
            return 200, {}, {"code": 10001, "msg": f"参数错误：page_size 应在 1-{MAX_PAGE_SIZE} 之间"}
        size = min(size, self.page_size_cap or size)
        with self.lock:
            rows = list(self.items)
        if "updated_after" in q:
            try:
                after = datetime.strptime(q["updated_after"][0], FMT)
            except ValueError:
                return 200, {}, {"code": 10001, "msg": "参数错误：updated_after 格式应为 yyyy-MM-dd HH:mm:ss"}
            rows = [r for r in rows if (datetime.strptime(r["updated_at"], FMT) > after if self.strict
                                        else datetime.strptime(r["updated_at"], FMT) >= after)]
        rows.sort(key=lambda r: (r["updated_at"], r["_seq"]), reverse=self.order == "desc")
        chunk = rows[(page - 1) * size: page * size]
        shown = [r["_raw"] if "_raw" in r else {k: v for k, v in r.items() if k != "_seq"} for r in chunk]
        return 200, {}, {"code": 0, "msg": "ok", "data": {"total": len(rows), "list": shown}}

    def proposals_v2(self, q: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        if headers.get("authorization") != f"Bearer {self.token}":
            return 401, {}, {"code": 401, "msg": "未登录或令牌已过期"}
        limit = min(int(q.get("limit", ["20"])[0]), MAX_PAGE_SIZE)
        after = 0
        if q.get("cursor", [""])[0]:
            try:
                after = int(base64.urlsafe_b64decode(q["cursor"][0].encode()).decode().removeprefix("seq:"))
            except ValueError:
                return 200, {}, {"code": 40010, "msg": "cursor 已失效"}
        with self.lock:
            rows = [r for r in self.items if r["_seq"] > after]
        chunk = rows[:limit]
        more = len(rows) > limit
        last = chunk[-1]["_seq"] if chunk else after
        cursor = base64.urlsafe_b64encode(f"seq:{last}".encode()).decode()
        if not more and self.cursor_end_null:
            cursor = None
        shown = [r["_raw"] if "_raw" in r else {k: v for k, v in r.items() if k != "_seq"} for r in chunk]
        return 200, {}, {"code": 0, "data": {"items": shown, "next_cursor": cursor, "has_more": more}}

    def suggestion_list(self, q: dict[str, list[str]], headers: dict[str, str]) -> tuple[int, dict[str, str], Any]:
        offset, limit = int(q.get("offset", ["0"])[0]), min(int(q.get("limit", ["20"])[0]), MAX_PAGE_SIZE)
        with self.lock:
            rows = list(self.suggestions)
        return 200, {}, {"total": len(rows), "items": rows[offset:offset + limit]}

    def answer(self, method: str, path: str, headers: dict[str, str], body: Any) -> tuple[int, dict[str, str], Any]:
        parts = urlsplit(path)
        q = parse_qs(parts.query, keep_blank_values=True)
        self.requests.append((method, parts.path, q, headers, body))
        if self.fail:
            return self.fail.pop(0)
        if parts.path == "/api/proposals":
            return self.proposals(q if method == "GET" else {k: [str(v)] for k, v in (body or {}).items()}, headers)
        if parts.path == "/api/v2/proposals":
            return self.proposals_v2(q, headers)
        if parts.path == "/api/suggestions":
            return self.suggestion_list(q, headers)
        return 404, {}, {"code": 404, "msg": "not found"}

    def _serve(self, h: BaseHTTPRequestHandler, method: str) -> None:
        length = int(h.headers.get("Content-Length") or 0)
        body = json.loads(h.rfile.read(length) or b"null") if length else None
        status, headers, payload = self.answer(method, h.path, {k.lower(): v for k, v in h.headers.items()}, body)
        data = payload if isinstance(payload, bytes) else json.dumps(payload, ensure_ascii=False).encode("utf-8")
        h.send_response(status)
        h.send_header("Content-Type", "application/json; charset=utf-8")
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)
