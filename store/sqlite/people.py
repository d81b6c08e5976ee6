"""Users, the append-only audit log and the debunk registry (SQLite)."""
from __future__ import annotations

import json
import sqlite3
from typing import Sequence

from core.domain import AuditEvent, Debunk, Level, Role, User, utcnow
from store.base import SavedFilter
from store.codec import dumps, parse_ts, ts


def _user(r: sqlite3.Row) -> User:
    return User(username=r["username"], role=Role(r["role"]), password_hash=r["password_hash"],
                active=bool(r["active"]), id=r["id"], email=r["email"], wecom_userid=r["wecom_userid"],
                dingtalk_userid=r["dingtalk_userid"], feishu_userid=r["feishu_userid"],
                topics=json.loads(r["topics"] or "[]"), channels=json.loads(r["channels"] or "[]"),
                min_level=Level(r["min_level"] or "yellow"), reports=json.loads(r["reports"] or "[]"),
                review_channels=json.loads(r["review_channels"] or "[]"))


PROFILE_FIELDS = ("email", "wecom_userid", "dingtalk_userid", "feishu_userid", "topics", "channels", "min_level",
                  "reports", "review_channels")
_LIST_FIELDS = ("topics", "channels", "reports", "review_channels")


def _profile_value(name: str, value: object) -> object:
    if name in _LIST_FIELDS:
        return dumps(list(value))  # type: ignore[call-overload]
    if name == "min_level":
        return Level(value).value  # type: ignore[arg-type]
    return str(value)


def _debunk(r: sqlite3.Row) -> Debunk:
    return Debunk(claim=r["claim"], clarification=r["clarification"], keywords=json.loads(r["keywords"]),
                  source_url=r["source_url"], active=bool(r["active"]), created_by=r["created_by"],
                  created_at=parse_ts(r["created_at"]), id=r["id"])  # type: ignore[arg-type]


