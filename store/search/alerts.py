"""Cases, alerts and the alert outbox (deliveries) on a search cluster: the part of the contract
store/sqlite/review.py (cases, alerts, outbox), posts.py (`_upsert_case`, the alerts of
commit_rule_results, last_alert_at), apitokens.py (alerts_page) and rollups.py (cases_opened) hold.

Layout (P = the index prefix; every time is the `store.codec.ts` text in a keyword field, so ranges
and sorts compare exactly as SQLite compares its TEXT columns, microseconds and all):
- P-cases           one document per case, _id = digest of (kind, key) — the UNIQUE (kind, key) of
                    SQLite — with its store id in `id` (the "cases" sequence) and its assignees
                    (`assignees`: username, assigned_by, assigned_at).
- P-case-posts      one document per (case, post), _id "case_id:post_id", with the post's
                    `created_at` and `channel` (a post's time and channel never change), so the
                    rumour loop and the case timeline read them without touching the posts.
- P-case-responses  one document per answer of a leader, _id = its store id.
- P-alerts          one document per alert, _id = digest of its content (rule, dedupe key, time,
                    posts and the versions the pass saw of them), store id in `id`; `recipients`
                    lists whom its deliveries go to ("" for a group notifier), for the inbox.
- P-deliveries      one document per (alert, notifier, recipient) — SQLite's UNIQUE — _id
                    "alert_id:digest(notifier, recipient)", store id in `id`.
Whoever deletes deliveries or case links (erasure, retention) keeps `recipients` and P-case-posts
in step, as SQLite's foreign keys and joins do.

How each write stays correct without transactions:
- The rules pass (`_commit_alerts`, called by `commit_rule_results` before the rules cursor moves)
  may be repeated after a crash. Cases are upserted by their deterministic _id (read, then create
  or write with if_seq_no, retried on a conflict); case links are created with op_type=create.
  Alerts are looked up by their content _id first (a real-time mget): one already there keeps its
  id. A new alert and its deliveries go in ONE bulk request (the server applies it even if the
  client dies after sending); deliveries already there are kept (op_type=create, as INSERT OR
  IGNORE). So a repeated pass adds no second case, alert or delivery, and an alert is never left
  without its deliveries, even though the repeated pass may now hold it back (last_alert_at).
  Two writers creating the same alert at once: the loser drops the deliveries it made under its
  own (unused) id and writes them under the winner's.
- Every audited change sends its audit event first in the same bulk request as the change (the
  server applies both even if the client dies after sending); a change that loses a race (409) is
  read again and sent again without a second event. Claiming, acknowledging and a case move with
  `expect` are conditional: of two moderators exactly one wins, and the loser's event is taken back.
  A crash in that instant leaves an event for a claim that did not happen; a change is never left
  without its event.
- The outbox: only the worker lease holder delivers (core/lease.py). `delivery_sent`,
  `delivery_failed` and `postpone_delivery` are read-modify-writes with if_seq_no, retried, so a
  dashboard or second instance writing the same delivery loses nothing. A crash between sending and
  `delivery_sent` leaves the delivery pending: it is sent again (at least once), as on SQLite.
- Every write refreshes: the reads that follow (by id, lists, the next rules pass) see it.

Ordering: as SQLite's ORDER BY; where SQLite leaves ties to its plan (cases and cases_assigned
order by updated_at only, and every case of one rules pass shares it), ties go by id, ascending, as
SQLite's table scan returns them.
"""
from __future__ import annotations

import hashlib
import json
from collections import Counter
from datetime import datetime
from typing import Any, Callable, Iterator, Sequence

from core.domain import Alert, AuditEvent, Case, CaseKind, CaseResponse, CaseState, DeliveryState, Level, utcnow
from store.base import CaseLine, Delivery, RuleResults
from store.codec import parse_ts, ts
from store.search import bodies
from store.search.client import ClusterWriteError, Conflict, chunks

Action = tuple[dict[str, Any], dict[str, Any] | None]
CAS_ATTEMPTS = 50
PAGE = 1000  # documents per request when reading "all"
WINDOW = 10_000  # the clusters' max_result_window: from + size beyond it is walked with search_after
DIGEST_PREFIX = "汇总:"  # a batched (digest) delivery's reason starts with it (alerts/routing.py)

_KW = {"type": "keyword"}
_TIME = {"type": "keyword"}  # ts() text: sorts and compares like SQLite's TEXT times
_STORED = {"type": "keyword", "index": False, "doc_values": False}
_TEXT = {"type": "text", "index": False}

CASE_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"}, "kind": _KW, "key": _KW, "title": _TEXT, "status": _KW, "state": _KW,
        "created_at": _TIME, "updated_at": _TIME, "clarified_at": _TIME,
        "assignees": {"properties": {"username": _KW, "assigned_by": _KW, "assigned_at": _TIME}},
    },
}
CASE_POST_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"case_id": {"type": "long"}, "post_id": {"type": "long"}, "created_at": _TIME, "channel": _KW},
}
CASE_RESPONSE_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {"id": {"type": "long"}, "case_id": {"type": "long"}, "username": _KW, "where": _STORED,
                   "text": _TEXT, "url": _STORED, "created_at": _TIME},
}
ALERT_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"}, "rule": _KW, "level": _KW, "title": _TEXT, "body": _TEXT, "dedupe_key": _KW,
        "post_ids": {"type": "long"}, "notifiers": _STORED, "case_id": {"type": "long"}, "created_at": _TIME,
        "acknowledged_by": _KW, "acknowledged_at": _TIME, "kind": _KW, "topics": _KW, "channels": _KW,
        "claimed_by": _KW, "claimed_at": _TIME, "escalated": {"type": "integer"}, "raised_at": _TIME,
        "recipients": _KW,
    },
}
DELIVERY_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"}, "alert_id": {"type": "long"}, "notifier": _KW, "recipient": _KW, "reason": _KW,
        "state": _KW, "attempts": {"type": "integer"}, "next_attempt_at": _TIME, "last_error": _TEXT,
        "sent_at": _TIME,
    },
}


