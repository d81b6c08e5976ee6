"""Read-only API clients and the feeds they read: posts, alerts, decisions (SQLite)."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime

from core.domain import Alert, Analysis, AuditEvent, Decision, Post
from store.base import ApiToken
from store.codec import parse_ts, ts


def _token(r: sqlite3.Row) -> ApiToken:
    return ApiToken(name=r["name"], scopes=json.loads(r["scopes"]), created_at=parse_ts(r["created_at"]),  # type: ignore[arg-type]
                    created_by=r["created_by"], revoked_at=parse_ts(r["revoked_at"]),
                    last_used_at=parse_ts(r["last_used_at"]), id=r["id"])


class ApiTokensMixin:
    def add_api_token(self, token: ApiToken, token_hash: str, audit: AuditEvent) -> ApiToken:
        with self._tx() as c:
            if c.execute("SELECT 1 FROM api_tokens WHERE name = ?", (token.name,)).fetchone():
                raise ValueError(f"已有名为“{token.name}”的 API 客户端")
            cur = c.execute(
                "INSERT INTO api_tokens (name, token_hash, scopes, created_at, created_by) VALUES (?,?,?,?,?)",
                (token.name, token_hash, json.dumps(sorted(token.scopes)), ts(token.created_at), token.created_by),
            )
            token.id = cur.lastrowid
            self._insert_audit(c, audit)
        return token

    def api_token(self, token_hash: str) -> ApiToken | None:
        r = self._one("SELECT * FROM api_tokens WHERE token_hash = ?", (token_hash,))
        return _token(r) if r else None

    def api_tokens(self) -> list[ApiToken]:
        return [_token(r) for r in self._rows("SELECT * FROM api_tokens ORDER BY name")]

    def revoke_api_token(self, name: str, audit: AuditEvent) -> bool:
        with self._tx() as c:
            cur = c.execute("UPDATE api_tokens SET revoked_at = ? WHERE name = ? AND revoked_at IS NULL",
                            (ts(audit.at), name))
            if cur.rowcount:
                self._insert_audit(c, audit)
            return bool(cur.rowcount)

    def touch_api_token(self, token_hash: str, at: datetime) -> None:
        with self._tx() as c:
            c.execute("UPDATE api_tokens SET last_used_at = ? WHERE token_hash = ?", (ts(at), token_hash))

    def posts_page(self, since: datetime, after: tuple[datetime, int] | None, limit: int
                   ) -> list[tuple[Post, Analysis | None]]:
        from store.sqlite.posts import ANALYSIS_SELECT, post_select, row_to_analysis, row_to_post

        where, params = ["p.created_at >= ?"], [ts(since)]
        if after is not None:
            where.append("(p.created_at > ? OR (p.created_at = ? AND p.id > ?))")
            params += [ts(after[0]), ts(after[0]), after[1]]
        rows = self._rows(
            f"SELECT {post_select()}, a.post_id AS a_post, {ANALYSIS_SELECT} FROM posts p"
            " LEFT JOIN analyses a ON a.post_id = p.id"
            f" WHERE {' AND '.join(where)} ORDER BY p.created_at, p.id LIMIT ?",
            (*params, limit),
        )
        return [(row_to_post(r), row_to_analysis(r) if r["a_post"] is not None else None) for r in rows]

    def alerts_page(self, since: datetime, after: tuple[datetime, int] | None, limit: int) -> list[Alert]:
        from store.sqlite.review import _alert

        rows = self._rows(*_feed("alerts", since, after, limit))
        return [_alert(r) for r in rows]

    def decisions_page(self, since: datetime, after: tuple[datetime, int] | None, limit: int) -> list[Decision]:
        from store.sqlite.review import _decision

        return [_decision(r) for r in self._rows(*_feed("decisions", since, after, limit))]


def _feed(table: str, since: datetime, after: tuple[datetime, int] | None, limit: int) -> tuple[str, list]:
    """Rows of `table` from `since`, oldest first, after the (created_at, id) cursor."""
    where, params = ["created_at >= ?"], [ts(since)]
    if after is not None:
        where.append("(created_at > ? OR (created_at = ? AND id > ?))")
        params += [ts(after[0]), ts(after[0]), after[1]]
    return f"SELECT * FROM {table} WHERE {' AND '.join(where)} ORDER BY created_at, id LIMIT ?", [*params, limit]
