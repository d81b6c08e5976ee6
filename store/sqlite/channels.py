"""Pushed events and the write-back outbox (SQLite)."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Sequence

from core.domain import AuditEvent, WriteBack, WriteBackState
from store.codec import dumps, parse_ts, ts
from store.sqlite.connection import placeholders


def _writeback(r: sqlite3.Row) -> WriteBack:
    return WriteBack(post_id=r["post_id"], collector=r["collector"], action=r["action"],
                     requested_by=r["requested_by"], payload=json.loads(r["payload"] or "{}"),
                     state=WriteBackState(r["state"]), attempts=r["attempts"],
                     next_attempt_at=parse_ts(r["next_attempt_at"]), last_error=r["last_error"], result=r["result"],
                     created_at=parse_ts(r["created_at"]), done_at=parse_ts(r["done_at"]), id=r["id"])  # type: ignore[arg-type]


class ChannelsMixin:
    # ------------------------------------------------------------------ pushed events
    def push_inbound(self, collector: str, payloads: Sequence[str], at: datetime) -> list[int]:
        ids = []
        with self._tx() as c:
            for payload in payloads:
                cur = c.execute("INSERT INTO inbound (collector, received_at, payload) VALUES (?,?,?)",
                                (collector, ts(at), payload))
                ids.append(cur.lastrowid)
        return ids

    def inbound(self, collector: str, after_id: int, limit: int) -> list[tuple[int, str]]:
        rows = self._rows("SELECT id, payload FROM inbound WHERE collector = ? AND id > ? ORDER BY id LIMIT ?",
                          (collector, after_id, limit))
        return [(r["id"], r["payload"]) for r in rows]

    def prune_inbound(self, collector: str, up_to_id: int, received_before: datetime) -> int:
        with self._tx() as c:
            return c.execute("DELETE FROM inbound WHERE collector = ? AND id <= ? AND received_at < ?",
                             (collector, up_to_id, ts(received_before))).rowcount

    # ------------------------------------------------------------------ write-backs
    @staticmethod
    def _insert_writeback(c: sqlite3.Connection, wb: WriteBack) -> None:
        cur = c.execute(
            "INSERT INTO writebacks (post_id, collector, action, payload, state, attempts, next_attempt_at,"
            " requested_by, created_at) VALUES (?,?,?,?, 'pending', 0, ?,?,?)",
            (wb.post_id, wb.collector, wb.action, dumps(wb.payload), ts(wb.next_attempt_at or wb.created_at),
             wb.requested_by, ts(wb.created_at)),
        )
        wb.id = cur.lastrowid

    def queue_writeback(self, writeback: WriteBack, audit: AuditEvent) -> WriteBack:
        with self._tx() as c:
            self._insert_writeback(c, writeback)
            self._insert_audit(c, audit)
        return writeback

    def due_writebacks(self, now: datetime, limit: int = 20) -> list[WriteBack]:
        rows = self._rows("SELECT * FROM writebacks WHERE state IN ('pending', 'failing') AND next_attempt_at <= ?"
                          " ORDER BY next_attempt_at, id LIMIT ?", (ts(now), limit))
        return [_writeback(r) for r in rows]

    def writebacks_for(self, post_ids: Sequence[int]) -> dict[int, list[WriteBack]]:
        out: dict[int, list[WriteBack]] = {}
        ids = list(post_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i : i + 500]
            for r in self._rows(f"SELECT * FROM writebacks WHERE post_id IN ({placeholders(len(chunk))}) ORDER BY id",
                                chunk):
                out.setdefault(r["post_id"], []).append(_writeback(r))
        return out

    def writeback_done(self, writeback_id: int, state: WriteBackState, result: str, at: datetime,
                       audit: AuditEvent) -> None:
        with self._tx() as c:
            c.execute("UPDATE writebacks SET state = ?, attempts = attempts + 1, result = ?, done_at = ?,"
                      " last_error = CASE WHEN ? = 'refused' THEN ? ELSE '' END WHERE id = ?",
                      (state.value, result[:4000], ts(at), state.value, result[:2000], writeback_id))
            self._insert_audit(c, audit)

    def writeback_failed(self, writeback_id: int, error: str, next_attempt_at: datetime) -> None:
        with self._tx() as c:
            c.execute("UPDATE writebacks SET state = 'failing', attempts = attempts + 1, last_error = ?,"
                      " next_attempt_at = ? WHERE id = ?", (error[:2000], ts(next_attempt_at), writeback_id))
