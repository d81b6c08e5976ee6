"""Leases between service instances sharing one SQLite file (see core/lease.py)."""
from __future__ import annotations

from datetime import datetime, timedelta

from store.base import LeaseState
from store.codec import parse_ts, ts


class LeasesMixin:
    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> LeaseState:
        with self._tx() as c:  # BEGIN IMMEDIATE: one writer at a time, across processes too
            row = c.execute("SELECT holder, acquired_at, expires_at FROM leases WHERE name = ?", (name,)).fetchone()
            if row is None or row["holder"] == holder or parse_ts(row["expires_at"]) <= now:
                acquired = row["acquired_at"] if row is not None and row["holder"] == holder else ts(now)
                c.execute(
                    "INSERT INTO leases (name, holder, acquired_at, expires_at) VALUES (?,?,?,?)"
                    " ON CONFLICT(name) DO UPDATE SET holder = excluded.holder,"
                    " acquired_at = excluded.acquired_at, expires_at = excluded.expires_at",
                    (name, holder, acquired, ts(now + ttl)),
                )
                return LeaseState(name, holder, parse_ts(acquired), now + ttl)  # type: ignore[arg-type]
            return LeaseState(name, row["holder"], parse_ts(row["acquired_at"]),  # type: ignore[arg-type]
                              parse_ts(row["expires_at"]))  # type: ignore[arg-type]

    def release_lease(self, name: str, holder: str) -> bool:
        with self._tx() as c:
            return c.execute("DELETE FROM leases WHERE name = ? AND holder = ?", (name, holder)).rowcount > 0

    def lease(self, name: str) -> LeaseState | None:
        row = self._one("SELECT holder, acquired_at, expires_at FROM leases WHERE name = ?", (name,))
        if row is None:
            return None
        return LeaseState(name, row["holder"], parse_ts(row["acquired_at"]),  # type: ignore[arg-type]
                          parse_ts(row["expires_at"]))  # type: ignore[arg-type]
