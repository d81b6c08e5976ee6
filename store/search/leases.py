"""Leases between service instances on a search cluster (see core/lease.py): one document per lease
in the meta index, taken and renewed with optimistic concurrency (`if_seq_no`/`if_primary_term`, or
`op_type=create` for the first holder), so of two instances racing for it exactly one write lands."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from store.base import LeaseState
from store.codec import parse_ts, ts
from store.search.client import ClusterWriteError, Conflict

EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
LEASE_ATTEMPTS = 20


def _state(name: str, src: dict[str, Any]) -> LeaseState | None:
    if not src.get("value"):
        return None  # given back
    return LeaseState(name, src["value"], parse_ts(src["acquired_at"]), parse_ts(src["expires_at"]))  # type: ignore[arg-type]


class LeasesMixin:
    def take_lease(self, name: str, holder: str, now: datetime, ttl: timedelta) -> LeaseState:
        doc_id = f"lease:{name}"
        for _ in range(LEASE_ATTEMPTS):
            got = self.client.get(self.names.meta, doc_id)  # a GET is real-time: no refresh needed
            current = _state(name, got["_source"]) if got else None
            if current is not None and current.holder != holder and now < current.expires_at:
                return current  # someone else's, still valid
            acquired = current.acquired_at if current is not None and current.holder == holder else now
            doc = {"value": holder, "acquired_at": ts(acquired), "expires_at": ts(now + ttl), "updated_at": ts(now)}
            try:
                if got is None:
                    self.client.put(self.names.meta, doc_id, doc, create=True)
                else:
                    self.client.put(self.names.meta, doc_id, doc, if_seq_no=got["_seq_no"],
                                    if_primary_term=got["_primary_term"])
            except Conflict:
                continue  # another instance wrote first: look again
            return LeaseState(name, holder, acquired, now + ttl)
        raise ClusterWriteError(f"租约 {name} 的并发写入冲突过多，请稍后重试")

    def release_lease(self, name: str, holder: str) -> bool:
        doc_id = f"lease:{name}"
        for _ in range(LEASE_ATTEMPTS):
            got = self.client.get(self.names.meta, doc_id)
            current = _state(name, got["_source"]) if got else None
            if current is None or current.holder != holder:
                return False
            doc = {"value": "", "acquired_at": ts(EPOCH), "expires_at": ts(EPOCH), "updated_at": ts(datetime.now(timezone.utc))}
            try:
                self.client.put(self.names.meta, doc_id, doc, if_seq_no=got["_seq_no"], if_primary_term=got["_primary_term"])
            except Conflict:
                continue
            return True
        return False

    def lease(self, name: str) -> LeaseState | None:
        got = self.client.get(self.names.meta, f"lease:{name}")
        return _state(name, got["_source"]) if got else None