class PeopleMixin:
    # ------------------------------------------------------------------ users
    def add_user(self, user: User) -> User:
        try:
            with self._tx() as c:
                cur = c.execute(
                    "INSERT INTO users (username, role, password_hash, active, email, wecom_userid, dingtalk_userid,"
                    " feishu_userid, topics, channels, min_level, reports, review_channels) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (user.username, user.role.value, user.password_hash, int(user.active), user.email,
                     user.wecom_userid, user.dingtalk_userid, user.feishu_userid, dumps(user.topics),
                     dumps(user.channels), user.min_level.value, dumps(user.reports), dumps(user.review_channels)),
                )
        except sqlite3.IntegrityError:
            raise ValueError(f"用户名 {user.username} 已存在") from None
        user.id = cur.lastrowid
        return user

    def set_password(self, username: str, password_hash: str) -> None:
        """Also ends every open session of the user, in the same transaction."""
        with self._tx() as c:
            cur = c.execute("UPDATE users SET password_hash = ? WHERE username = ?", (password_hash, username))
            if cur.rowcount == 0:
                raise ValueError(f"用户 {username} 不存在")
            c.execute("UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                      (ts(utcnow()), username))

    def update_user(self, username: str, audit: AuditEvent, *, role: Role | None = None,
                    active: bool | None = None) -> None:
        with self._tx() as c:
            row = c.execute("SELECT role, active FROM users WHERE username = ?", (username,)).fetchone()
            if row is None:
                raise ValueError(f"用户 {username} 不存在")
            c.execute("UPDATE users SET role = ?, active = ? WHERE username = ?",
                      (role.value if role else row["role"], row["active"] if active is None else int(active),
                       username))
            if active is False:  # a deactivated account is signed out everywhere
                c.execute("UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                          (ts(audit.at), username))
            self._insert_audit(c, audit)

    def update_profile(self, username: str, audit: AuditEvent, **fields: object) -> None:
        """Change a user's contact routes and subscriptions (PROFILE_FIELDS) and append the audit event."""
        unknown = set(fields) - set(PROFILE_FIELDS)
        if unknown:
            raise ValueError(f"unknown profile fields: {sorted(unknown)}")
        if not fields:
            return
        with self._tx() as c:
            sets = ", ".join(f"{k} = ?" for k in fields)
            cur = c.execute(f"UPDATE users SET {sets} WHERE username = ?",
                            [*(_profile_value(k, v) for k, v in fields.items()), username])
            if cur.rowcount == 0:
                raise ValueError(f"用户 {username} 不存在")
            self._insert_audit(c, audit)

    def get_user(self, username: str) -> User | None:
        r = self._one("SELECT * FROM users WHERE username = ?", (username,))
        return _user(r) if r else None

    def users(self) -> list[User]:
        return [_user(r) for r in self._rows("SELECT * FROM users ORDER BY username")]

    # ------------------------------------------------------------------ saved filters
    def saved_filters(self, username: str, page: str) -> list[SavedFilter]:
        rows = self._rows("SELECT * FROM saved_filters WHERE username = ? AND page = ? ORDER BY name",
                          (username, page))
        return [SavedFilter(r["username"], r["page"], r["name"], r["query"], r["id"]) for r in rows]

    def save_filter(self, f: SavedFilter, limit: int) -> SavedFilter:
        with self._tx() as c:
            n = c.execute("SELECT count(*) FROM saved_filters WHERE username = ? AND page = ? AND name != ?",
                          (f.username, f.page, f.name)).fetchone()[0]
            if n >= limit:
                raise ValueError(f"最多保存 {limit} 个筛选，请先删除不用的")
            c.execute("INSERT INTO saved_filters (username, page, name, query, created_at) VALUES (?,?,?,?,?)"
                      " ON CONFLICT (username, page, name) DO UPDATE SET query = excluded.query",
                      (f.username, f.page, f.name, f.query, ts(utcnow())))
            f.id = c.execute("SELECT id FROM saved_filters WHERE username = ? AND page = ? AND name = ?",
                             (f.username, f.page, f.name)).fetchone()[0]
        return f

    def delete_filter(self, username: str, filter_id: int) -> bool:
        with self._tx() as c:
            return c.execute("DELETE FROM saved_filters WHERE id = ? AND username = ?",
                             (filter_id, username)).rowcount > 0

    # ------------------------------------------------------------------ audit
    def audit(self, event: AuditEvent) -> None:
        with self._tx() as c:
            self._insert_audit(c, event)

    def audit_batch(self, events: Sequence[AuditEvent]) -> None:
        with self._tx() as c:
            for event in events:
                self._insert_audit(c, event)

    def audit_log(self, limit: int = 100, offset: int = 0, actor: str | None = None) -> list[AuditEvent]:
        if actor:
            rows = self._rows("SELECT * FROM audit WHERE actor = ? ORDER BY id DESC LIMIT ? OFFSET ?",
                              (actor, limit, offset))
        else:
            rows = self._rows("SELECT * FROM audit ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
        return [_audit_event(r) for r in rows]

    def audit_page(self, after_id: int, limit: int) -> list[AuditEvent]:
        return [_audit_event(r) for r in self._rows("SELECT * FROM audit WHERE id > ? ORDER BY id LIMIT ?",
                                                     (after_id, limit))]

    # ------------------------------------------------------------------ debunk registry
    def debunks(self, active_only: bool = True) -> list[Debunk]:
        sql = "SELECT * FROM debunks" + (" WHERE active = 1" if active_only else "") + " ORDER BY id"
        return [_debunk(r) for r in self._rows(sql)]

    def get_debunk(self, debunk_id: int) -> Debunk | None:
        r = self._one("SELECT * FROM debunks WHERE id = ?", (debunk_id,))
        return _debunk(r) if r else None

    def save_debunk(self, debunk: Debunk, audit: AuditEvent) -> Debunk:
        with self._tx() as c:
            if debunk.id is None:
                cur = c.execute(
                    "INSERT INTO debunks (claim, clarification, keywords, source_url, active, created_by,"
                    " created_at) VALUES (?,?,?,?,?,?,?)",
                    (debunk.claim, debunk.clarification, dumps(debunk.keywords), debunk.source_url,
                     int(debunk.active), debunk.created_by, ts(debunk.created_at)),
                )
                debunk.id = cur.lastrowid
            else:
                c.execute(
                    "UPDATE debunks SET claim = ?, clarification = ?, keywords = ?, source_url = ?, active = ?"
                    " WHERE id = ?",
                    (debunk.claim, debunk.clarification, dumps(debunk.keywords), debunk.source_url,
                     int(debunk.active), debunk.id),
                )
            audit.target = audit.target or f"debunk:{debunk.id}"
            self._insert_audit(c, audit)
        return debunk


def _audit_event(r: sqlite3.Row) -> AuditEvent:
    return AuditEvent(actor=r["actor"], action=r["action"], target=r["target"], detail=json.loads(r["detail"]),
                      at=parse_ts(r["at"]), id=r["id"])  # type: ignore[arg-type]
