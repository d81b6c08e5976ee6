"""The report mail outbox (SQLite): one row per report period and subscriber, retried until sent."""
from __future__ import annotations

from datetime import date, datetime
from typing import Sequence

from store.base import ReportMail
from store.codec import parse_ts, ts


def _mail(r) -> ReportMail:  # type: ignore[no-untyped-def]
    return ReportMail(period=r["period"], start=date.fromisoformat(r["start"]), username=r["username"],
                      state=r["state"], attempts=r["attempts"], next_attempt_at=parse_ts(r["next_attempt_at"]),
                      last_error=r["last_error"], sent_at=parse_ts(r["sent_at"]), id=r["id"])  # type: ignore[arg-type]


class ReportMailMixin:
    def enqueue_report_mails(self, period: str, start: date, usernames: Sequence[str], at: datetime) -> int:
        with self._tx() as c:  # type: ignore[attr-defined]
            n = 0
            for u in usernames:
                n += c.execute("INSERT OR IGNORE INTO report_mails (period, start, username, next_attempt_at)"
                               " VALUES (?,?,?,?)", (period, start.isoformat(), u, ts(at))).rowcount
        return n

    def report_mails_exist(self, period: str, start: date) -> bool:
        return self._one("SELECT 1 FROM report_mails WHERE period = ? AND start = ? LIMIT 1",  # type: ignore[attr-defined]
                         (period, start.isoformat())) is not None

    def due_report_mails(self, now: datetime, limit: int = 20) -> list[ReportMail]:
        rows = self._rows("SELECT * FROM report_mails WHERE state IN ('pending', 'failing') AND next_attempt_at <= ?"  # type: ignore[attr-defined]
                          " ORDER BY next_attempt_at, id LIMIT ?", (ts(now), limit))
        return [_mail(r) for r in rows]

    def report_mails(self, period: str, start: date) -> list[ReportMail]:
        rows = self._rows("SELECT * FROM report_mails WHERE period = ? AND start = ? ORDER BY username",  # type: ignore[attr-defined]
                          (period, start.isoformat()))
        return [_mail(r) for r in rows]

    def report_mail_done(self, mail_id: int, state: str, at: datetime, note: str = "") -> None:
        """`state`: sent, or dropped (nothing to retry: unsubscribed, no address, refused address)."""
        with self._tx() as c:  # type: ignore[attr-defined]
            c.execute("UPDATE report_mails SET state = ?, attempts = attempts + 1, sent_at = ?, last_error = ?"
                      " WHERE id = ?", (state, ts(at), note[:2000], mail_id))

    def report_mail_failed(self, mail_id: int, error: str, next_attempt_at: datetime) -> None:
        with self._tx() as c:  # type: ignore[attr-defined]
            c.execute("UPDATE report_mails SET state = 'failing', attempts = attempts + 1, last_error = ?,"
                      " next_attempt_at = ? WHERE id = ?", (error[:2000], ts(next_attempt_at), mail_id))
