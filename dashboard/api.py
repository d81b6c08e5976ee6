"""The read-only HTTP API under /api/v1/, for other departments' systems (the shared data standard).

Clients are created, scoped and revoked by an admin (`python -m dashboard.apitokens`) and send
`Authorization: Bearer TOKEN`. Without a valid token: 401; without the scope: 403; over the rate
limit: 429 with Retry-After. Personal data (post texts' phone/ID/card numbers, author names and ids,
thread names, links) is masked unless the client has `pii:read`, and every request that reads it in
clear is written to the audit log. The OpenAPI document is /api/v1/openapi.json; the item shapes
are the JSON Schemas in schemas/ (the data standard, versioned with the project).
"""
from __future__ import annotations

import hashlib
import math
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, Callable

from flask import Blueprint, Response, jsonify, request

from core.domain import Alert, Analysis, AuditEvent, Case, Decision, Post, utcnow
from core.ratelimit import KeyedLimits
from dashboard.apitokens import SCOPES, token_hash
from dashboard.context import services
from dashboard.present import author_display, decode_cursor, encode_cursor, private, safe_keywords, visible_text
from store.base import ApiToken

bp = Blueprint("api", __name__, url_prefix="/api/v1")
API_VERSION = "1.0.0"
MAX_LIMIT = 500
DEFAULT_LIMIT = 100
RATE_PER_MINUTE = 120  # requests per client and minute (per service process)
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass
class Client:
    token: ApiToken
    hash: str

    def may(self, scope: str) -> bool:
        return scope in self.token.scopes


def api_client_limits(per_minute: int = RATE_PER_MINUTE) -> KeyedLimits:
    """The requests each API client may make: a sliding minute, per service process."""
    return KeyedLimits(((per_minute, 60.0),), time.monotonic)


def error(status: int, message: str, **headers: str) -> Response:
    resp = jsonify({"error": message})
    resp.status_code = status
    for k, v in headers.items():
        resp.headers[k.replace("_", "-")] = v
    return resp


def _client(scope: str) -> Client | Response:
    auth = request.headers.get("Authorization", "")
    kind, _, token = auth.partition(" ")
    if kind.lower() != "bearer" or not token.strip():
        return error(401, "需要 API 令牌：请求头 Authorization: Bearer <令牌>（由管理员用 python -m dashboard.apitokens add 创建）",
                     WWW_Authenticate='Bearer realm="api"')
    h = token_hash(token.strip())
    found = services().store.api_token(h)
    if found is None or not found.active:
        return error(401, "API 令牌无效或已吊销，请向管理员申请新的令牌", WWW_Authenticate='Bearer realm="api", error="invalid_token"')
    limits = services().api_limits
    wait = limits.admit(found.name) if limits is not None else 0.0
    if wait > 0:
        seconds = max(1, math.ceil(wait))
        return error(429, f"请求过于频繁（每分钟最多 {limits.limits[0][0]} 次），请 {seconds} 秒后重试",  # type: ignore[union-attr]
                     Retry_After=str(seconds))
    if scope not in found.scopes:
        return error(403, f"此令牌没有“{scope}”权限（{SCOPES[scope]}），请向管理员申请")
    services().store.touch_api_token(h, utcnow())
    return Client(found, h)


def _audit_clear(client: Client, what: str, n: int) -> None:
    services().store.audit(AuditEvent(f"api:{client.token.name}", "api.pii_read", what, {"items": n}))


# ---------------------------------------------------------------------------- cursors and times
def parse_since(raw: str | None) -> datetime | None:
    """An ISO 8601 time with a zone (a date alone is midnight UTC); None if unreadable."""
    if not raw:
        return EPOCH
    try:
        at = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def _limit() -> int | None:
    raw = request.args.get("limit")
    if raw is None:
        return DEFAULT_LIMIT
    try:
        n = int(raw)
    except ValueError:
        return None
    return n if 1 <= n <= MAX_LIMIT else None


def _iso(at: datetime | None) -> str | None:
    return at.astimezone(timezone.utc).isoformat() if at else None


# ---------------------------------------------------------------------------- items
def pseudonym(author: str) -> str:
    """A stable stand-in for an author id: the same author gives the same value, which says nothing."""
    return "u_" + hashlib.sha256(("author:" + author).encode("utf-8")).hexdigest()[:16]


