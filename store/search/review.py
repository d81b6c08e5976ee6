"""Moderation on a search cluster: the rules cursor, flags, decisions, the review queue, removal
requests and platform write-backs (the SQLite reference: store/sqlite/posts.py, review.py,
apitokens.py, rollups.py and channels.py).

Layout (P = the index prefix):
- P-flags, P-decisions   the shared layouts of bodies.py: one document per flag (document id = its
                         store id) and per decision. Both carry the post's `channel`, so the
                         dashboard's per-channel reads filter in the cluster.
- P-review               one document per post that has flags or a decision, document id = post id:
                         the post's flags with their statuses (the truth about them; P-flags is its
                         projection), its latest decision, and what the queue reads are asked by:
                         `statuses`, `rules_<status>`, and `heads` (nested: the latest flag time per
                         status and per status and rule — the order of the queue).
- P-removal-requests     the first step of a two-person removal, one document per post.
- P-writebacks           the platform outbox, one document per write-back (document id = its id).

How it stays correct without transactions:
- Every change to a post's flags goes through its P-review document, written with
  if_seq_no/if_primary_term (or op_type=create) and retried on a conflict: of two moderators deciding
  the same post at once, or a moderator and the rules pass, each change lands on top of the other
  (both decisions are recorded and the flags end in the status of the one applied last, as SQLite's
  serialised transactions give); none is lost. Each write bumps the document's `rev`.
- P-flags documents are then written with `version_type=external`, `version=rev`: a projection of an
  older state arriving late is refused by the cluster, so the flag documents end as the newest state.
  A process killed between the two leaves them behind until that post changes again (or the same
  rules results are committed again): the queue reads P-review, never P-flags.
- Flags are keyed in P-review by (rule, time of the match, occurrence in the results), and a rule's
  removal is a decision with a deterministic document id: the same RuleResults committed again after
  a crash adds no flag, decision or audit event. (So a flag of the same post by the same rule at the
  same match time in a later commit is taken for that repeat; SQLite would store it twice. The rules
  only make one by evaluating the same match again.)
- A decision, its audit event and its write-backs go in one bulk request (event first) before the
  flags change: a decide cut short after it leaves the decision recorded and the flags as they were;
  the moderator sees an error and decides again (two decisions, as two clicks would record).
- The rules cursor: each post's `ruled_version` moves forward only (read-modify-write with
  if_seq_no), and `needs_rules` (analysed version ahead of the ruled one) is kept next to it, since
  the cluster cannot compare two fields in a query cheaply.

Differences from SQLite that cannot be helped: the shared layouts keep `created_at` of flags and
decisions as `date` (milliseconds), so the decisions feed orders two decisions of the same
millisecond by id, and periods are cut at the millisecond. Reading "every" row (recent_analyzed,
decisions, flag_times, moderation_times) pages with search_after or a composite aggregation.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Any, Callable, Iterator, Sequence

from core.domain import (AUTO_MODERATOR_PREFIX, Action, Analysis, AuditEvent, Decision, Flag, FlagStatus, Post,
                         ReasonCode, WriteBack, WriteBackState, utcnow)
from store.base import AuthorHistory, QueueItem, RuleResults
from store.codec import dumps, parse_ts, ts
from store.search import bodies
from store.search.client import ClusterWriteError, chunks

Action_ = tuple[dict[str, Any], dict[str, Any] | None]
CAS_ATTEMPTS = 50
PAGE = 2000  # documents per page when reading "all" of something
EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)
STATUSES = [s.value for s in FlagStatus]

REVIEW_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "post_id": {"type": "long"},
        "channel": {"type": "keyword"},
        "author": {"type": "keyword"},
        "rev": {"type": "long"},
        "statuses": {"type": "keyword"},  # the statuses the post's flags are in
        "rules": {"type": "keyword"},  # every rule that flagged it
        "rules_done": {"type": "keyword"},  # the rules of its flags not pending
        **{f"rules_{s}": {"type": "keyword"} for s in STATUSES},
        "heads": {"type": "nested", "properties": {  # latest flag per "status" and "status:rule"
            "key": {"type": "keyword"}, "at": {"type": "date_nanos"}}},
        "first_flag_at": {"type": "date_nanos"},
        "person_decided": {"type": "boolean"},  # a person (not "auto:<rule>") decided on it once
        "flags": {"type": "object", "enabled": False},  # [{key, id, rule, reason, status, created_at}]
        "decision": {"type": "object", "enabled": False},  # the decision applied last
        "applied": {"type": "object", "enabled": False},  # document ids of the rules' removals applied
        "updated_at": {"type": "date"},
    },
}

REMOVAL_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "post_id": {"type": "long"},
        "channel": {"type": "keyword"},
        "author": {"type": "keyword"},
        "requested_by": {"type": "keyword"},
        "reason_code": {"type": "keyword"},
        "note": {"type": "text", "index": False},
        "requested_at": {"type": "date"},
    },
}

WRITEBACK_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "id": {"type": "long"},
        "post_id": {"type": "long"},
        "channel": {"type": "keyword"},
        "author": {"type": "keyword"},
        "collector": {"type": "keyword"},
        "action": {"type": "keyword"},
        "requested_by": {"type": "keyword"},
        "payload": {"type": "keyword", "index": False, "doc_values": False},  # JSON text
        "state": {"type": "keyword"},
        "attempts": {"type": "integer"},
        "next_attempt_at": {"type": "date"},
        "last_error": {"type": "text", "index": False},
        "result": {"type": "text", "index": False},
        "created_at": {"type": "date"},
        "done_at": {"type": "date"},
    },
}


def _ms(at: datetime) -> int:
    """A time as the epoch milliseconds a `date` field sorts by (the search_after value)."""
    return (at - EPOCH) // timedelta(milliseconds=1)


def _ns(at: datetime) -> int:
    """A time as the epoch nanoseconds a `date_nanos` field sorts by."""
    return (at - EPOCH) // timedelta(microseconds=1) * 1000


def _status_of(flags: list[dict[str, Any]]) -> FlagStatus | None:
    """The post's status as SQLite's queue_items gives it: pending while any flag is, else the
    status of its latest flag."""
    if not flags:
        return None
    if any(f["status"] == "pending" for f in flags):
        return FlagStatus.PENDING
    return FlagStatus(max(flags, key=lambda f: f["id"])["status"])


def _derive(doc: dict[str, Any]) -> dict[str, Any]:
    """Fill the queried fields of a P-review document from its flags."""
    flags = sorted(doc.get("flags") or [], key=lambda f: f["id"])
    doc["flags"] = flags
    doc["statuses"] = sorted({f["status"] for f in flags})
    doc["rules"] = sorted({f["rule"] for f in flags})
    doc["rules_done"] = sorted({f["rule"] for f in flags if f["status"] != "pending"})
    for s in STATUSES:
        doc[f"rules_{s}"] = sorted({f["rule"] for f in flags if f["status"] == s})
    heads: dict[str, str] = {}
    for f in flags:
        for key in (f["status"], f"{f['status']}:{f['rule']}"):
            if key not in heads or f["created_at"] > heads[key]:
                heads[key] = f["created_at"]
    doc["heads"] = [{"key": k, "at": at} for k, at in sorted(heads.items())]
    doc["first_flag_at"] = min((f["created_at"] for f in flags), default=None)
    doc["updated_at"] = ts(utcnow())
    return doc


def _flag(f: dict[str, Any], post_id: int) -> Flag:
    return Flag(post_id=post_id, rule=f["rule"], reason=f["reason"], created_at=parse_ts(f["created_at"]),  # type: ignore[arg-type]
                id=int(f["id"]))


def _decision_doc(d: Decision, channel: str) -> dict[str, Any]:
    return {"id": d.id, "post_id": d.post_id, "moderator": d.moderator, "action": d.action.value,
            "reason_code": d.reason_code.value, "note": d.note, "created_at": ts(d.created_at), "channel": channel}


def _decision(s: dict[str, Any]) -> Decision:
    return Decision(post_id=int(s["post_id"]), moderator=s["moderator"], action=Action(s["action"]),
                    reason_code=ReasonCode(s["reason_code"]), note=s.get("note") or "",
                    created_at=parse_ts(s["created_at"]), id=int(s["id"]))  # type: ignore[arg-type]


def _writeback(s: dict[str, Any]) -> WriteBack:
    return WriteBack(post_id=int(s["post_id"]), collector=s["collector"], action=s["action"],
                     requested_by=s["requested_by"], payload=json.loads(s.get("payload") or "{}"),
                     state=WriteBackState(s["state"]), attempts=int(s["attempts"]),
                     next_attempt_at=parse_ts(s.get("next_attempt_at")), last_error=s.get("last_error") or "",
                     result=s.get("result") or "", created_at=parse_ts(s["created_at"]),  # type: ignore[arg-type]
                     done_at=parse_ts(s.get("done_at")), id=int(s["id"]))


def _failed(items: list[dict[str, Any]], ok: tuple[int, ...] = (200, 201)) -> list[dict[str, Any]]:
    return [item for item in items if item.get("status") not in ok]


def _why(item: dict[str, Any]) -> str:
    error = item.get("error")
    if isinstance(error, dict):
        return f"{item.get('status')} {error.get('type')}: {str(error.get('reason'))[:200]}"
    return f"{item.get('status')} {str(error or '')[:200]}"


class ReviewMixin:
    INDICES = {
        "review": bodies.index_body(REVIEW_MAPPING, shards=2),
        "removal-requests": bodies.index_body(REMOVAL_MAPPING),
        "writebacks": bodies.index_body(WRITEBACK_MAPPING),
    }

    # provided by SearchStore
    client: Any
    names: Any
    backend: str
    _allocate: Any
    _bulk: Any
    _docs_by_ids: Any
    _audit_actions: Any

    # ------------------------------------------------------------------ helpers
    def _idx(self, name: str) -> str:
        return self.names.of(name)  # type: ignore[no-any-return]

    def _send(self, actions: list[Action_], what: str, ok: tuple[int, ...] = (200, 201)) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = self._bulk(actions, refresh=True)
        failed = _failed(items, ok)
        if failed:
            raise ClusterWriteError(f"{what}无法写入搜索集群（{_why(failed[0])}），请检查集群后重试")
        return items

    def _review_docs(self, post_ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        """P-review documents by post id, read in real time (with _seq_no and _primary_term)."""
        out: dict[int, dict[str, Any]] = {}
        for chunk in chunks([str(i) for i in dict.fromkeys(post_ids)], 1000):
            for d in self.client.mget(self._idx("review"), chunk):
                if d.get("found"):
                    out[int(d["_id"])] = d
        return out

    def _change_reviews(self, changes: dict[int, Callable[[dict[str, Any] | None], dict[str, Any] | None]]
                        ) -> dict[int, dict[str, Any]]:
        """Apply each post's change to its P-review document (None from a change: nothing to do),
        with optimistic concurrency, and project its flags to P-flags. Returns the documents now."""
        todo = dict(changes)
        final: dict[int, dict[str, Any]] = {}
        for _ in range(CAS_ATTEMPTS):
            if not todo:
                break
            current = self._review_docs(list(todo))
            actions: list[Action_] = []
            sent: list[int] = []
            for pid, change in todo.items():
                hit = current.get(pid)
                src = json.loads(json.dumps(hit["_source"])) if hit else None
                new = change(src)
                if new is None:
                    if src is not None:
                        final[pid] = src
                    continue
                new["rev"] = int((src or {}).get("rev") or 0) + 1
                _derive(new)
                meta: dict[str, Any] = {"_index": self._idx("review"), "_id": str(pid)}
                if hit is None:
                    actions.append(({"create": meta}, new))
                else:
                    actions.append(({"index": {**meta, "if_seq_no": hit["_seq_no"],
                                               "if_primary_term": hit["_primary_term"]}}, new))
                sent.append(pid)
                final[pid] = new
            again = {}
            for pid, item in zip(sent, self._bulk(actions, refresh=True)):
                if item.get("status") == 409:
                    again[pid] = todo[pid]  # another writer changed the post meanwhile: on top of theirs
                    final.pop(pid, None)
                elif item.get("status") not in (200, 201):
                    raise ClusterWriteError(f"帖子 #{pid} 的审核状态无法写入搜索集群（{_why(item)}），请检查集群后重试")
            todo = again
        if todo:
            raise ClusterWriteError("同一帖子的审核操作并发冲突过多，请稍后重试")
        self._project_flags(final.values())
        return final

    def _project_flags(self, docs: Any) -> None:
        """Write the flags of P-review documents to P-flags, versioned by the document's rev: an
        older state arriving after a newer one is refused by the cluster (409, ignored)."""
        actions: list[Action_] = []
        for doc in docs:
            for f in doc.get("flags") or []:
                actions.append(({"index": {"_index": self._idx("flags"), "_id": str(f["id"]),
                                           "version": int(doc["rev"]), "version_type": "external"}},
                                {"id": f["id"], "post_id": doc["post_id"], "rule": f["rule"], "reason": f["reason"],
                                 "status": f["status"], "created_at": f["created_at"], "channel": doc["channel"]}))
        for batch in chunks(actions, 2000):
            self._send(list(batch), "标记", ok=(200, 201, 409))

    def _post_meta(self, post_ids: Sequence[int]) -> dict[int, tuple[str, str]]:
        """(channel, author) of the posts that exist."""
        return {pid: (h["_source"]["channel"], h["_source"]["author"]) for pid, h in self._docs_by_ids(post_ids).items()}

    def _scan(self, index: str, body: dict[str, Any], sort: list[Any]) -> Iterator[dict[str, Any]]:
        """Every hit of a query, page by page (search_after on `sort`, which ends in a unique field)."""
        after: list[Any] | None = None
        while True:
            page = {**body, "size": PAGE, "sort": sort, **({"search_after": after} if after is not None else {})}
            hits = self.client.search(index, page)["hits"]["hits"]
            yield from hits
            if len(hits) < PAGE:
                return
            after = hits[-1]["sort"]

    # ------------------------------------------------------------------ the rules pass (hooks of store.py)
    def _commit_flags(self, results: RuleResults) -> None:
        if not results.flags and not results.removals:
            return
        ids = [f.post_id for f in results.flags] + [r[0] for r in results.removals]
        meta = self._post_meta(ids)
        missing = sorted(set(ids) - set(meta))
        if missing:
            raise ValueError(f"规则结果引用了不存在的帖子 #{missing[0]}：这一批不保存，规则游标不动")
        # each flag's key: rule, time of the match and occurrence (a repeated commit makes the same keys)
        keyed: dict[int, list[tuple[str, Flag]]] = {}
        seen: dict[tuple[int, str], int] = {}
        for f in results.flags:
            base = f"{f.rule}\x1f{ts(f.created_at)}"
            n = seen.get((f.post_id, base), 0)
            seen[(f.post_id, base)] = n + 1
            keyed.setdefault(f.post_id, []).append((f"{base}\x1f{n}", f))
        current = {pid: h["_source"] for pid, h in self._review_docs(list(meta)).items()}
        known = {pid: {x["key"]: x for x in doc.get("flags") or []} for pid, doc in current.items()}
        fresh = [(pid, key, f) for pid, flags in keyed.items() for key, f in flags if key not in known.get(pid, {})]
        new_ids = dict(zip([(pid, key) for pid, key, _ in fresh], self._allocate("flags", len(fresh))))
        removal = self._auto_decisions(results.removals, current, meta)

        def change(pid: int) -> Callable[[dict[str, Any] | None], dict[str, Any] | None]:
            def apply(doc: dict[str, Any] | None) -> dict[str, Any] | None:
                changed = doc is None
                doc = doc or {"post_id": pid, "channel": meta[pid][0], "author": meta[pid][1], "flags": [],
                              "person_decided": False, "applied": [], "decision": None}
                have = {x["key"] for x in doc["flags"]}
                for key, f in keyed.get(pid, []):
                    if key in have:
                        continue
                    fid = new_ids.get((pid, key))
                    if fid is None:  # added by a concurrent commit of the same results: take its id
                        continue
                    doc["flags"].append({"key": key, "id": fid, "rule": f.rule, "reason": f.reason,
                                         "status": "pending", "created_at": ts(f.created_at)})
                    have.add(key)
                    changed = True
                auto = removal.get(pid)
                if auto is not None and not doc.get("person_decided") and auto[0] not in (doc.get("applied") or []):
                    for x in doc["flags"]:
                        x["status"] = FlagStatus.REMOVED.value
                    doc["decision"] = auto[1]
                    doc["applied"] = [*(doc.get("applied") or []), auto[0]]
                    changed = True
                return doc if changed else None
            return apply

        # a post whose document is already as wanted (the same results again) has its flags projected again
        docs = self._change_reviews({pid: change(pid) for pid in dict.fromkeys([*keyed, *removal])})
        for pid, flags in keyed.items():
            by_key = {x["key"]: x["id"] for x in (docs.get(pid) or {}).get("flags") or []}
            for key, f in flags:
                f.id = by_key.get(key)

    def _auto_decisions(self, removals: Sequence[tuple[int, str, ReasonCode, datetime]],
                        current: dict[int, dict[str, Any]], meta: dict[int, tuple[str, str]]
                        ) -> dict[int, tuple[str, dict[str, Any]]]:
        """The rules' removals (the first per post, none where a person has decided): their decision
        documents and audit events, written once (deterministic ids); post id → (doc id, decision)."""
        wanted: dict[int, tuple[str, Decision]] = {}
        for post_id, rule, code, at in removals:
            if post_id in wanted or (current.get(post_id) or {}).get("person_decided"):
                continue
            wanted[post_id] = (f"auto:{post_id}:{rule}:{ts(at)}",
                               Decision(post_id, AUTO_MODERATOR_PREFIX + rule, Action.REMOVE, code, "", at))
        if not wanted:
            return {}
        doc_ids = [doc_id for doc_id, _ in wanted.values()]
        stored = {d["_id"]: d["_source"] for d in self.client.mget(self._idx("decisions"), doc_ids) if d.get("found")}
        todo = [(pid, doc_id, d) for pid, (doc_id, d) in wanted.items() if doc_id not in stored]
        if todo:
            events = [AuditEvent("system", "decision.auto_remove", f"post:{pid}",
                                 {"rule": d.auto_rule, "reason_code": d.reason_code.value}) for pid, _, d in todo]
            audit = self._audit_actions(events)
            actions: list[Action_] = []
            for (pid, doc_id, d), event, i in zip(todo, audit, self._allocate("decisions", len(todo))):
                d.id = i
                actions += [event, ({"create": {"_index": self._idx("decisions"), "_id": doc_id}},
                                    _decision_doc(d, meta[pid][0]))]
            self._send(actions, "自动删除的处理记录", ok=(200, 201, 409))
            stored = {d["_id"]: d["_source"] for d in self.client.mget(self._idx("decisions"), doc_ids)
                      if d.get("found")}
        return {pid: (doc_id, stored[doc_id]) for pid, (doc_id, _) in wanted.items() if doc_id in stored}

    def _mark_ruled(self, seen: Sequence[tuple[int, int]]) -> None:
        todo: dict[int, int] = {}
        for pid, version in seen:
            todo[pid] = max(version, todo.get(pid, 0))
        for _ in range(CAS_ATTEMPTS):
            if not todo:
                return
            current = self._docs_by_ids(list(todo))
            actions: list[Action_] = []
            sent = []
            for pid, version in todo.items():
                hit = current.get(pid)
                if hit is None or int(hit["_source"].get("ruled_version") or 0) >= version:
                    continue  # gone (erased), or the cursor is already there: it only moves forward
                src = dict(hit["_source"])
                src["ruled_version"] = version
                src["needs_rules"] = int(src.get("analyzed_version") or 0) > version
                actions.append(({"index": {"_index": hit["_index"], "_id": hit["_id"], "if_seq_no": hit["_seq_no"],
                                           "if_primary_term": hit["_primary_term"]}}, src))
                sent.append(pid)
            again = {}
            for pid, item in zip(sent, self._bulk(actions, refresh=True)):
                if item.get("status") == 409:
                    again[pid] = todo[pid]  # edited or analysed meanwhile: read again
                elif item.get("status") not in (200, 201):
                    raise ClusterWriteError(f"规则游标无法写入搜索集群（帖子 #{pid}：{_why(item)}），请检查集群后重试")
            todo = again
        raise ClusterWriteError("移动规则游标时并发冲突过多，请稍后重试")

    def _review_counts(self) -> dict[str, int]:
        return {"flagged": self.client.count(self._idx("review"), {"query": {"exists": {"field": "statuses"}}}),
                "pending": self.client.count(self._idx("review"), {"query": {"term": {"statuses": "pending"}}})}

    # ------------------------------------------------------------------ the rules' reads
    def posts_for_rules(self, limit: int, skip_after: int | None = None) -> list[tuple[Post, Analysis]]:
        from store.search.store import _analysis, _post

        must_not: list[dict[str, Any]] = []
        if skip_after is not None:
            hits = self.client.search(self.names.quarantine, bodies.quarantined_at_least("rules", skip_after))
            must_not = [{"bool": {"filter": [{"term": {"id": int(h["_source"]["post_id"])}},
                                             {"term": {"version": int(h["_source"]["version"])}}]}}
                        for h in hits["hits"]["hits"]]
        body = {"size": limit, "query": {"bool": {"filter": [{"term": {"needs_rules": True}}], "must_not": must_not}},
                "sort": [{"created_at": "asc"}, {"id": "asc"}]}
        out = []
        for h in self.client.search(self.names.posts, body)["hits"]["hits"]:
            try:
                out.append((_post(h["_source"]), _analysis(h["_source"])))
            except Exception as exc:  # a document that cannot be read back must not block the rules
                error = f"数据库中的记录无法读取（{type(exc).__name__}：{str(exc)[:200]}）"
                if skip_after is not None:
                    self.quarantine_failure("rules", int(h["_id"]), int(h["_source"].get("version") or 0),  # type: ignore[attr-defined]
                                            error, utcnow())
        return out

    def recent_analyzed(self, since: datetime, until: datetime | None = None, ruled_only: bool = False
                        ) -> list[tuple[Post, Analysis]]:
        from store.search.store import _analysis, _post

        window: dict[str, Any] = {"gte": ts(since)}
        if until is not None:
            window["lt"] = ts(until)
        query: dict[str, Any] = {"bool": {"filter": [{"range": {"created_at": window}},
                                                     {"range": {"analyzed_version": {"gt": 0}}}]}}
        if ruled_only:
            query["bool"]["must_not"] = [{"term": {"needs_rules": True}}]
        hits = self._scan(self.names.posts, {"query": query}, [{"created_at": "asc"}, {"id": "asc"}])
        return [(_post(h["_source"]), _analysis(h["_source"])) for h in hits]

    # ------------------------------------------------------------------ an author's history
    def author_posts(self, channel: str, author: str, before_id: int | None = None, limit: int = 20) -> list[Post]:
        from store.search.store import _post

        filters: list[dict[str, Any]] = [{"term": {"channel": channel}}, {"term": {"author": author}}]
        if before_id is not None:
            filters.append({"range": {"id": {"lt": before_id}}})
        body = {"size": limit, "query": {"bool": {"filter": filters}}, "sort": [{"id": "desc"}]}
        return [_post(h["_source"]) for h in self.client.search(self.names.posts, body)["hits"]["hits"]]

    def author_history(self, channel: str, author: str) -> AuthorHistory:
        query = {"bool": {"filter": [{"term": {"channel": channel}}, {"term": {"author": author}}]}}
        edge = {"size": 1, "_source": ["created_at"]}
        posts = self.client.search(self.names.posts, {
            "size": 0, "track_total_hits": True, "query": query, "aggs": {
                "first": {"top_hits": {**edge, "sort": [{"created_at": "asc"}, {"id": "asc"}]}},
                "last": {"top_hits": {**edge, "sort": [{"created_at": "desc"}, {"id": "desc"}]}}}})
        n = int(posts["hits"]["total"]["value"])

        def at(name: str) -> datetime | None:
            hits = posts["aggregations"][name]["hits"]["hits"] if n else []
            return parse_ts(hits[0]["_source"]["created_at"]) if hits else None

        review = self.client.search(self._idx("review"), {"size": 0, "query": query, "aggs": {
            "flagged": {"filter": {"exists": {"field": "statuses"}}},
            **{s: {"filter": {"term": {"statuses": s}}} for s in STATUSES},
            "rules": {"terms": {"field": "rules", "size": 10_000}}}})["aggregations"]
        requested = self.client.count(self._idx("removal-requests"), {"query": query})
        actions = self.client.search(self._idx("writebacks"), {"size": 0, "query": query, "aggs": {
            "a": {"terms": {"field": "action", "size": 1000}, "aggs": {
                "s": {"terms": {"field": "state", "size": 100}}}}}})["aggregations"]["a"]["buckets"]
        return AuthorHistory(
            posts=n, flagged=review["flagged"]["doc_count"], pending=review["pending"]["doc_count"],
            removed=review["removed"]["doc_count"], approved=review["approved"]["doc_count"],
            removal_requests=requested, first_at=at("first"), last_at=at("last"),
            rules=sorted(((b["key"], b["doc_count"]) for b in review["rules"]["buckets"]), key=lambda x: (-x[1], x[0])),
            platform_actions=sorted((a["key"], s["key"], s["doc_count"]) for a in actions for s in a["s"]["buckets"]))

    # ------------------------------------------------------------------ the review queue
    def _queue_query(self, status: FlagStatus, channels: Sequence[str] | None, rule: str | None) -> dict[str, Any]:
        filters: list[dict[str, Any]] = [{"term": {f"rules_{status.value}": rule}} if rule
                                         else {"term": {"statuses": status.value}}]
        if channels:
            filters.append({"terms": {"channel": list(channels)}})
        return {"bool": {"filter": filters}}

    @staticmethod
    def _queue_sort(status: FlagStatus, rule: str | None) -> list[dict[str, Any]]:
        key = f"{status.value}:{rule}" if rule else status.value
        return [{"heads.at": {"order": "desc", "mode": "max",
                              "nested": {"path": "heads", "filter": {"term": {"heads.key": key}}}}},
                {"post_id": "desc"}]

    def review_queue(self, status: FlagStatus = FlagStatus.PENDING, channel: str | None = None, limit: int = 50,
                     offset: int = 0) -> list[QueueItem]:
        body = {"size": limit, "from": offset, "query": self._queue_query(status, [channel] if channel else None, None),
                "sort": self._queue_sort(status, None)}
        hits = self.client.search(self._idx("review"), body)["hits"]["hits"]
        return [item for _, item in self._items_of([h["_source"] for h in hits], status)]

    def review_page(self, status: FlagStatus = FlagStatus.PENDING, channels: Sequence[str] | None = None,
                    rule: str | None = None, after: tuple[datetime, int] | None = None,
                    limit: int = 20) -> list[tuple[datetime, QueueItem]]:
        body: dict[str, Any] = {"size": limit, "query": self._queue_query(status, channels, rule),
                                "sort": self._queue_sort(status, rule)}
        if after is not None:
            body["search_after"] = [_ns(after[0]), after[1]]
        hits = self.client.search(self._idx("review"), body)["hits"]["hits"]
        key = f"{status.value}:{rule}" if rule else status.value
        return [(parse_ts(next(h["at"] for h in src["heads"] if h["key"] == key)), item)  # type: ignore[misc]
                for src, item in self._items_of([h["_source"] for h in hits], status)]

    def _items_of(self, docs: list[dict[str, Any]], status: FlagStatus | None
                  ) -> list[tuple[dict[str, Any], QueueItem]]:
        """Queue items of P-review documents, in order (posts gone are left out); `status` None: each
        in its own."""
        from store.search.store import _analysis, _post

        posts = self._docs_by_ids([int(d["post_id"]) for d in docs])
        out = []
        for d in docs:
            hit = posts.get(int(d["post_id"]))
            st = status or _status_of(d.get("flags") or [])
            if hit is None or st is None:
                continue
            src = hit["_source"]
            out.append((d, QueueItem(post=_post(src), analysis=_analysis(src) if "analysis" in src else None,
                                     flags=[_flag(f, int(d["post_id"])) for f in d.get("flags") or []], status=st,
                                     decision=_decision(d["decision"]) if d.get("decision") else None)))
        return out

    def queue_rules(self, status: FlagStatus = FlagStatus.PENDING) -> list[tuple[str, int]]:
        aggs = self.client.search(self._idx("review"), {"size": 0, "aggs": {
            "r": {"terms": {"field": f"rules_{status.value}", "size": 10_000}}}})["aggregations"]
        return sorted(((b["key"], int(b["doc_count"])) for b in aggs["r"]["buckets"]), key=lambda x: (-x[1], x[0]))

    def queue_item(self, post_id: int) -> QueueItem | None:
        return self.queue_items([post_id]).get(post_id)

    def queue_items(self, post_ids: Sequence[int]) -> dict[int, QueueItem]:
        docs = [h["_source"] for h in self._review_docs(post_ids).values()]
        return {int(d["post_id"]): item for d, item in self._items_of(docs, None)}

    def queue_count(self, status: FlagStatus = FlagStatus.PENDING, channel: str | Sequence[str] | None = None,
                    rule: str | None = None) -> int:
        channels = [channel] if isinstance(channel, str) else list(channel or [])
        return int(self.client.count(self._idx("review"), {"query": self._queue_query(status, channels, rule)}))

    def rule_outcomes(self) -> dict[str, tuple[int, int, int]]:
        aggs = self.client.search(self._idx("review"), {"size": 0, "aggs": {
            "flagged": {"terms": {"field": "rules", "size": 10_000}},
            "person": {"filter": {"term": {"person_decided": True}}, "aggs": {
                "decided": {"terms": {"field": "rules_done", "size": 10_000}},
                "removed": {"terms": {"field": "rules_removed", "size": 10_000}}}}}})["aggregations"]

        def counts(buckets: list[dict[str, Any]]) -> dict[str, int]:
            return {b["key"]: int(b["doc_count"]) for b in buckets}

        decided = counts(aggs["person"]["decided"]["buckets"])
        removed = counts(aggs["person"]["removed"]["buckets"])
        return {rule: (n, decided.get(rule, 0), removed.get(rule, 0))
                for rule, n in counts(aggs["flagged"]["buckets"]).items()}

    # ------------------------------------------------------------------ decisions
    def decide(self, decision: Decision, audit: AuditEvent, writebacks: Sequence[WriteBack] = ()) -> Decision:
        return self._decide_all([(decision, audit)], writebacks)[0]

    def decide_many(self, decisions: Sequence[tuple[Decision, AuditEvent]]) -> list[Decision]:
        return self._decide_all(decisions, ())

    def _decide_all(self, decisions: Sequence[tuple[Decision, AuditEvent]], writebacks: Sequence[WriteBack]
                    ) -> list[Decision]:
        """The decisions with their audit events in one bulk, then each post's review document (the
        last decision of a post is its decision), then their removal requests withdrawn."""
        if not decisions:
            return []
        meta = self._post_meta([d.post_id for d, _ in decisions])
        actions = self._audit_actions([audit for _, audit in decisions])
        latest: dict[int, Decision] = {}
        by_person: set[int] = set()  # posts a person (not a rule) decided in this batch
        for (decision, _), did in zip(decisions, self._allocate("decisions", len(decisions))):
            decision.id = did
            actions.append(({"create": {"_index": self._idx("decisions"), "_id": str(did)}},
                            _decision_doc(decision, meta.get(decision.post_id, ("", ""))[0])))
            latest[decision.post_id] = decision
            if not decision.moderator.startswith(AUTO_MODERATOR_PREFIX):
                by_person.add(decision.post_id)
        actions += self._writeback_actions(writebacks, {pid: meta.get(pid, ("", "")) for pid in latest})
        self._send(actions, "处理记录")
        self._change_reviews({pid: self._decided(d, pid in by_person, *meta.get(pid, ("", "")))
                              for pid, d in latest.items()})
        self._send([({"delete": {"_index": self._idx("removal-requests"), "_id": str(pid)}}, None) for pid in latest],
                   "删除申请的撤销", ok=(200, 404))  # decided now
        return [d for d, _ in decisions]

    @staticmethod
    def _decided(decision: Decision, person: bool, channel: str, author: str
                 ) -> Callable[[dict[str, Any] | None], dict[str, Any]]:
        """The change a decision makes to its post's review document (`person`: a person decided it,
        in this decision or an earlier one of the same batch)."""
        status = FlagStatus.REMOVED if decision.action is Action.REMOVE else FlagStatus.APPROVED
        record = _decision_doc(decision, channel)

        def apply(doc: dict[str, Any] | None) -> dict[str, Any]:
            doc = doc or {"post_id": decision.post_id, "channel": channel, "author": author, "flags": [],
                          "person_decided": False, "applied": [], "decision": None}
            for f in doc["flags"]:
                f["status"] = status.value
            doc["decision"] = record
            doc["person_decided"] = bool(doc.get("person_decided")) or person
            return doc

        return apply

    def decisions(self, since: datetime | None = None) -> list[Decision]:
        query = {"range": {"created_at": {"gte": ts(since)}}} if since else {"match_all": {}}
        return [_decision(h["_source"]) for h in self._scan(self._idx("decisions"), {"query": query}, [{"id": "asc"}])]

    def decisions_page(self, since: datetime, after: tuple[datetime, int] | None, limit: int) -> list[Decision]:
        body: dict[str, Any] = {"size": limit, "query": {"range": {"created_at": {"gte": ts(since)}}},
                                "sort": [{"created_at": "asc"}, {"id": "asc"}]}
        if after is not None:
            body["search_after"] = [_ms(after[0]), after[1]]
        return [_decision(h["_source"]) for h in self.client.search(self._idx("decisions"), body)["hits"]["hits"]]

    def request_removal(self, post_id: int, by: str, reason_code: str, note: str, audit: AuditEvent) -> None:
        channel, author = self._post_meta([post_id]).get(post_id, ("", ""))
        self._send([*self._audit_actions([audit]),
                    ({"index": {"_index": self._idx("removal-requests"), "_id": str(post_id)}},
                     {"post_id": post_id, "channel": channel, "author": author, "requested_by": by,
                      "reason_code": reason_code, "note": note, "requested_at": ts(audit.at)})], "删除申请")

    def removal_requests(self, post_ids: Sequence[int]) -> dict[int, tuple[str, str, str, datetime]]:
        out: dict[int, tuple[str, str, str, datetime]] = {}
        for chunk in chunks([str(i) for i in dict.fromkeys(post_ids)], 1000):
            for d in self.client.mget(self._idx("removal-requests"), chunk):
                if d.get("found"):
                    s = d["_source"]
                    out[int(s["post_id"])] = (s["requested_by"], s["reason_code"], s.get("note") or "",
                                              parse_ts(s["requested_at"]))  # type: ignore[assignment]
        return out

    # ------------------------------------------------------------------ the moderation panels
    def flag_times(self, since: datetime, until: datetime, channel: str | None = None) -> list[datetime]:
        filters: list[dict[str, Any]] = [{"range": {"created_at": {"gte": ts(since), "lt": ts(until)}}}]
        if channel:
            filters.append({"term": {"channel": channel}})
        out: list[datetime] = []
        after: dict[str, Any] | None = None
        while True:
            composite: dict[str, Any] = {"size": 1000, "sources": [{"p": {"terms": {"field": "post_id"}}}]}
            if after is not None:
                composite["after"] = after
            aggs = self.client.search(self._idx("flags"), {"size": 0, "query": {"bool": {"filter": filters}}, "aggs": {
                "posts": {"composite": composite, "aggs": {"first": {"top_hits": {
                    "size": 1, "_source": ["created_at"], "sort": [{"created_at": "asc"}, {"id": "asc"}]}}}}}})
            buckets = aggs["aggregations"]["posts"]["buckets"]
            out += [parse_ts(b["first"]["hits"]["hits"][0]["_source"]["created_at"]) for b in buckets]  # type: ignore[misc]
            after = aggs["aggregations"]["posts"].get("after_key")
            if not buckets or after is None:
                return out

    def moderation_times(self, since: datetime, until: datetime, channel: str | None = None
                         ) -> list[tuple[datetime, datetime | None, bool]]:
        filters: list[dict[str, Any]] = [{"range": {"created_at": {"gte": ts(since), "lt": ts(until)}}}]
        if channel:
            filters.append({"term": {"channel": channel}})
        rows = [h["_source"] for h in self._scan(self._idx("decisions"), {"query": {"bool": {"filter": filters}},
                                                                          "_source": ["post_id", "moderator", "created_at"]},
                                                  [{"created_at": "asc"}, {"id": "asc"}])]
        first: dict[int, str | None] = {}
        for chunk in chunks(list(dict.fromkeys(int(r["post_id"]) for r in rows)), 1000):
            for d in self.client.mget(self._idx("review"), [str(i) for i in chunk]):
                if d.get("found"):
                    first[int(d["_id"])] = d["_source"].get("first_flag_at")
        return [(parse_ts(r["created_at"]), parse_ts(first.get(int(r["post_id"]))),  # type: ignore[misc]
                 r["moderator"].startswith(AUTO_MODERATOR_PREFIX)) for r in rows]

    # ------------------------------------------------------------------ write-back outbox
    def _writeback_actions(self, writebacks: Sequence[WriteBack], meta: dict[int, tuple[str, str]]) -> list[Action_]:
        actions: list[Action_] = []
        for wb, i in zip(writebacks, self._allocate("writebacks", len(writebacks))):
            wb.id = i
            channel, author = meta.get(wb.post_id, ("", ""))
            actions.append(({"create": {"_index": self._idx("writebacks"), "_id": str(i)}}, {
                "id": i, "post_id": wb.post_id, "channel": channel, "author": author, "collector": wb.collector,
                "action": wb.action, "requested_by": wb.requested_by, "payload": dumps(wb.payload),
                "state": WriteBackState.PENDING.value, "attempts": 0,
                "next_attempt_at": ts(wb.next_attempt_at or wb.created_at), "last_error": "", "result": "",
                "created_at": ts(wb.created_at), "done_at": None}))
        return actions

    def queue_writeback(self, writeback: WriteBack, audit: AuditEvent) -> WriteBack:
        meta = self._post_meta([writeback.post_id])
        self._send([*self._audit_actions([audit]), *self._writeback_actions([writeback], meta)], "平台操作")
        return writeback

    def due_writebacks(self, now: datetime, limit: int = 20) -> list[WriteBack]:
        body = {"size": limit, "query": {"bool": {"filter": [
            {"terms": {"state": [WriteBackState.PENDING.value, WriteBackState.FAILING.value]}},
            {"range": {"next_attempt_at": {"lte": ts(now)}}}]}},
            "sort": [{"next_attempt_at": "asc"}, {"id": "asc"}]}
        return [_writeback(h["_source"]) for h in self.client.search(self._idx("writebacks"), body)["hits"]["hits"]]

    def writebacks_for(self, post_ids: Sequence[int]) -> dict[int, list[WriteBack]]:
        out: dict[int, list[WriteBack]] = {}
        for chunk in chunks(list(dict.fromkeys(post_ids)), 1000):
            for h in self._scan(self._idx("writebacks"), {"query": {"terms": {"post_id": list(chunk)}}}, [{"id": "asc"}]):
                wb = _writeback(h["_source"])
                out.setdefault(wb.post_id, []).append(wb)
        return out

    def _change_writeback(self, writeback_id: int, change: Callable[[dict[str, Any]], None],
                          first: Sequence[Action_] = ()) -> None:
        """Read-modify-write one write-back (retried on a conflict); `first` (its audit event) goes
        in the same bulk request as the first attempt, before it."""
        index = self._idx("writebacks")
        pending = list(first)
        for _ in range(CAS_ATTEMPTS):
            got = self.client.get(index, str(writeback_id))
            if got is None:
                if pending:
                    self._send(pending, "审计记录")
                return  # SQLite's UPDATE of a missing row changes nothing
            src = dict(got["_source"])
            change(src)
            items = self._bulk([*pending, ({"index": {"_index": index, "_id": str(writeback_id),
                                                      "if_seq_no": got["_seq_no"],
                                                      "if_primary_term": got["_primary_term"]}}, src)], refresh=True)
            if _failed(items[:-1]):
                raise ClusterWriteError(f"审计记录无法写入搜索集群（{_why(_failed(items[:-1])[0])}），请检查集群后重试")
            pending = []
            if items[-1].get("status") == 409:
                continue  # changed meanwhile (another instance): read again
            if items[-1].get("status") not in (200, 201):
                raise ClusterWriteError(f"平台操作 #{writeback_id} 无法写入搜索集群（{_why(items[-1])}），请检查集群后重试")
            return
        raise ClusterWriteError(f"平台操作 #{writeback_id} 的并发写入冲突过多，请稍后重试")

    def writeback_done(self, writeback_id: int, state: WriteBackState, result: str, at: datetime,
                       audit: AuditEvent) -> None:
        def change(src: dict[str, Any]) -> None:
            src.update(state=state.value, attempts=int(src["attempts"]) + 1, result=result[:4000], done_at=ts(at),
                       last_error=result[:2000] if state is WriteBackState.REFUSED else "")

        self._change_writeback(writeback_id, change, self._audit_actions([audit]))

    def writeback_failed(self, writeback_id: int, error: str, next_attempt_at: datetime) -> None:
        def change(src: dict[str, Any]) -> None:
            src.update(state=WriteBackState.FAILING.value, attempts=int(src["attempts"]) + 1, last_error=error[:2000],
                       next_attempt_at=ts(next_attempt_at))

        self._change_writeback(writeback_id, change)
