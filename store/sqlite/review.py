"""Review queue, decisions, cases, alerts and the outbox (SQLite)."""
from __future__ import annotations

import json
import sqlite3
from datetime import datetime
from typing import Sequence

from core.domain import (
    AUTO_MODERATOR_PREFIX,
    Action,
    Alert,
    AuditEvent,
    Case,
    CaseKind,
    CaseResponse,
    CaseState,
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
                 case_id=r["case_id"], acknowledged_by=r["acknowledged_by"], id=r["id"], kind=r["kind"],
                 topics=json.loads(r["topics"] or "[]"), channels=json.loads(r["channels"] or "[]"),
                 claimed_by=r["claimed_by"], claimed_at=parse_ts(r["claimed_at"]), escalated=r["escalated"],
                 raised_at=parse_ts(r["raised_at"]), acknowledged_at=parse_ts(r["acknowledged_at"]))


def _delivery(r: sqlite3.Row) -> Delivery:
    return Delivery(alert_id=r["alert_id"], notifier=r["notifier"], recipient=r["recipient"], reason=r["reason"],
                    state=DeliveryState(r["state"]), attempts=r["attempts"],
                    next_attempt_at=parse_ts(r["next_attempt_at"]), last_error=r["last_error"],
                    sent_at=parse_ts(r["sent_at"]), id=r["id"])


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

    def review_page(
        self,
        status: FlagStatus = FlagStatus.PENDING,
        channels: Sequence[str] | None = None,
        rule: str | None = None,
        after: tuple[datetime, int] | None = None,
        limit: int = 20,
    ) -> list[tuple[datetime, QueueItem]]:
        """One keyset page of the queue: posts with flags in `status` (of `rule`, in `channels`), most
        recently flagged first, after the (flagged_at, post id) cursor of the previous page. Each
        post comes once, at its latest flag: the walk goes down the (status, created_at) index and
        keeps a flag only when no later flag of the same post (and rule) exists, so a page costs
        the rows it shows, however long the history."""
        where, params = ["f.status = ?"], [status.value]
        same_rule = ""
        if rule:
            where.append("f.rule = ?")
            params.append(rule)
            same_rule = " AND g.rule = f.rule"
        if channels:
            where.append(f"p.channel IN ({placeholders(len(channels))})")
            params.extend(channels)
        if after is not None:
            where.append("(f.created_at < ? OR (f.created_at = ? AND f.post_id < ?))")
            params.extend([ts(after[0]), ts(after[0]), after[1]])
        rows = self._rows(
            f"SELECT DISTINCT f.post_id AS post_id, f.created_at AS flagged_at FROM flags f"
            f" JOIN posts p ON p.id = f.post_id WHERE {' AND '.join(where)}"
            f" AND NOT EXISTS (SELECT 1 FROM flags g WHERE g.post_id = f.post_id AND g.status = f.status{same_rule}"
            f" AND g.created_at > f.created_at) ORDER BY f.created_at DESC, f.post_id DESC LIMIT ?",
            [*params, limit],
        )
        posts = self.posts_by_ids([r["post_id"] for r in rows])
        items = {i.post.id: i for i in self._queue_items([posts[r["post_id"]] for r in rows
                                                           if r["post_id"] in posts], status)}
        return [(parse_ts(r["flagged_at"]), items[r["post_id"]]) for r in rows  # type: ignore[misc]
                if r["post_id"] in items]

    def queue_rules(self, status: FlagStatus = FlagStatus.PENDING) -> list[tuple[str, int]]:
        """The rules with flags in `status` and how many posts each flagged, most first."""
        rows = self._rows("SELECT rule, count(DISTINCT post_id) AS n FROM flags WHERE status = ? GROUP BY rule"
                          " ORDER BY n DESC, rule", (status.value,))
        return [(r["rule"], int(r["n"])) for r in rows]

    def queue_item(self, post_id: int) -> QueueItem | None:
        return self.queue_items([post_id]).get(post_id)

    def queue_items(self, post_ids: Sequence[int]) -> dict[int, QueueItem]:
        """The flagged posts among `post_ids`, each in its current status (pending while any flag is)."""
        ids = list(dict.fromkeys(post_ids))
        status: dict[int, FlagStatus] = {}
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for r in self._rows(f"SELECT post_id, status FROM flags WHERE post_id IN ({placeholders(len(chunk))})"
                                " ORDER BY (status = 'pending'), id", chunk):
                status[r["post_id"]] = FlagStatus(r["status"])  # the last row wins: pending, else the latest
        posts = self.posts_by_ids(list(status))
        out: dict[int, QueueItem] = {}
        for st in set(status.values()):
            out.update((i.post.id, i) for i in self._queue_items(
                [posts[pid] for pid, s in status.items() if s is st and pid in posts], st))  # type: ignore[misc]
        return out

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

    def queue_count(self, status: FlagStatus = FlagStatus.PENDING, channel: str | Sequence[str] | None = None,
                    rule: str | None = None) -> int:
        """Posts with flags in `status`; `channel` is one channel or several (any of them)."""
        channels = [channel] if isinstance(channel, str) else list(channel or [])
        where, params, join = ["f.status = ?"], [status.value], ""
        if rule:
            where.append("f.rule = ?")
            params.append(rule)
        if channels:
            join = " JOIN posts p ON p.id = f.post_id"
            where.append(f"p.channel IN ({placeholders(len(channels))})")
            params.extend(channels)
        r = self._one(f"SELECT count(DISTINCT f.post_id) AS n FROM flags f{join} WHERE {' AND '.join(where)}", params)
        return int(r["n"]) if r else 0

    def decide(self, decision: Decision, audit: AuditEvent, writebacks: Sequence[WriteBack] = ()) -> Decision:
        with self._tx() as c:
            for wb in writebacks:
                self._insert_writeback(c, wb)
            self._decide(c, decision, audit)
        return decision

    def decide_many(self, decisions: Sequence[tuple[Decision, AuditEvent]]) -> list[Decision]:
        with self._tx() as c:
            for decision, audit in decisions:
                self._decide(c, decision, audit)
        return [d for d, _ in decisions]

    def _decide(self, c: sqlite3.Connection, decision: Decision, audit: AuditEvent) -> None:
        status = FlagStatus.REMOVED if decision.action is Action.REMOVE else FlagStatus.APPROVED
        cur = c.execute(
            "INSERT INTO decisions (post_id, moderator, action, reason_code, note, created_at)"
            " VALUES (?,?,?,?,?,?)",
            (decision.post_id, decision.moderator, decision.action.value, decision.reason_code.value,
             decision.note, ts(decision.created_at)),
        )
        decision.id = cur.lastrowid
        c.execute("UPDATE flags SET status = ? WHERE post_id = ?", (status.value, decision.post_id))
        c.execute("DELETE FROM removal_requests WHERE post_id = ?", (decision.post_id,))  # decided now
        self._insert_audit(c, audit)

    def request_removal(self, post_id: int, by: str, reason_code: str, note: str, audit: AuditEvent) -> None:
        with self._tx() as c:
            c.execute("INSERT INTO removal_requests (post_id, requested_by, reason_code, note, requested_at)"
                      " VALUES (?,?,?,?,?) ON CONFLICT (post_id) DO UPDATE SET requested_by = excluded.requested_by,"
                      " reason_code = excluded.reason_code, note = excluded.note, requested_at = excluded.requested_at",
                      (post_id, by, reason_code, note, ts(audit.at)))
            self._insert_audit(c, audit)

    def removal_requests(self, post_ids: Sequence[int]) -> dict[int, tuple[str, str, str, datetime]]:
        out: dict[int, tuple[str, str, str, datetime]] = {}
        ids = list(post_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for r in self._rows(f"SELECT * FROM removal_requests WHERE post_id IN ({placeholders(len(chunk))})", chunk):
                out[r["post_id"]] = (r["requested_by"], r["reason_code"], r["note"], parse_ts(r["requested_at"]))  # type: ignore[assignment]
        return out

    def rule_outcomes(self) -> dict[str, tuple[int, int, int]]:
        # decided = a person decided (a rule's own removal says nothing about the rule's precision)
        human = "f.status != 'pending' AND EXISTS (SELECT 1 FROM decisions d WHERE d.post_id = f.post_id" \
                " AND d.moderator NOT LIKE ?)"
        rows = self._rows(
            "SELECT f.rule AS rule, count(DISTINCT f.post_id) AS flagged,"
            f" count(DISTINCT CASE WHEN {human} THEN f.post_id END) AS decided,"
            f" count(DISTINCT CASE WHEN {human} AND f.status = 'removed' THEN f.post_id END) AS removed"
            " FROM flags f GROUP BY f.rule", (AUTO_MODERATOR_PREFIX + "%", AUTO_MODERATOR_PREFIX + "%")
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
        assignees = [x["username"] for x in self._rows(
            "SELECT username FROM case_assignees WHERE case_id = ? ORDER BY assigned_at, username", (r["id"],))]
        return Case(kind=CaseKind(r["kind"]), key=r["key"], title=r["title"], post_ids=post_ids,
                    status=r["status"], created_at=parse_ts(r["created_at"]),  # type: ignore[arg-type]
                    updated_at=parse_ts(r["updated_at"]), id=r["id"], state=CaseState(r["state"]),  # type: ignore[arg-type]
                    clarified_at=parse_ts(r["clarified_at"]), assignees=assignees)

    # ------------------------------------------------------------------ the rumour-response loop
    def set_case_state(self, case_id: int, state: CaseState, audit: AuditEvent,
                       expect: CaseState | None = None) -> bool:
        closed = state in (CaseState.SUBSIDED, CaseState.FALSE_ALARM)
        with self._tx() as c:
            cur = c.execute("UPDATE cases SET state = ?, status = ?, clarified_at = CASE WHEN ? = 'clarified'"
                            " AND clarified_at IS NULL THEN ? ELSE clarified_at END WHERE id = ?"
                            + (" AND state = ?" if expect is not None else ""),
                            (state.value, "closed" if closed else "open", state.value, ts(audit.at), case_id,
                             *((expect.value,) if expect is not None else ())))
            if cur.rowcount == 0:
                return False
            self._insert_audit(c, audit)
        return True

    def case_post_times(self, case_id: int) -> list[datetime]:
        rows = self._rows("SELECT p.created_at FROM case_posts cp JOIN posts p ON p.id = cp.post_id"
                          " WHERE cp.case_id = ? ORDER BY p.created_at", (case_id,))
        return [parse_ts(r["created_at"]) for r in rows]  # type: ignore[misc]

    def cases_to_subside(self, quiet_since: datetime, limit: int = 100) -> list[Case]:
        since = ts(quiet_since)
        rows = self._rows(
            "SELECT c.* FROM cases c WHERE c.state = 'clarified' AND c.clarified_at <= ?"
            " AND coalesce((SELECT max(p.created_at) FROM case_posts cp JOIN posts p ON p.id = cp.post_id"
            " WHERE cp.case_id = c.id), '') <= ? ORDER BY c.clarified_at, c.id LIMIT ?", (since, since, limit))
        return [self._case(r) for r in rows]

    def assign_case(self, case_id: int, usernames: Sequence[str], audit: AuditEvent) -> None:
        with self._tx() as c:
            c.executemany("INSERT OR IGNORE INTO case_assignees (case_id, username, assigned_by, assigned_at)"
                          " VALUES (?,?,?,?)", [(case_id, u, audit.actor, ts(audit.at)) for u in usernames])
            self._insert_audit(c, audit)

    def add_case_response(self, response: CaseResponse, audit: AuditEvent) -> CaseResponse:
        with self._tx() as c:
            cur = c.execute("INSERT INTO case_responses (case_id, username, where_, text, url, created_at)"
                            " VALUES (?,?,?,?,?,?)", (response.case_id, response.username, response.where,
                                                      response.text, response.url, ts(response.created_at)))
            response.id = cur.lastrowid
            self._insert_audit(c, audit)
        return response

    def case_responses(self, case_id: int) -> list[CaseResponse]:
        rows = self._rows("SELECT * FROM case_responses WHERE case_id = ? ORDER BY created_at, id", (case_id,))
        return [CaseResponse(case_id=r["case_id"], username=r["username"], where=r["where_"], text=r["text"],
                             url=r["url"], created_at=parse_ts(r["created_at"]), id=r["id"])  # type: ignore[arg-type]
                for r in rows]

    def cases_assigned(self, username: str, open_only: bool = True) -> list[Case]:
        rows = self._rows(
            "SELECT c.* FROM cases c JOIN case_assignees a ON a.case_id = c.id WHERE a.username = ?"
            + (" AND c.status = 'open'" if open_only else "") + " ORDER BY c.updated_at DESC", (username,))
        return [self._case(r) for r in rows]

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

    def alerts_notified(self, username: str, open_only: bool = True, limit: int = 50) -> list[Alert]:
        rows = self._rows(
            "SELECT * FROM alerts WHERE id IN (SELECT alert_id FROM deliveries WHERE recipient = ?)"
            + (" AND acknowledged_by IS NULL AND claimed_by IS NULL" if open_only else "")
            + " ORDER BY created_at DESC, id DESC LIMIT ?", (username, limit))
        return [_alert(r) for r in rows]

    def claim_alert(self, alert_id: int, audit: AuditEvent) -> bool:
        with self._tx() as c:
            cur = c.execute("UPDATE alerts SET claimed_by = ?, claimed_at = ? WHERE id = ? AND claimed_by IS NULL",
                            (audit.actor, ts(audit.at), alert_id))
            if cur.rowcount == 0:
                return False
            self._insert_audit(c, audit)
            return True

    def alerts_to_escalate(self, levels: Sequence[str], raised_before: datetime, tier: int,
                           limit: int = 100) -> list[Alert]:
        rows = self._rows(
            f"SELECT * FROM alerts WHERE level IN ({placeholders(len(levels))}) AND acknowledged_by IS NULL"
            " AND claimed_by IS NULL AND escalated < ? AND coalesce(raised_at, created_at) <= ? ORDER BY id LIMIT ?",
            [*levels, tier, ts(raised_before), limit])
        return [_alert(r) for r in rows]

    def add_deliveries(self, alert_id: int, routes: Sequence[tuple[str, str, str]], at: datetime,
                       audit: AuditEvent | None = None, escalated: int | None = None) -> int:
        with self._tx() as c:
            new = 0
            for notifier, recipient, reason in routes:
                cur = c.execute("INSERT OR IGNORE INTO deliveries (alert_id, notifier, recipient, reason, state,"
                                " attempts, next_attempt_at) VALUES (?,?,?,?, 'pending', 0, ?)",
                                (alert_id, notifier, recipient, reason, ts(at)))
                new += cur.rowcount
            if escalated is not None:
                c.execute("UPDATE alerts SET escalated = max(escalated, ?) WHERE id = ?", (escalated, alert_id))
            if audit is not None:
                self._insert_audit(c, audit)
        return new

    def acknowledge_alert(self, alert_id: int, audit: AuditEvent) -> bool:
        with self._tx() as c:
            cur = c.execute("UPDATE alerts SET acknowledged_by = ?, acknowledged_at = ? WHERE id = ?"
                            " AND acknowledged_by IS NULL", (audit.actor, ts(audit.at), alert_id))
            if cur.rowcount == 0:
                return False
            self._insert_audit(c, audit)
            return True

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

    def delivery_sent(self, delivery_id: int, at: datetime, note: str = "") -> None:
        with self._tx() as c:
            c.execute("UPDATE deliveries SET state = 'sent', attempts = attempts + 1, sent_at = ?,"
                      " last_error = ? WHERE id = ?", (ts(at), note[:2000], delivery_id))

    def postpone_delivery(self, delivery_id: int, until: datetime) -> None:
        with self._tx() as c:
            c.execute("UPDATE deliveries SET next_attempt_at = ? WHERE id = ?", (ts(until), delivery_id))

    def digest_deliveries(self, notifier: str, recipient: str) -> list[Delivery]:
        rows = self._rows("SELECT * FROM deliveries WHERE notifier = ? AND recipient = ? AND state != 'sent'"
                          " AND reason LIKE '汇总:%' ORDER BY alert_id", (notifier, recipient))
        return [_delivery(r) for r in rows]

    def last_digest_at(self, notifier: str, recipient: str) -> datetime | None:
        r = self._one("SELECT max(sent_at) AS t FROM deliveries WHERE notifier = ? AND recipient = ?"
                      " AND state = 'sent' AND reason LIKE '汇总:%'", (notifier, recipient))
        return parse_ts(r["t"]) if r and r["t"] else None

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
