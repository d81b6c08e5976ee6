"""The audit log on a search cluster: append-only, one document per event in P-audit (layout in
bodies.AUDIT_MAPPING). A change and its audit event cannot share a transaction here: an area sends
the event in the same bulk request as the change, event first (`_audit_actions`), so no change is
ever left without its record."""
from __future__ import annotations

import json
from typing import Any, Sequence

from core.domain import AuditEvent
from store.codec import dumps, parse_ts, ts
from store.search import bodies
from store.search.client import ClusterWriteError

Action = tuple[dict[str, Any], dict[str, Any] | None]


class AuditMixin:
    INDICES = {"audit": bodies.index_body(bodies.AUDIT_MAPPING)}

    def _audit_actions(self, events: Sequence[AuditEvent]) -> list[Action]:
        """Bulk actions creating `events` (their ids are set); send them with the change they record."""
        ids = self._allocate("audit", len(events))  # type: ignore[attr-defined]
        actions: list[Action] = []
        for event, i in zip(events, ids):
            event.id = i
            actions.append(({"create": {"_index": self.names.of("audit"), "_id": str(i)}}, {  # type: ignore[attr-defined]
                "id": i, "at": ts(event.at), "actor": event.actor, "action": event.action, "target": event.target,
                "detail": dumps(event.detail)}))
        return actions

    def audit(self, event: AuditEvent) -> None:
        items = self._bulk(self._audit_actions([event]), refresh=True)  # type: ignore[attr-defined]
        if any(item.get("status") not in (200, 201) for item in items):
            raise ClusterWriteError(f"审计记录无法写入搜索集群（{items[0].get('error')}），请检查集群后重试")

    def audit_batch(self, events: Sequence[AuditEvent]) -> None:
        if not events:
            return
        items = self._bulk(self._audit_actions(events), refresh=True)  # type: ignore[attr-defined]
        failed = [item for item in items if item.get("status") not in (200, 201)]
        if failed:
            raise ClusterWriteError(f"{len(failed)} 条审计记录无法写入搜索集群（{failed[0].get('error')}），请检查集群后重试")

    def audit_log(self, limit: int = 100, offset: int = 0, actor: str | None = None) -> list[AuditEvent]:
        query: dict[str, Any] = {"term": {"actor": actor}} if actor else {"match_all": {}}
        return self._audit_search({"size": limit, "from": offset, "query": query, "sort": [{"id": "desc"}]})

    def audit_page(self, after_id: int, limit: int) -> list[AuditEvent]:
        return self._audit_search({"size": limit, "query": {"range": {"id": {"gt": after_id}}}, "sort": [{"id": "asc"}]})

    def _audit_search(self, body: dict[str, Any]) -> list[AuditEvent]:
        hits = self.client.search(self.names.of("audit"), body)["hits"]["hits"]  # type: ignore[attr-defined]
        return [AuditEvent(actor=s["actor"], action=s["action"], target=s["target"], detail=json.loads(s["detail"]),
                           at=parse_ts(s["at"]), id=int(s["id"]))  # type: ignore[arg-type]
                for s in (h["_source"] for h in hits)]
