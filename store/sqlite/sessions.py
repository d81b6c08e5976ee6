"""Server-side dashboard sessions and the quarantine of poison records (SQLite)."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timedelta

from store.base import Quarantined, SessionRecord
from store.codec import parse_ts, ts


def _session(r: sqlite3.Row) -> SessionRecord:
    return SessionRecord(token_hash=r["id"], username=r["username"], created_at=parse_ts(r["created_at"]),  # type: ignore[arg-type]
                         last_seen=parse_ts(r["last_seen"]), expires_at=parse_ts(r["expires_at"]),  # type: ignore[arg-type]
                         revoked_at=parse_ts(r["revoked_at"]), net=r["net"])


def _quarantined(r: sqlite3.Row) -> Quarantined:
    return Quarantined(stage=r["stage"], post_id=r["post_id"], version=r["version"], attempts=r["attempts"],
                       error=r["error"], first_at=parse_ts(r["first_at"]), last_at=parse_ts(r["last_at"]))  # type: ignore[arg-type]


class SessionsMixin:
    # ------------------------------------------------------------------ sessions
    def create_session(self, record: SessionRecord) -> None:
        with self._tx() as c:
            c.execute(
                "INSERT INTO sessions (id, username, created_at, last_seen, expires_at, revoked_at, net)"
                " VALUES (?,?,?,?,?,?,?)",
                (record.token_hash, record.username, ts(record.created_at), ts(record.last_seen),
                 ts(record.expires_at), ts(record.revoked_at) if record.revoked_at else None, record.net),
            )
            # Keep the table small: sessions that ended more than a day ago are of no use.
            cutoff = ts(record.created_at - timedelta(days=1))
            c.execute("DELETE FROM sessions WHERE expires_at < ? OR revoked_at < ?", (cutoff, cutoff))

    def get_session(self, token_hash: str) -> SessionRecord | None:
        r = self._one("SELECT * FROM sessions WHERE id = ?", (token_hash,))
        return _session(r) if r else None

    def touch_session(self, token_hash: str, at: datetime) -> None:
        with self._tx() as c:
            c.execute("UPDATE sessions SET last_seen = ? WHERE id = ? AND last_seen < ?", (ts(at), token_hash, ts(at)))

    def revoke_session(self, token_hash: str, at: datetime) -> None:
        with self._tx() as c:
            c.execute("UPDATE sessions SET revoked_at = ? WHERE id = ? AND revoked_at IS NULL", (ts(at), token_hash))

    def revoke_user_sessions(self, username: str, at: datetime) -> int:
        with self._tx() as c:
            cur = c.execute("UPDATE sessions SET revoked_at = ? WHERE username = ? AND revoked_at IS NULL",
                            (ts(at), username))
            return cur.rowcount

    # ------------------------------------------------------------------ quarantine
    def quarantine_failure(self, stage: str, post_id: int, version: int, error: str, at: datetime) -> int:
        with self._tx() as c:
            c.execute(
                "INSERT INTO quarantine (stage, post_id, version, attempts, error, first_at, last_at)"
                " VALUES (?,?,?,1,?,?,?) ON CONFLICT (stage, post_id, version) DO UPDATE SET"
                " attempts = attempts + 1, error = excluded.error, last_at = excluded.last_at",
                (stage, post_id, version, error[:2000], ts(at), ts(at)),
            )
            row = c.execute("SELECT attempts FROM quarantine WHERE stage = ? AND post_id = ? AND version = ?",
                            (stage, post_id, version)).fetchone()
        return int(row["attempts"])

    def quarantined(self, stage: str | None = None, limit: int = 100, offset: int = 0,
                    min_attempts: int = 1) -> list[Quarantined]:
        where, params = "attempts >= ?", [min_attempts]
        if stage:
            where += " AND stage = ?"
            params.append(stage)  # type: ignore[arg-type]
        rows = self._rows(f"SELECT * FROM quarantine WHERE {where} ORDER BY last_at DESC LIMIT ? OFFSET ?",
                          [*params, limit, offset])
        return [_quarantined(r) for r in rows]

    def release_quarantine(self, stage: str, post_id: int) -> bool:
        with self._tx() as c:
            cur = c.execute("DELETE FROM quarantine WHERE stage = ? AND post_id = ?", (stage, post_id))
            return cur.rowcount > 0