def _digest(*parts: str) -> str:
    """An injective digest of several strings (ids are limited to 512 bytes)."""
    text = "".join(f"{len(p)}:{p}\x00" for p in parts)
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def _delivery_doc_id(alert_id: int, notifier: str, recipient: str) -> str:
    return f"{alert_id}:{_digest(notifier, recipient)}"


def _alert(s: dict[str, Any]) -> Alert:
    return Alert(rule=s["rule"], level=Level(s["level"]), title=s["title"], body=s["body"],
                 dedupe_key=s["dedupe_key"], post_ids=list(s.get("post_ids") or []),
                 notifiers=list(s.get("notifiers") or []), created_at=parse_ts(s["created_at"]),  # type: ignore[arg-type]
                 case_id=s.get("case_id"), acknowledged_by=s.get("acknowledged_by"), id=int(s["id"]),
                 kind=s.get("kind") or "other", topics=list(s.get("topics") or []),
                 channels=list(s.get("channels") or []), claimed_by=s.get("claimed_by"),
                 claimed_at=parse_ts(s.get("claimed_at")), escalated=int(s.get("escalated") or 0),
                 raised_at=parse_ts(s.get("raised_at")), acknowledged_at=parse_ts(s.get("acknowledged_at")))


def _delivery(s: dict[str, Any]) -> Delivery:
    return Delivery(alert_id=int(s["alert_id"]), notifier=s["notifier"], recipient=s["recipient"], reason=s["reason"],
                    state=DeliveryState(s["state"]), attempts=int(s["attempts"]),
                    next_attempt_at=parse_ts(s["next_attempt_at"]), last_error=s.get("last_error") or "",
                    sent_at=parse_ts(s.get("sent_at")), id=int(s["id"]))


def _response(s: dict[str, Any]) -> CaseResponse:
    return CaseResponse(case_id=int(s["case_id"]), username=s["username"], where=s["where"], text=s["text"],
                        url=s.get("url") or "", created_at=parse_ts(s["created_at"]), id=int(s["id"]))  # type: ignore[arg-type]


def _routes(a: Alert) -> list[tuple[str, str, str]]:
    """The alert's deliveries as (notifier, recipient, reason), the first of each (notifier, recipient)."""
    routes = a.routes if a.routes is not None else [(name, "", "") for name in a.notifiers]
    out: dict[tuple[str, str], tuple[str, str, str]] = {}
    for notifier, recipient, reason in routes:
        out.setdefault((notifier, recipient), (notifier, recipient, reason))
    return list(out.values())


def _failed(items: Sequence[dict[str, Any]], ok: tuple[int, ...] = (200, 201)) -> dict[str, Any] | None:
    return next((item for item in items if item.get("status") not in ok), None)


