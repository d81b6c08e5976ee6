"""Review queue, decisions, cases, alerts and the outbox (SQLite)."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Sequence

from core.domain import (
    Action,
    Alert,
    AuditEvent,
    Case,
    CaseKind,
    Decision,
    DeliveryState,
    Flag,
    FlagStatus,
    Level,
    ReasonCode,
    WriteBack,
)
from store.base import Delivery, QueueItem
from store.sqlite.channels import ChannelsMixin
from store.codec import dumps, parse_ts, ts
from store.sqlite.connection import placeholders
from store.sqlite.posts import POST_COLUMNS, row_to_post

_P_COLUMNS = ", ".join("p." + c.strip() for c in POST_COLUMNS.split(","))


def _flag(r: sqlite3.Row) -> Flag:
    return Flag(post_id=r["post_id"], rule=r["rule"], reason=r["reason"],
                created_at=parse_ts(r["created_at"]), id=r["id"])  # type: ignore[arg-type]


def _decision(r: sqlite3.Row) -> Decision:
    return Decision(post_id=r["post_id"], moderator=r["moderator"], action=Action(r["action"]),
                    reason_code=ReasonCode(r["reason_code"]), note=r["note"],
                    created_at=parse_ts(r["created_at"]), id=r["id"])  # type: ignore[arg-type]


def _alert(r: sqlite3.Row) -> Alert:
    return Alert(rule=r["rule"], level=Level(r["level"]), title=r["title"], body=r["body"],
                 dedupe_key=r["dedupe_key"], post_ids=json.loads(r["post_ids"]),
                 notifiers=json.loads(r["notifiers"]), created_at=parse_ts(r["created_at"]),  # type: ignore[arg-type]
                 case_id=r["case_id"], acknowledged_by=r["acknowledged_by"], id=r["id"])


def _delivery(r: sqlite3.Row) -> Delivery:
    return Delivery(alert_id=r["alert_id"], notifier=r["notifier"], state=DeliveryState(r["state"]),
                    attempts=r["attempts"], next_attempt_at=parse_ts(r["next_attempt_at"]),
                    last_error=r["last_error"], sent_at=parse_ts(r["sent_at"]), id=r["id"])


class ReviewMixin(ChannelsMixin):
    # ------------------------------------------------------------------ review queue
    def review_queue(
        self,
        status: FlagStatus = FlagStatus.PENDING,
        channel: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> list[QueueItem]:
        where, params = "f.status = ?", [status.value]
        if channel:
            where += " AND p.channel = ?"
            params.append(channel)
        rows = self._rows(
            f"SELECT {_P_COLUMNS}, max(f.created_at) AS flagged_at FROM flags f JOIN posts p ON p.id = f.post_id"
            f" WHERE {where} GROUP BY p.id ORDER BY flagged_at DESC, p.id DESC LIMIT ? OFFSET ?",
            [*params, limit, offset],
        )
        return self._queue_items([row_to_post(r) for r in rows], status)

    def queue_item(self, post_id: int) -> QueueItem | None:
        post = self.get_post(post_id)
        if post is None:
            return None
        r = self._one(
            "SELECT status FROM flags WHERE post_id = ? ORDER BY (status = 'pending') DESC, id DESC LIMIT 1",
            (post_id,),
        )
        if r is None:
            return None
        return self._queue_items([post], FlagStatus(r["status"]))[0]

    def _queue_items(self, posts: list, status: FlagStatus) -> list[QueueItem]:
        ids = [p.id for p in posts]
        if not ids:
            return []
        analyses = self.analyses_by_ids(ids)
        flags: dict[int, list[Flag]] = {i: [] for i in ids}
        for r in self._rows(f"SELECT * FROM flags WHERE post_id IN ({placeholders(len(ids))}) ORDER BY id", ids):
            flags[r["post_id"]].append(_flag(r))
        decisions: dict[int, Decision] = {}
        for r in self._rows(
            f"SELECT * FROM decisions WHERE post_id IN ({placeholders(len(ids))}) ORDER BY id", ids
        ):
            decisions[r["post_id"]] = _decision(r)
        return [
            QueueItem(post=p, analysis=analyses.get(p.id), flags=flags[p.id], status=status,
                      decision=decisions.get(p.id))
            for p in posts
        ]

    def queue_count(self, status: FlagStatus = FlagStatus.PENDING, channel: str | None = None) -> int:
        if channel:
            r = self._one(
                "SELECT count(DISTINCT f.post_id) AS n FROM flags f JOIN posts p ON p.id = f.post_id"
                " WHERE f.status = ? AND p.channel = ?",
                (status.value, channel),
            )
        else:
            r = self._one("SELECT count(DISTINCT post_id) AS n FROM flags WHERE status = ?", (status.value,))
        return int(r["n"]) if r else 0

    def decide(self, decision: Decision, audit: AuditEvent, writebacks: Sequence[WriteBack] = ()) -> Decision:
        status = FlagStatus.REMOVED if decision.action is Action.REMOVE else FlagStatus.APPROVED
        with self._tx() as c:
            for wb in writebacks:
                self._insert_writeback(c, wb)
            cur = c.execute(
                "INSERT INTO decisions (post_id, moderator, action, reason_code, note, created_at)"
                " VALUES (?,?,?,?,?,?)",
                (decision.post_id, decision.moderator, decision.action.value, decision.reason_code.value,
                 decision.note, ts(decision.created_at)),
            )
            decision.id = cur.lastrowid
            c.execute("UPDATE flags SET status = ? WHERE post_id = ?", (status.value, decision.post_id))
            self._insert_audit(c, audit)
        return decision

    def rule_outcomes(self) -> dict[str, tuple[int, int, int]]:
        rows = self._rows(
            "SELECT f.rule AS rule, count(DISTINCT f.post_id) AS flagged,"
            " count(DISTINCT CASE WHEN f.status != 'pending' THEN f.post_id END) AS decided,"
            " count(DISTINCT CASE WHEN f.status = 'removed' THEN f.post_id END) AS removed"
            " FROM flags f GROUP BY f.rule"
        )
        return {r["rule"]: (int(r["flagged"]), int(r["decided"]), int(r["removed"])) for r in rows}

    def decisions(self, since: datetime | None = None) -> list[Decision]:
        rows = self._rows(
            "SELECT * FROM decisions WHERE created_at >= ? ORDER BY id", (ts(since) if since else "",)
        )
        return [_decision(r) for r in rows]

    # ------------------------------------------------------------------ cases
    def cases(self, kind: str | None = None, status: str | None = "open", limit: int = 50) -> list[Case]:
        where, params = ["1=1"], []
        if kind:
            where.append("kind = ?")
            params.append(kind)
        if status:
            where.append("status = ?")
            params.append(status)
        rows = self._rows(
            f"SELECT * FROM cases WHERE {' AND '.join(where)} ORDER BY updated_at DESC LIMIT ?", [*params, limit]
        )
        return [self._case(r) for r in rows]

    def get_case(self, case_id: int) -> Case | None:
        r = self._one("SELECT * FROM cases WHERE id = ?", (case_id,))
        return self._case(r) if r else None

    def case_alerts(self, case_id: int, limit: int = 50) -> list[Alert]:
        rows = self._rows("SELECT * FROM alerts WHERE case_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
                          (case_id, limit))
        return [_alert(r) for r in rows]

    def _case(self, r: sqlite3.Row) -> Case:
        post_ids = [x["post_id"] for x in self._rows(
            "SELECT post_id FROM case_posts WHERE case_id = ? ORDER BY post_id", (r["id"],))]
        return Case(kind=CaseKind(r["kind"]), key=r["key"], title=r["title"], post_ids=post_ids,
                    status=r["status"], created_at=parse_ts(r["created_at"]),  # type: ignore[arg-type]
                    updated_at=parse_ts(r["updated_at"]), id=r["id"])  # type: ignore[arg-type]

    # ------------------------------------------------------------------ alerts
    def alerts(self, limit: int = 50, offset: int = 0, level: str | None = None) -> list[Alert]:
        if level:
            rows = self._rows("SELECT * FROM alerts WHERE level = ? ORDER BY created_at DESC, id DESC"
                              " LIMIT ? OFFSET ?", (level, limit, offset))
        else:
            rows = self._rows("SELECT * FROM alerts ORDER BY created_at DESC, id DESC LIMIT ? OFFSET ?",
                              (limit, offset))
        return [_alert(r) for r in rows]

    def get_alert(self, alert_id: int) -> Alert | None:
        r = self._one("SELECT * FROM alerts WHERE id = ?", (alert_id,))
        return _alert(r) if r else None

    def acknowledge_alert(self, alert_id: int, audit: AuditEvent) -> None:
        with self._tx() as c:
            c.execute("UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE id = ?"
                      " AND acknowledged_by IS NULL", (audit.actor, ts(audit.at), alert_id))
            self._insert_audit(c, audit)

    # ------------------------------------------------------------------ outbox
    def due_deliveries(self, now: datetime, limit: int = 50) -> list[Delivery]:
        rows = self._rows(
            "SELECT * FROM deliveries WHERE state != 'sent' AND next_attempt_at <= ?"
            " ORDER BY next_attempt_at, id LIMIT ?",
            (ts(now), limit),
        )
        return [_delivery(r) for r in rows]

    def deliveries(self, alert_id: int) -> list[Delivery]:
        return [_delivery(r) for r in self._rows("SELECT * FROM deliveries WHERE alert_id = ? ORDER BY id",
                                                 (alert_id,))]

    def failing_notifiers(self, min_attempts: int) -> list[tuple[str, int, str]]:
        rows = self._rows(
            "SELECT notifier, count(*) AS n, (SELECT d2.last_error FROM deliveries d2 WHERE d2.notifier = d.notifier"
            " AND d2.state = 'failing' ORDER BY d2.next_attempt_at DESC, d2.id DESC LIMIT 1) AS err"
            " FROM deliveries d WHERE state = 'failing' AND attempts >= ? GROUP BY notifier ORDER BY notifier",
            (min_attempts,),
        )
        return [(r["notifier"], int(r["n"]), r["err"] or "") for r in rows]

    def delivery_sent(self, delivery_id: int, at: datetime) -> None:
        with self._tx() as c:
            c.execute("UPDATE deliveries SET state = 'sent', attempts = attempts + 1, sent_at = ?,"
                      " last_error = '' WHERE id = ?", (ts(at), delivery_id))

    def delivery_failed(self, delivery_id: int, error: str, next_attempt_at: datetime) -> None:
        with self._tx() as c:
            c.execute("UPDATE deliveries SET state = 'failing', attempts = attempts + 1, last_error = ?,"
                      " next_attempt_at = ? WHERE id = ?", (error[:2000], ts(next_attempt_at), delivery_id))

    # ------------------------------------------------------------------ shared
    @staticmethod
    def _insert_audit(c: sqlite3.Connection, e: AuditEvent) -> None:
        cur = c.execute(
            "INSERT INTO audit (at, actor, action, target, detail) VALUES (?,?,?,?,?)",
            (ts(e.at), e.actor, e.action, e.target, dumps(e.detail)),
        )
        e.id = cur.lastrowid