def post_item(post: Post, a: Analysis | None, clear: bool) -> dict[str, Any]:
    item: dict[str, Any] = {
        "id": post.id, "channel": post.channel, "source_id": post.source_id if clear else None,
        "thread": private(post.thread, clear) or None,
        "author": post.author if clear else pseudonym(post.author),
        "author_name": author_display(post, clear),
        "text": visible_text(post, a, clear), "created_at": _iso(post.created_at),
        "url": (post.url or None) if clear else None, "reply_to": post.reply_to if clear else None,
        "version": post.version, "analysis": None,
    }
    if a is not None:
        item["analysis"] = {
            "sentiment": a.sentiment.value, "polarity": a.polarity, "spam": a.spam, "rumour": a.rumour,
            "grievance": a.grievance, "abuse": a.abuse, "topic": a.topic,
            "keywords": safe_keywords(a, post.text, clear),
            "pii": sorted({s.kind for s in a.pii}), "model_version": a.model_version, "post_version": a.post_version,
        }
    return item


def case_item(c: Case, clear: bool) -> dict[str, Any]:
    return {"id": c.id, "kind": getattr(c.kind, "value", c.kind), "title": private(c.title, clear),
            "state": c.state.value,
            "status": c.status, "posts": len(c.post_ids), "created_at": _iso(c.created_at),
            "updated_at": _iso(c.updated_at), "clarified_at": _iso(c.clarified_at)}


def alert_item(a: Alert, clear: bool) -> dict[str, Any]:
    return {"id": a.id, "rule": a.rule, "level": a.level.value, "kind": a.kind, "title": private(a.title, clear),
            "body": private(a.body, clear), "topics": list(a.topics), "channels": list(a.channels),
            "post_ids": list(a.post_ids), "case_id": a.case_id, "created_at": _iso(a.created_at),
            "raised_at": _iso(a.raised_at), "acknowledged_by": a.acknowledged_by,
            "acknowledged_at": _iso(a.acknowledged_at), "claimed_by": a.claimed_by, "claimed_at": _iso(a.claimed_at)}


def decision_item(d: Decision, clear: bool) -> dict[str, Any]:
    return {"id": d.id, "post_id": d.post_id, "moderator": d.moderator, "action": d.action.value,
            "reason_code": d.reason_code.value, "note": private(d.note, clear), "created_at": _iso(d.created_at)}


# ---------------------------------------------------------------------------- endpoints
@bp.get("/posts")
def posts() -> Any:
    return _feed("posts:read", "/api/v1/posts", services().store.posts_page,
                 lambda row, clear: post_item(row[0], row[1], clear), key=lambda row: row[0])


@bp.get("/cases")
def cases() -> Any:
    client = _client("cases:read")
    if isinstance(client, Response):
        return client
    limit = _limit()
    if limit is None:
        return error(400, f"limit 应为 1–{MAX_LIMIT} 的整数")
    status = request.args.get("status", "open")
    if status not in ("open", "closed", "all"):
        return error(400, "status 应为 open、closed 或 all")
    found = services().store.cases(status=None if status == "all" else status, limit=limit)
    clear = client.may("pii:read")
    if clear and found:
        _audit_clear(client, "/api/v1/cases", len(found))
    return jsonify({"items": [case_item(c, clear) for c in found]})


def _feed(scope: str, path: str, page: Callable[..., list[Any]], item: Callable[[Any, bool], dict[str, Any]],
          key: Callable[[Any], Any] = lambda row: row) -> Any:
    """A time-ordered feed (posts, alerts, decisions), oldest first: `since`, `limit`, and `cursor`
    (the `next` of the previous page: the created_at and id of its last row, via `key`)."""
    client = _client(scope)
    if isinstance(client, Response):
        return client
    since, limit = parse_since(request.args.get("since")), _limit()
    if since is None:
        return error(400, "since 应为 ISO 8601 时间，如 2026-03-01T00:00:00+08:00")
    if limit is None:
        return error(400, f"limit 应为 1–{MAX_LIMIT} 的整数")
    after = None
    if request.args.get("cursor"):
        after = decode_cursor(request.args["cursor"])
        if after is None:
            return error(400, "cursor 无效：请使用上一页返回的 next 原样传回")
    rows = page(since, after, limit + 1)
    more = len(rows) > limit
    rows = rows[:limit]
    clear = client.may("pii:read")
    if clear and rows:
        _audit_clear(client, path, len(rows))
    last = key(rows[-1]) if more else None
    return jsonify({"items": [item(r, clear) for r in rows],
                    "next": encode_cursor(last.created_at, last.id) if last and last.id else None})


@bp.get("/alerts")
def alerts() -> Any:
    return _feed("alerts:read", "/api/v1/alerts", services().store.alerts_page, alert_item)


@bp.get("/decisions")
def decisions() -> Any:
    return _feed("decisions:read", "/api/v1/decisions", services().store.decisions_page, decision_item)


@bp.get("/openapi.json")
def openapi() -> Any:
    from dashboard.openapi import document

    return jsonify(document(API_VERSION, MAX_LIMIT, DEFAULT_LIMIT))