def _why(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        return f"{item.get('status')} {error.get('type')}: {str(error.get('reason'))[:200]}"
    return f"{item.get('status')} {error or ''}"


class AlertsMixin:
    INDICES = {
        "cases": bodies.index_body(CASE_MAPPING),
        "case-posts": bodies.index_body(CASE_POST_MAPPING),
        "case-responses": bodies.index_body(CASE_RESPONSE_MAPPING),
        "alerts": bodies.index_body(ALERT_MAPPING),
        "deliveries": bodies.index_body(DELIVERY_MAPPING),
    }
    # provided by SearchStore
    client: Any
    names: Any
    _allocate: Callable[[str, int], list[int]]
    _bulk: Callable[..., list[dict[str, Any]]]
    _docs_by_ids: Callable[[Sequence[int]], dict[int, dict[str, Any]]]
    _audit_actions: Callable[[Sequence[AuditEvent]], list[Action]]
    audit: Callable[[AuditEvent], None]

    # ------------------------------------------------------------------ reading helpers
    def _ix(self, area: str) -> str:
        return self.names.of(area)

    def _hits(self, area: str, body: dict[str, Any]) -> list[dict[str, Any]]:
        return self.client.search(self._ix(area), body)["hits"]["hits"]

    def _sources(self, area: str, query: dict[str, Any], sort: list[dict[str, Any]], offset: int = 0,
                 limit: int | None = None) -> list[dict[str, Any]]:
        """The matching documents' sources in `sort` order (which ends with a unique field), `offset`
        skipped, at most `limit` (None: all of them, read a page at a time)."""
        out: list[dict[str, Any]] = []
        if limit is not None and offset + limit <= WINDOW:
            if limit <= 0:
                return []
            body = {"size": limit, "from": offset, "query": query, "sort": sort}
            return [h["_source"] for h in self._hits(area, body)]
        skip = offset
        for hit in self._walk(area, query, sort):
            if skip:
                skip -= 1
                continue
            out.append(hit["_source"])
            if limit is not None and len(out) >= limit:
                break
        return out

    def _walk(self, area: str, query: dict[str, Any], sort: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Every matching hit in `sort` order, a page at a time (search_after; never stops at 10,000)."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"size": PAGE, "query": query, "sort": sort}
            if after is not None:
                body["search_after"] = after
            hits = self._hits(area, body)
            yield from hits
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]

    def _by_store_id(self, area: str, store_id: int) -> dict[str, Any] | None:
        """The document with this store id, read in real time (with _seq_no/_primary_term)."""
        hits = self._hits(area, {"size": 1, "query": {"term": {"id": store_id}}, "_source": False})
        if not hits:
            return None
        return self.client.get(self._ix(area), hits[0]["_id"])

    def _change(self, area: str, store_id: int, change: Callable[[dict[str, Any]], dict[str, Any] | None],
                audit: AuditEvent | None = None) -> dict[str, Any] | None:
        """Read-modify-write of one document by store id with if_seq_no, retried on a conflict.
        `change` gets a copy of the source and returns the new one, or None (nothing to do: the
        result is None and nothing is audited). The audit event goes first in the same bulk request
        as the first write, so a change never lands without its event. When that write loses a race
        (409) and the change, read again, has nothing left to do (another moderator claimed first),
        the event is taken back; only a crash in that instant leaves an event for a change that did
        not happen (never the reverse)."""
        index = self._ix(area)
        events: list[Action] = []
        for _ in range(CAS_ATTEMPTS):
            got = self._by_store_id(area, store_id)
            new = change(dict(got["_source"])) if got is not None else None
            if new is None:
                if events:
                    self._bulk([({"delete": {"_index": events[0][0]["create"]["_index"],
                                             "_id": events[0][0]["create"]["_id"]}}, None)], refresh=True)
                return None
            action: Action = ({"index": {"_index": index, "_id": got["_id"], "if_seq_no": got["_seq_no"],  # type: ignore[index]
                                         "if_primary_term": got["_primary_term"]}}, new)  # type: ignore[index]
            first = self._audit_actions([audit]) if audit is not None and not events else []
            items = self._bulk([*first, action], refresh=True)
            bad = _failed(items[:len(first)])
            if bad is not None:
                raise ClusterWriteError(f"审计记录无法写入搜索集群（{_why(bad)}），请检查集群后重试")
            events = events or first
            status = items[-1].get("status")
            if status == 409:
                continue  # changed meanwhile: read again
            if status not in (200, 201):
                raise ClusterWriteError(f"无法写入搜索集群（{_why(items[-1])}），请检查集群后重试")
            return new
        raise ClusterWriteError("并发修改冲突过多，请稍后重试")

    # ------------------------------------------------------------------ the rules pass
    def _commit_alerts(self, results: RuleResults) -> None:
        if not results.alerts and not results.cases:
            return
        now = ts(utcnow())
        case_ids = {(cs.kind.value, cs.key): self._upsert_case(cs, now) for cs in results.cases}
        self._link_posts(results.cases)
        for i, a in enumerate(results.alerts):
            if i in results.alert_case:
                a.case_id = case_ids[results.alert_case[i]]
        if results.alerts:
            self._create_alerts(results, now)

    def _upsert_case(self, cs: Case, now: str) -> int:
        index, doc_id = self._ix("cases"), _digest(cs.kind.value, cs.key)
        for _ in range(CAS_ATTEMPTS):
            got = self.client.get(index, doc_id)
            try:
                if got is None:
                    [case_id] = self._allocate("cases", 1)
                    self.client.put(index, doc_id, {
                        "id": case_id, "kind": cs.kind.value, "key": cs.key, "title": cs.title, "status": cs.status,
                        "created_at": ts(cs.created_at), "updated_at": now, "state": CaseState.SUSPECTED.value,
                        "clarified_at": None, "assignees": []}, create=True, refresh=True)
                else:
                    src = dict(got["_source"])
                    case_id = int(src["id"])
                    if src["kind"] != CaseKind.RUMOUR.value:  # a rumour case keeps the claim as first told
                        src["title"] = cs.title
                    src.update(updated_at=now, status="open")
                    self.client.put(index, doc_id, src, if_seq_no=got["_seq_no"], if_primary_term=got["_primary_term"],
                                    refresh=True)
            except Conflict:
                continue  # created or changed meanwhile: read again
            cs.id = case_id
            return case_id
        raise ClusterWriteError(f"事件（{cs.kind.value}）的并发写入冲突过多，请稍后重试")

    def _link_posts(self, cases: Sequence[Case]) -> None:
        """The cases' posts (each link once); a post gone meanwhile (erased) is not linked."""
        posts = self._docs_by_ids([pid for cs in cases for pid in cs.post_ids])
        actions: list[Action] = []
        for cs in cases:
            for pid in dict.fromkeys(cs.post_ids):
                hit = posts.get(pid)
                if hit is None:
                    continue
                actions.append(({"create": {"_index": self._ix("case-posts"), "_id": f"{cs.id}:{pid}"}},
                                {"case_id": cs.id, "post_id": pid, "created_at": hit["_source"]["created_at"],
                                 "channel": hit["_source"]["channel"]}))
        bad = _failed(self._bulk(actions, refresh=True), (200, 201, 409))
        if bad is not None:
            raise ClusterWriteError(f"事件的帖子无法写入搜索集群（{_why(bad)}），请检查集群后重试")

    def _create_alerts(self, results: RuleResults, now: str) -> None:
        versions = dict(results.seen)
        occurrence: Counter[str] = Counter()
        doc_ids = []
        for a in results.alerts:
            base = _digest(a.rule, a.dedupe_key, ts(a.created_at),
                           json.dumps([[pid, versions.get(pid, 0)] for pid in a.post_ids]))
            doc_ids.append(f"{base}:{occurrence[base]}")  # the n-th alike in one pass is another alert
            occurrence[base] += 1
        todo = list(zip(results.alerts, doc_ids))
        for _ in range(CAS_ATTEMPTS):
            if not todo:
                return
            todo = self._write_alerts(todo, now)
        raise ClusterWriteError("预警的并发写入冲突过多，请稍后重试")

    def _write_alerts(self, todo: list[tuple[Alert, str]], now: str) -> list[tuple[Alert, str]]:
        """Alerts not stored yet, with their deliveries, in one bulk; returns those another writer
        created meanwhile (to be written again under that writer's id)."""
        index, dindex = self._ix("alerts"), self._ix("deliveries")
        found = {d["_id"]: d["_source"] for d in self.client.mget(index, [doc_id for _, doc_id in todo])
                 if d.get("found")}
        new = [a for a, doc_id in todo if doc_id not in found]
        for a, alert_id in zip(new, self._allocate("alerts", len(new))):
            a.id = alert_id
        for a, doc_id in todo:
            if doc_id in found:
                a.id = int(found[doc_id]["id"])  # stored by an earlier try of this pass
        wanted = [(g, route) for g, (a, _) in enumerate(todo) for route in _routes(a)]
        keys = [_delivery_doc_id(todo[g][0].id, n, r) for g, (n, r, _) in wanted]  # type: ignore[arg-type]
        there = {d["_id"] for d in self.client.mget(dindex, keys) if d.get("found")}
        missing = [(g, route, key) for (g, route), key in zip(wanted, keys) if key not in there]
        deliveries: dict[int, list[Action]] = {}
        for (g, (notifier, recipient, reason), key), did in zip(missing, self._allocate("deliveries", len(missing))):
            a = todo[g][0]
            deliveries.setdefault(g, []).append((
                {"create": {"_index": dindex, "_id": key}},
                {"id": did, "alert_id": a.id, "notifier": notifier, "recipient": recipient, "reason": reason,
                 "state": DeliveryState.PENDING.value, "attempts": 0,
                 "next_attempt_at": ts(a.hold_until) if a.hold_until else now, "last_error": "", "sent_at": None}))
        actions: list[Action] = []
        groups: list[tuple[int, bool]] = []  # per action: its alert's place in `todo`, and whether it is the alert
        for g, (a, doc_id) in enumerate(todo):
            if doc_id not in found:
                actions.append(({"create": {"_index": index, "_id": doc_id}}, self._alert_doc(a, now)))
                groups.append((g, True))
            for action in deliveries.get(g, []):
                actions.append(action)
                groups.append((g, False))
        items = self._bulk(actions, refresh=True)
        lost: set[int] = set()
        for (g, is_alert), item in zip(groups, items):
            if is_alert and item.get("status") == 409:
                lost.add(g)  # another writer stored it first
            elif item.get("status") not in (200, 201, 409):
                raise ClusterWriteError(f"预警或其通知无法写入搜索集群（{_why(item)}），请检查集群后重试")
        # deliveries made under an id that lost: remove them (the winner's id gets its own next round)
        strays: list[Action] = [({"delete": {"_index": dindex, "_id": action["create"]["_id"]}}, None)
                                for (action, _), (g, is_alert), item in zip(actions, groups, items)
                                if g in lost and not is_alert and item.get("status") in (200, 201)]
        if strays:
            self._bulk(strays, refresh=True)
        return [todo[g] for g in sorted(lost)]

    @staticmethod
    def _alert_doc(a: Alert, now: str) -> dict[str, Any]:
        return {
            "id": a.id, "rule": a.rule, "level": a.level.value, "title": a.title, "body": a.body,
            "dedupe_key": a.dedupe_key, "post_ids": list(a.post_ids), "notifiers": list(a.notifiers),
            "case_id": a.case_id, "created_at": ts(a.created_at), "acknowledged_by": None, "acknowledged_at": None,
            "kind": a.kind, "topics": list(a.topics), "channels": list(a.channels), "claimed_by": None,
            "claimed_at": None, "escalated": 0, "raised_at": ts(a.raised_at) if a.raised_at else now,
            "recipients": sorted({r for _, r, _ in _routes(a)}),
        }

    def last_alert_at(self, dedupe_key: str) -> datetime | None:
        hits = self._hits("alerts", {"size": 1, "query": {"term": {"dedupe_key": dedupe_key}},
                                     "sort": [{"created_at": "desc"}], "_source": ["created_at"]})
        return parse_ts(hits[0]["_source"]["created_at"]) if hits else None

    def _alert_counts(self) -> dict[str, int]:
        return {"alerts": self.client.count(self._ix("alerts")),
                "outbox_pending": self.client.count(self._ix("deliveries"), {"query": {"bool": {
                    "must_not": [{"term": {"state": DeliveryState.SENT.value}}]}}})}

    # ------------------------------------------------------------------ cases
    def _cases(self, sources: Sequence[dict[str, Any]]) -> list[Case]:
        ids = [int(s["id"]) for s in sources]
        posts: dict[int, list[int]] = {i: [] for i in ids}
        for chunk in chunks(ids, 1000):
            for hit in self._walk("case-posts", {"terms": {"case_id": list(chunk)}},
                                  [{"case_id": "asc"}, {"post_id": "asc"}]):
                posts[int(hit["_source"]["case_id"])].append(int(hit["_source"]["post_id"]))
        return [Case(kind=CaseKind(s["kind"]), key=s["key"], title=s["title"], post_ids=posts[int(s["id"])],
                     status=s["status"], created_at=parse_ts(s["created_at"]),  # type: ignore[arg-type]
                     updated_at=parse_ts(s["updated_at"]), id=int(s["id"]), state=CaseState(s["state"]),  # type: ignore[arg-type]
                     clarified_at=parse_ts(s.get("clarified_at")),
                     assignees=[x["username"] for x in sorted(s.get("assignees") or [],
                                                               key=lambda x: (x["assigned_at"], x["username"]))])
                for s in sources]

    def cases(self, kind: str | None = None, status: str | None = "open", limit: int = 50) -> list[Case]:
        filters = [{"term": {f: v}} for f, v in (("kind", kind), ("status", status)) if v]
        return self._cases(self._sources("cases", {"bool": {"filter": filters}},
                                         [{"updated_at": "desc"}, {"id": "asc"}], limit=limit))

    def get_case(self, case_id: int) -> Case | None:
        hits = self._hits("cases", {"size": 1, "query": {"term": {"id": case_id}}})
        return self._cases([hits[0]["_source"]])[0] if hits else None

    def cases_assigned(self, username: str, open_only: bool = True) -> list[Case]:
        filters: list[dict[str, Any]] = [{"term": {"assignees.username": username}}]
        if open_only:
            filters.append({"term": {"status": "open"}})
        return self._cases(self._sources("cases", {"bool": {"filter": filters}},
                                         [{"updated_at": "desc"}, {"id": "asc"}]))

    def case_alerts(self, case_id: int, limit: int = 50) -> list[Alert]:
        return [_alert(s) for s in self._sources("alerts", {"term": {"case_id": case_id}},
                                                 [{"created_at": "desc"}, {"id": "desc"}], limit=limit)]

    def assign_case(self, case_id: int, usernames: Sequence[str], audit: AuditEvent) -> None:
        def add(src: dict[str, Any]) -> dict[str, Any]:
            have = {x["username"] for x in src.get("assignees") or []}
            src["assignees"] = [*(src.get("assignees") or []), *(
                {"username": u, "assigned_by": audit.actor, "assigned_at": ts(audit.at)}
                for u in dict.fromkeys(usernames) if u not in have)]
            return src

        if self._change("cases", case_id, add, audit) is None:
            raise ValueError(f"没有编号为 {case_id} 的事件")

    def set_case_state(self, case_id: int, state: CaseState, audit: AuditEvent,
                       expect: CaseState | None = None) -> bool:
        closed = state in (CaseState.SUBSIDED, CaseState.FALSE_ALARM)

        def move(src: dict[str, Any]) -> dict[str, Any] | None:
            if expect is not None and src["state"] != expect.value:
                return None
            if state is CaseState.CLARIFIED and not src.get("clarified_at"):
                src["clarified_at"] = ts(audit.at)
            src.update(state=state.value, status="closed" if closed else "open")
            return src

        return self._change("cases", case_id, move, audit) is not None

    def add_case_response(self, response: CaseResponse, audit: AuditEvent) -> CaseResponse:
        [response.id] = self._allocate("case_responses", 1)
        doc = {"id": response.id, "case_id": response.case_id, "username": response.username,
               "where": response.where, "text": response.text, "url": response.url,
               "created_at": ts(response.created_at)}
        items = self._bulk([*self._audit_actions([audit]),
                            ({"create": {"_index": self._ix("case-responses"), "_id": str(response.id)}}, doc)],
                           refresh=True)
        bad = _failed(items)
        if bad is not None:
            raise ClusterWriteError(f"回应无法写入搜索集群（{_why(bad)}），请检查集群后重试")
        return response

    def case_responses(self, case_id: int) -> list[CaseResponse]:
        return [_response(s) for s in self._sources("case-responses", {"term": {"case_id": case_id}},
                                                    [{"created_at": "asc"}, {"id": "asc"}])]

    def case_post_times(self, case_id: int) -> list[datetime]:
        return [parse_ts(h["_source"]["created_at"]) for h in self._walk(  # type: ignore[misc]
            "case-posts", {"term": {"case_id": case_id}}, [{"created_at": "asc"}, {"post_id": "asc"}])]

    def _case_ids_with_posts(self, case_ids: Sequence[int], condition: dict[str, Any]) -> dict[int, int]:
        """case id → its posts matching `condition`, for those of `case_ids` with at least one."""
        if not case_ids:
            return {}
        body = {"size": 0, "query": {"bool": {"filter": [{"terms": {"case_id": list(case_ids)}}, condition]}},
                "aggs": {"cases": {"terms": {"field": "case_id", "size": len(case_ids)}}}}
        buckets = self.client.search(self._ix("case-posts"), body)["aggregations"]["cases"]["buckets"]
        return {int(b["key"]): int(b["doc_count"]) for b in buckets}

    def cases_to_subside(self, quiet_since: datetime, limit: int = 100) -> list[Case]:
        since = ts(quiet_since)
        query = {"bool": {"filter": [{"term": {"state": CaseState.CLARIFIED.value}},
                                     {"range": {"clarified_at": {"lte": since}}}]}}
        chosen: list[dict[str, Any]] = []
        batch: list[dict[str, Any]] = []

        def take() -> None:
            loud = self._case_ids_with_posts([int(s["id"]) for s in batch], {"range": {"created_at": {"gt": since}}})
            chosen.extend(s for s in batch if int(s["id"]) not in loud)
            batch.clear()

        if limit <= 0:
            return []
        for hit in self._walk("cases", query, [{"clarified_at": "asc"}, {"id": "asc"}]):
            batch.append(hit["_source"])
            if len(batch) >= 500:
                take()
                if len(chosen) >= limit:
                    break
        if batch:
            take()
        return self._cases(chosen[:limit])

    def cases_opened(self, since: datetime, until: datetime, channel: str | None = None, limit: int = 50
                     ) -> list[CaseLine]:
        if limit <= 0:
            return []
        query = {"range": {"created_at": {"gte": ts(since), "lt": ts(until)}}}
        sort = [{"created_at": "desc"}, {"id": "desc"}]
        if channel is None:
            chosen = self._sources("cases", query, sort, limit=limit)
        else:
            chosen, batch = [], []
            for hit in self._walk("cases", query, sort):
                batch.append(hit["_source"])
                if len(batch) >= 500:
                    there = self._case_ids_with_posts([int(s["id"]) for s in batch], {"term": {"channel": channel}})
                    chosen += [s for s in batch if int(s["id"]) in there]
                    batch = []
                    if len(chosen) >= limit:
                        break
            if batch:
                there = self._case_ids_with_posts([int(s["id"]) for s in batch], {"term": {"channel": channel}})
                chosen += [s for s in batch if int(s["id"]) in there]
            chosen = chosen[:limit]
        ids = [int(s["id"]) for s in chosen]
        sizes = self._case_ids_with_posts(ids, {"match_all": {}})
        answered: dict[int, str] = {}
        if ids:
            body = {"size": 0, "query": {"terms": {"case_id": ids}}, "aggs": {"cases": {
                "terms": {"field": "case_id", "size": len(ids)},
                "aggs": {"first": {"top_hits": {"size": 1, "sort": [{"created_at": "asc"}],
                                                "_source": ["created_at"]}}}}}}
            for b in self.client.search(self._ix("case-responses"), body)["aggregations"]["cases"]["buckets"]:
                answered[int(b["key"])] = b["first"]["hits"]["hits"][0]["_source"]["created_at"]
        return [CaseLine(int(s["id"]), s["kind"], s["title"], s["state"], s["status"], parse_ts(s["created_at"]),  # type: ignore[arg-type]
                         sizes.get(int(s["id"]), 0), parse_ts(answered.get(int(s["id"]))), parse_ts(s.get("clarified_at")))
                for s in chosen]

    # ------------------------------------------------------------------ alerts
    def alerts(self, limit: int = 50, offset: int = 0, level: str | None = None) -> list[Alert]:
        query = {"term": {"level": level}} if level else {"match_all": {}}
        return [_alert(s) for s in self._sources("alerts", query, [{"created_at": "desc"}, {"id": "desc"}],
                                                 offset=offset, limit=limit)]

    def get_alert(self, alert_id: int) -> Alert | None:
        hits = self._hits("alerts", {"size": 1, "query": {"term": {"id": alert_id}}})
        return _alert(hits[0]["_source"]) if hits else None

    def alerts_notified(self, username: str, open_only: bool = True, limit: int = 50) -> list[Alert]:
        query: dict[str, Any] = {"bool": {"filter": [{"term": {"recipients": username}}]}}
        if open_only:
            query["bool"]["must_not"] = [{"exists": {"field": "acknowledged_by"}}, {"exists": {"field": "claimed_by"}}]
        return [_alert(s) for s in self._sources("alerts", query, [{"created_at": "desc"}, {"id": "desc"}],
                                                 limit=limit)]

    def _take_alert(self, alert_id: int, field: str, audit: AuditEvent) -> bool:
        """The first person to claim (or acknowledge) wins: a write with if_seq_no (its event first)."""
        def take(src: dict[str, Any]) -> dict[str, Any] | None:
            if src.get(f"{field}_by"):
                return None
            src.update({f"{field}_by": audit.actor, f"{field}_at": ts(audit.at)})
            return src

        return self._change("alerts", alert_id, take, audit) is not None

    def claim_alert(self, alert_id: int, audit: AuditEvent) -> bool:
        return self._take_alert(alert_id, "claimed", audit)

    def acknowledge_alert(self, alert_id: int, audit: AuditEvent) -> bool:
        return self._take_alert(alert_id, "acknowledged", audit)

    def alerts_to_escalate(self, levels: Sequence[str], raised_before: datetime, tier: int,
                           limit: int = 100) -> list[Alert]:
        query = {"bool": {
            "filter": [{"terms": {"level": list(levels)}}, {"range": {"escalated": {"lt": tier}}},
                       {"range": {"raised_at": {"lte": ts(raised_before)}}}],
            "must_not": [{"exists": {"field": "acknowledged_by"}}, {"exists": {"field": "claimed_by"}}]}}
        return [_alert(s) for s in self._sources("alerts", query, [{"id": "asc"}], limit=limit)]

    def alerts_page(self, since: datetime, after: tuple[datetime, int] | None, limit: int) -> list[Alert]:
        if limit <= 0:
            return []
        body: dict[str, Any] = {"size": limit, "query": {"range": {"created_at": {"gte": ts(since)}}},
                                "sort": [{"created_at": "asc"}, {"id": "asc"}]}
        if after is not None:
            body["search_after"] = [ts(after[0]), after[1]]
        return [_alert(h["_source"]) for h in self._hits("alerts", body)]

    def add_deliveries(self, alert_id: int, routes: Sequence[tuple[str, str, str]], at: datetime,
                       audit: AuditEvent | None = None, escalated: int | None = None) -> int:
        """The deliveries first (created once each, with the audit event in the same bulk), then the
        alert's escalation tier and recipients: a crash in between leaves the alert unescalated, so
        the next escalation run comes again and finds its deliveries there."""
        alert = self.get_alert(alert_id)
        if alert is None:
            if routes:
                raise ValueError(f"没有编号为 {alert_id} 的预警")
            if audit is not None:
                self.audit(audit)
            return 0
        wanted: dict[tuple[str, str], str] = {}
        for notifier, recipient, reason in routes:
            wanted.setdefault((notifier, recipient), reason)
        dindex = self._ix("deliveries")
        keys = [_delivery_doc_id(alert_id, n, r) for n, r in wanted]
        there = {d["_id"] for d in self.client.mget(dindex, keys) if d.get("found")}
        missing = [(nr, reason) for (nr, reason), key in zip(wanted.items(), keys) if key not in there]
        actions: list[Action] = self._audit_actions([audit]) if audit is not None else []
        events = len(actions)
        for ((notifier, recipient), reason), did in zip(missing, self._allocate("deliveries", len(missing))):
            actions.append(({"create": {"_index": dindex, "_id": _delivery_doc_id(alert_id, notifier, recipient)}},
                            {"id": did, "alert_id": alert_id, "notifier": notifier, "recipient": recipient,
                             "reason": reason, "state": DeliveryState.PENDING.value, "attempts": 0,
                             "next_attempt_at": ts(at), "last_error": "", "sent_at": None}))
        items = self._bulk(actions, refresh=True)
        bad = _failed(items[:events]) or _failed(items[events:], (200, 201, 409))
        if bad is not None:
            raise ClusterWriteError(f"预警的通知无法写入搜索集群（{_why(bad)}），请检查集群后重试")
        new = sum(1 for item in items[events:] if item.get("status") in (200, 201))

        def note(src: dict[str, Any]) -> dict[str, Any] | None:
            recipients = sorted({*(src.get("recipients") or []), *(r for _, r in wanted)})
            tier = max(int(src.get("escalated") or 0), escalated) if escalated is not None else src.get("escalated")
            if recipients == src.get("recipients") and tier == src.get("escalated"):
                return None
            src.update(recipients=recipients, escalated=tier)
            return src

        self._change("alerts", alert_id, note)
        return new

    # ------------------------------------------------------------------ outbox
    def due_deliveries(self, now: datetime, limit: int = 50) -> list[Delivery]:
        query = {"bool": {"filter": [{"range": {"next_attempt_at": {"lte": ts(now)}}}],
                          "must_not": [{"term": {"state": DeliveryState.SENT.value}}]}}
        return [_delivery(s) for s in self._sources("deliveries", query, [{"next_attempt_at": "asc"}, {"id": "asc"}],
                                                    limit=limit)]

    def deliveries(self, alert_id: int) -> list[Delivery]:
        return [_delivery(s) for s in self._sources("deliveries", {"term": {"alert_id": alert_id}}, [{"id": "asc"}])]

    def failing_notifiers(self, min_attempts: int) -> list[tuple[str, int, str]]:
        body = {"size": 0, "query": {"term": {"state": DeliveryState.FAILING.value}}, "aggs": {"notifiers": {
            "terms": {"field": "notifier", "size": 10_000, "order": {"_key": "asc"}},
            "aggs": {"waiting": {"filter": {"range": {"attempts": {"gte": min_attempts}}}},
                     "latest": {"top_hits": {"size": 1, "sort": [{"next_attempt_at": "desc"}, {"id": "desc"}],
                                             "_source": ["last_error"]}}}}}}
        buckets = self.client.search(self._ix("deliveries"), body)["aggregations"]["notifiers"]["buckets"]
        return [(b["key"], int(b["waiting"]["doc_count"]),
                 b["latest"]["hits"]["hits"][0]["_source"].get("last_error") or "")
                for b in buckets if b["waiting"]["doc_count"] > 0]

    def _update_delivery(self, delivery_id: int, **fields: Any) -> None:
        count = fields.pop("count_attempt", False)

        def update(src: dict[str, Any]) -> dict[str, Any]:
            if count:
                src["attempts"] = int(src["attempts"]) + 1
            src.update(fields)
            return src

        self._change("deliveries", delivery_id, update)

    def delivery_sent(self, delivery_id: int, at: datetime, note: str = "") -> None:
        self._update_delivery(delivery_id, count_attempt=True, state=DeliveryState.SENT.value, sent_at=ts(at),
                              last_error=note[:2000])

    def delivery_failed(self, delivery_id: int, error: str, next_attempt_at: datetime) -> None:
        self._update_delivery(delivery_id, count_attempt=True, state=DeliveryState.FAILING.value,
                              last_error=error[:2000], next_attempt_at=ts(next_attempt_at))

    def postpone_delivery(self, delivery_id: int, until: datetime) -> None:
        self._update_delivery(delivery_id, next_attempt_at=ts(until))

    def _digests(self, notifier: str, recipient: str) -> list[dict[str, Any]]:
        return [{"term": {"notifier": notifier}}, {"term": {"recipient": recipient}},
                {"prefix": {"reason": DIGEST_PREFIX}}]

    def digest_deliveries(self, notifier: str, recipient: str) -> list[Delivery]:
        query = {"bool": {"filter": self._digests(notifier, recipient),
                          "must_not": [{"term": {"state": DeliveryState.SENT.value}}]}}
        return [_delivery(s) for s in self._sources("deliveries", query, [{"alert_id": "asc"}, {"id": "asc"}])]

    def last_digest_at(self, notifier: str, recipient: str) -> datetime | None:
        query = {"bool": {"filter": [*self._digests(notifier, recipient), {"term": {"state": DeliveryState.SENT.value}},
                                     {"exists": {"field": "sent_at"}}]}}
        hits = self._hits("deliveries", {"size": 1, "query": query, "sort": [{"sent_at": "desc"}],
                                         "_source": ["sent_at"]})
        return parse_ts(hits[0]["_source"]["sent_at"]) if hits else None

    # ------------------------------------------------------------------ erasure (store/search/privacy.py)
    def _scrub_erased(self, post_ids: Sequence[int], sources: Sequence[str], result: Any) -> None:
        """Before erased posts are deleted: alert titles and bodies lose the erased quotations and their
        post lists the erased posts; an alert left with no post is not sent any more (its unsent
        deliveries go, its recipients follow what is left); the cases the posts belonged to lose the
        quotations in their titles and answers. Counts go to `result.rows`, as SQLite's."""
        from core.privacy import strip_quotes

        gone = set(post_ids)
        for hit in self._scan_hits(self.names.of("alerts"), {"terms": {"post_ids": list(gone)}}):  # type: ignore[attr-defined]
            src = hit["_source"]
            left = [i for i in src.get("post_ids") or [] if i not in gone]
            changed = {**src, "title": strip_quotes(src.get("title") or "", sources),
                       "body": strip_quotes(src.get("body") or "", sources), "post_ids": left}
            if not left:
                unsent = {"bool": {"filter": [{"term": {"alert_id": int(src["id"])}}],
                                   "must_not": [{"term": {"state": DeliveryState.SENT.value}}]}}
                n = self._delete_where(self.names.of("deliveries"), unsent)  # type: ignore[attr-defined]
                if n:
                    result.rows["deliveries"] = result.rows.get("deliveries", 0) + n
                kept = self._sources("deliveries", {"term": {"alert_id": int(src["id"])}}, [{"id": "asc"}])
                changed["recipients"] = sorted({d.get("recipient") or "" for d in kept})
            self.client.put(hit["_index"], hit["_id"], changed, refresh=True)  # type: ignore[attr-defined]
            result.rows["alerts"] = result.rows.get("alerts", 0) + 1
        links = self._scan_hits(self.names.of("case-posts"), {"terms": {"post_id": list(gone)}}, source=["case_id"],  # type: ignore[attr-defined]
                           sort=({"_doc": "asc"},))
        for case_id in sorted({int(h["_source"]["case_id"]) for h in links}):
            for hit in self._scan_hits(self.names.of("cases"), {"term": {"id": case_id}}):  # type: ignore[attr-defined]
                self.client.put(hit["_index"], hit["_id"], {  # type: ignore[attr-defined]
                    **hit["_source"], "title": strip_quotes(hit["_source"].get("title") or "", sources)}, refresh=True)
            for hit in self._scan_hits(self.names.of("case-responses"), {"term": {"case_id": case_id}}):  # type: ignore[attr-defined]
                self.client.put(hit["_index"], hit["_id"], {  # type: ignore[attr-defined]
                    **hit["_source"], "text": strip_quotes(hit["_source"].get("text") or "", sources)}, refresh=True)
            result.rows["cases"] = result.rows.get("cases", 0) + 1

    # ------------------------------------------------------------------ for the stats area's reports
    def _alerts_by_level(self, since: datetime | None, until: datetime | None) -> dict[str, int]:
        bounds = {k: ts(v) for k, v in (("gte", since), ("lt", until)) if v is not None}
        query: dict[str, Any] = {"range": {"created_at": bounds}} if bounds else {"match_all": {}}
        agg = self.client.search(self._ix("alerts"), {  # type: ignore[attr-defined]
            "size": 0, "query": query, "aggs": {"l": {"terms": {"field": "level", "size": 50}}}})
        return {b["key"]: int(b["doc_count"]) for b in agg["aggregations"]["l"]["buckets"]}

    def _rumour_case_ids(self, since: datetime, until: datetime, limit: int) -> list[int]:
        query = {"bool": {"filter": [{"term": {"kind": CaseKind.RUMOUR.value}},
                                     {"range": {"updated_at": {"gte": ts(since)}}},
                                     {"range": {"created_at": {"lt": ts(until)}}}]}}
        return [int(s["id"]) for s in self._sources("cases", query, [{"updated_at": "desc"}, {"id": "asc"}], limit=limit)]

    def _deliveries_by_state(self) -> dict[tuple[str, str], int]:
        body: dict[str, Any] = {"size": 0, "aggs": {"g": {"composite": {"size": 1000, "sources": [
            {"n": {"terms": {"field": "notifier"}}}, {"s": {"terms": {"field": "state"}}}]}}}}
        out: dict[tuple[str, str], int] = {}
        while True:
            agg = self.client.search(self._ix("deliveries"), body)["aggregations"]["g"]  # type: ignore[attr-defined]
            for b in agg["buckets"]:
                out[(b["key"]["n"], b["key"]["s"])] = int(b["doc_count"])
            if not agg["buckets"] or not agg.get("after_key"):
                return out
            body["aggs"]["g"]["composite"]["after"] = agg["after_key"]
