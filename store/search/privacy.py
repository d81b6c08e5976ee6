"""Retention, erasure on request and backups on a search cluster (core/privacy.py is the policy;
store/sqlite/privacy.py the reference).

Deleting a post deletes every document that refers to it. The indices are found from their mappings:
every index of the store with a `post_id` field (flags, decisions, versions, the quarantine, and any
area index added later) loses the post's documents; lists of post ids inside alerts are scrubbed by
the alerts area. The post's key document stays as a tombstone (`gone`), so the same post fetched
again is ignored; posts older than the retention horizon (meta `purged_before`) are ignored too.

Without transactions, every step is safe to repeat after a crash: the key turns into a tombstone
first (so nothing re-ingests the post meanwhile) and names the batch its counts go into
(`counted_in`); the batch's counts go to the aggregates of deleted posts (documents with ids from
the batch), then the batch's marker document, which makes them final; the referring documents are
deleted, the post document last. A purge or erasure interrupted half-way finds the post again and
finishes it, whatever other posts it takes with it: a post whose batch has its marker is not counted
again; a batch without its marker (cut while its counts were written) has its documents deleted and
its posts counted afresh, before any of them was deleted. Redaction rewrites a post with if_seq_no (an edit that lands meanwhile wins; the next
run takes the new version).

Backups: a cluster is backed up with its own snapshot API into a repository the cluster is
configured for (`path.repo`); `python -m store.backup` refuses with that advice (docs/scale-out.md).
"""
from __future__ import annotations

import json
import logging
from datetime import datetime, timedelta
from typing import Any, Iterator, Sequence

from core.domain import AuditEvent, PIISpan, utcnow
from core.errors import SentinelError
from core.masking import mask_name, redact, redact_spans
from core.privacy import MIN_QUOTE, quote_sources
from store.base import Erasure
from store.codec import dumps, parse_ts, ts
from store.index_terms import clean_terms
from store.search import bodies
from store.search.client import ClusterWriteError, Conflict
from store.sqlite.privacy import _redact_json, _strings  # the same rules on every backend

log = logging.getLogger("sentinel.store")
PURGED_BEFORE = "purged_before"
LEFTOVERS_AT = "leftovers_purged_at"
DEAD_REDACTED_BEFORE = "dead_letters_redacted_before"
STUCK_AFTER = timedelta(days=1)  # a post not analysed and ruled this long after ingestion is redacted anyway
PAGE = 1000
META_ATTEMPTS = 20

Action = tuple[dict[str, Any], dict[str, Any] | None]


def _load(value: Any) -> Any:
    """A list field of a stored analysis (a list, or JSON text)."""
    if isinstance(value, str):
        return json.loads(value or "[]")
    return value or []


class PrivacyMixin:
    # ------------------------------------------------------------------ meta values
    def _meta_value(self, key: str) -> str | None:
        got = self.client.get(self.names.meta, key)  # type: ignore[attr-defined]
        return got["_source"]["value"] if got else None

    def _raise_meta(self, key: str, value: str) -> None:
        """Set a meta value that only moves forward (like SQLite's max(value, excluded.value))."""
        for _ in range(META_ATTEMPTS):
            got = self.client.get(self.names.meta, key)  # type: ignore[attr-defined]
            try:
                if got is None:
                    self.client.put(self.names.meta, key, {"value": value, "updated_at": ts(utcnow())},  # type: ignore[attr-defined]
                                    create=True, refresh=True)
                elif got["_source"]["value"] < value:
                    self.client.put(self.names.meta, key, {"value": value, "updated_at": ts(utcnow())},  # type: ignore[attr-defined]
                                    if_seq_no=got["_seq_no"], if_primary_term=got["_primary_term"], refresh=True)
                return
            except Conflict:
                continue
        raise ClusterWriteError(f"元数据 {key} 的并发写入冲突过多，请稍后重试")

    # ------------------------------------------------------------------ paging
    def _scan_hits(self, index: str, query: dict[str, Any], source: Any = True, sort: Sequence[Any] = ({"id": "asc"},),
              page: int = PAGE) -> Iterator[dict[str, Any]]:
        """Every hit of `query`, a page at a time (search_after on `sort`, which must be unique)."""
        after: list[Any] | None = None
        while True:
            body: dict[str, Any] = {"size": page, "query": query, "sort": list(sort), "_source": source,
                                    "seq_no_primary_term": True}
            if after is not None:
                body["search_after"] = after
            hits = self.client.search(index, body)["hits"]["hits"]  # type: ignore[attr-defined]
            yield from hits
            if len(hits) < page:
                return
            after = hits[-1]["sort"]

    def _post_reference_indices(self) -> list[str]:
        """Every index of the store whose documents name one post in a `post_id` field."""
        out = []
        every = {**self.names.fixed_indices(), **self.area_indices()}  # type: ignore[attr-defined]
        for name, body in every.items():
            if "post_id" in body.get("mappings", {}).get("properties", {}) and name != self.names.keys:  # type: ignore[attr-defined]
                out.append(name)
        return sorted(out)

    def _delete_where(self, index: str, query: dict[str, Any]) -> int:
        """Delete every document matching `query` (a page of ids at a time: no _delete_by_query)."""
        removed = 0
        while True:
            body = {"size": PAGE, "query": query, "_source": False}
            hits = self.client.search(index, body)["hits"]["hits"]  # type: ignore[attr-defined]
            if not hits:
                return removed
            items = self._bulk([({"delete": {"_index": h["_index"], "_id": h["_id"]}}, None) for h in hits],  # type: ignore[attr-defined]
                               refresh=True)
            done = sum(1 for item in items if item.get("status") == 200)
            removed += done
            if not done:
                return removed

    # ------------------------------------------------------------------ retention: personal data
    def redact_personal_data(self, before: datetime, limit: int = 500) -> int:
        stuck = ts(utcnow() - STUCK_AFTER)
        query = {"bool": {"filter": [{"range": {"created_at": {"lt": ts(before)}}}],
                          "must_not": [{"exists": {"field": "redacted_at"}}]}}
        picked: list[dict[str, Any]] = []
        for hit in self._scan_hits(self.names.posts, query, sort=({"created_at": "asc"}, {"id": "asc"})):  # type: ignore[attr-defined]
            s = hit["_source"]
            version = int(s["version"])
            done = int(s.get("analyzed_version") or 0) == version and int(s.get("ruled_version") or 0) >= version
            if done or str(s.get("ingested_at") or "") < stuck:
                picked.append(hit)
                if len(picked) >= limit:
                    break
        if not picked:
            return 0
        now = ts(utcnow())
        actions: list[Action] = []
        for hit in picked:
            s = dict(hit["_source"])
            a = s.get("analysis")
            spans = [PIISpan(**x) for x in _load(a.get("pii"))] if a else []
            text, moved = redact_spans(s["text"], spans)
            s.update(text=text, redacted_at=now, raw=dumps(_redact_json(json.loads(s.get("raw") or "{}"))))
            if s.get("thread"):
                s["thread"] = redact(s["thread"])
            if s.get("author_name"):
                s["author_name"] = mask_name(s["author_name"])
            if a:
                reasons = [{**x, "text": redact(x.get("text", ""))} for x in _load(a.get("reasons"))]
                s["analysis"] = {**a, "normalized": redact(a.get("normalized") or ""),
                                 "keywords": [redact(k) for k in a.get("keywords") or []],
                                 "reasons": reasons,
                                 "pii": [{"kind": x.kind, "start": x.start, "end": x.end} for x in moved],
                                 "tokens": []}
                s["tokens"] = " ".join(clean_terms(self.tokenize(text)))  # type: ignore[attr-defined]
            actions.append(({"index": {"_index": hit["_index"], "_id": hit["_id"], "if_seq_no": hit["_seq_no"],
                                       "if_primary_term": hit["_primary_term"]}}, s))
        done = 0
        redacted: list[int] = []
        for hit, item in zip(picked, self._bulk(actions, refresh=True)):  # type: ignore[attr-defined]
            if item.get("status") in (200, 201):
                done += 1
                redacted.append(int(hit["_id"]))
            elif item.get("status") != 409:  # 409: edited meanwhile, the next run takes the new version
                raise ClusterWriteError(f"帖子 #{hit['_id']} 无法脱敏（{item.get('error')}），请检查集群后重试")
        if redacted:
            self._redact_around(redacted)
        return done

    def _redact_around(self, ids: Sequence[int]) -> None:
        """The earlier versions and quarantine errors of redacted posts."""
        for index, field in ((self.names.versions, "text"), (self.names.quarantine, "error")):  # type: ignore[attr-defined]
            actions: list[Action] = []
            for hit in self._scan_hits(index, {"terms": {"post_id": list(ids)}}, sort=({"_doc": "asc"},)):
                s = hit["_source"]
                new = redact(s.get(field) or "")
                if new != s.get(field):
                    actions.append(({"index": {"_index": hit["_index"], "_id": hit["_id"], "if_seq_no": hit["_seq_no"],
                                               "if_primary_term": hit["_primary_term"]}}, {**s, field: new}))
            self._bulk(actions, refresh=True)  # type: ignore[attr-defined]

    def redact_dead_letters(self, before: datetime) -> int:
        since = self._meta_value(DEAD_REDACTED_BEFORE) or "0000"
        query = {"range": {"created_at": {"gte": since, "lt": ts(before)}}}
        actions: list[Action] = []
        for hit in self._scan_hits(self.names.dead_letters, query):  # type: ignore[attr-defined]
            s = hit["_source"]
            actions.append(({"index": {"_index": hit["_index"], "_id": hit["_id"]}},
                            {**s, "raw": redact(s.get("raw") or ""), "error": redact(s.get("error") or "")}))
        self._bulk(actions, refresh=True)  # type: ignore[attr-defined]
        self._raise_meta(DEAD_REDACTED_BEFORE, ts(before))
        return len(actions)

    # ------------------------------------------------------------------ retention: deletion
    def purge_posts(self, before: datetime, limit: int = 2000) -> int:
        self._raise_meta(PURGED_BEFORE, ts(before))
        hits = self.client.search(self.names.posts, {  # type: ignore[attr-defined]
            "size": limit, "query": {"range": {"created_at": {"lt": ts(before)}}},
            "sort": [{"created_at": "asc"}, {"id": "asc"}]})["hits"]["hits"]
        if hits:
            self._delete_posts(hits, "purged")
        return len(hits)

    def purge_dead_letters(self, before: datetime) -> int:
        return self._delete_where(self.names.dead_letters, {"range": {"created_at": {"lt": ts(before)}}})  # type: ignore[attr-defined]

    def _delete_posts(self, hits: Sequence[dict[str, Any]], why: str) -> dict[str, int]:
        """Tombstone the keys, fold the counts, delete every referring document, then the posts.
        Returns documents deleted per index (short names, as SQLite's tables)."""
        ids = [int(h["_id"]) for h in hits]
        now = ts(utcnow())
        flags = [h["_source"] for h in self._scan_hits(self.names.of("flags"), {"terms": {"post_id": ids}},  # type: ignore[attr-defined]
                                                  source=["post_id", "status"], sort=({"_doc": "asc"},))]
        flagged = {int(f["post_id"]) for f in flags}
        removed = {int(f["post_id"]) for f in flags if f.get("status") == "removed"}
        key_ids = [bodies.key_id(h["_source"]["channel"], h["_source"]["source_id"]) for h in hits]
        counted = self._counted_keys(key_ids)
        todo = [h["_source"] for h, k in zip(hits, key_ids) if k not in counted]
        batch = self._deleted_batch(todo) if todo else None  # type: ignore[attr-defined]
        keys = [({"update": {"_index": self.names.keys, "_id": k}},  # type: ignore[attr-defined]
                 {"doc": {"gone": why, "gone_at": now, "gone_flagged": int(h["_id"]) in flagged,
                          "gone_analyzed": int(h["_source"].get("analyzed_version") or 0) > 0,
                          **({} if k in counted else {"counted_in": batch})}}) for h, k in zip(hits, key_ids)]
        self._bulk(keys, refresh=True)  # type: ignore[attr-defined]
        if todo:
            self._add_deleted_aggregates(todo, flagged, removed)  # type: ignore[attr-defined]
        counts: dict[str, int] = {}
        prefix = f"{self.names.prefix}-"  # type: ignore[attr-defined]
        for index in self._post_reference_indices():
            n = self._delete_where(index, {"terms": {"post_id": ids}})
            if n:
                name = index[len(prefix):]
                counts[name] = counts.get(name, 0) + n
        items = self._bulk([({"delete": {"_index": h["_index"], "_id": h["_id"]}}, None) for h in hits],  # type: ignore[attr-defined]
                           refresh=True)
        counts["posts"] = sum(1 for item in items if item.get("status") == 200)
        return counts

    def _counted_keys(self, key_ids: Sequence[str]) -> set[str]:
        """The keys whose posts are already in the aggregates of deleted posts: their key names a
        batch whose marker is there. A named batch without its marker was cut while its counts were
        written: its documents are deleted, and its posts count as not counted."""
        named: dict[str, str] = {}
        for doc in self.client.mget(self.names.keys, list(key_ids)):  # type: ignore[attr-defined]
            batch = (doc.get("_source") or {}).get("counted_in") if doc.get("found") else None
            if batch:
                named[doc["_id"]] = batch
        if not named:
            return set()
        batches = sorted(set(named.values()))
        markers = self.client.mget(self._gone(), [self._batch_marker(b) for b in batches])  # type: ignore[attr-defined]
        done = {b for b, m in zip(batches, markers) if m.get("found")}
        for b in batches:
            if b not in done:
                n = self._delete_where(self._gone(), {"term": {"batch": b}})  # type: ignore[attr-defined]
                log.warning("已删除帖子的统计：上次中断的批次 %s 只写了一部分（%d 条），已撤回重算", b[:12], n)
        return {k for k, b in named.items() if b in done}

    def purge_leftovers(self, now: datetime, every: timedelta | None = None) -> bool:
        """Expunge the deleted documents from the posts indices' segments (a force-merge that only
        rewrites segments holding deletions), at most every `every`."""
        if every is not None:
            last = self._meta_value(LEFTOVERS_AT)
            if last is not None and now - parse_ts(last) < every:  # type: ignore[operator]
                return False
        self.client.expunge_deletes(f"{self.names.prefix}-*")  # type: ignore[attr-defined]
        self.client.put(self.names.meta, LEFTOVERS_AT, {"value": ts(now), "updated_at": ts(utcnow())}, refresh=True)  # type: ignore[attr-defined]
        return True

    # ------------------------------------------------------------------ erasure on request
    def erase_author(self, author: str, channel: str | None, audit: AuditEvent) -> Erasure:
        filters: list[dict[str, Any]] = [{"term": {"author": author}}]
        if channel:
            filters.append({"term": {"channel": channel}})
        hits = list(self._scan_hits(self.names.posts, {"bool": {"filter": filters}}))  # type: ignore[attr-defined]
        texts: list[tuple[str, list[PIISpan]]] = []
        for h in hits:
            s = h["_source"]
            a = s.get("analysis")
            texts.append((s["text"], [PIISpan(**x) for x in _load(a.get("pii"))] if a else []))
            for v in self._scan_hits(self.names.versions, {"term": {"post_id": int(h["_id"])}},  # type: ignore[attr-defined]
                                sort=({"version": "asc"},)):
                texts.append((v["_source"]["text"], []))
        quoted = quote_sources(texts)
        names = [n for n in dict.fromkeys(h["_source"].get("author_name") for h in hits)
                 if n and len(n) >= 2 and n not in quoted]
        result = Erasure(posts=len(hits), sources=quoted + names)
        if hits:
            self._scrub_quotes([int(h["_id"]) for h in hits], result)
            result.rows.update(self._delete_posts(hits, "erased"))
        self._erase_raw(author, channel, quoted, result)
        audit.detail = {**audit.detail, "author": author, "channel": channel, "posts": result.posts,
                        "rows": {k: v for k, v in sorted(result.rows.items()) if v}}
        self.audit(audit)  # type: ignore[attr-defined]
        if result.posts:
            self.purge_leftovers(audit.at)
        return result

    def _scrub_quotes(self, ids: Sequence[int], result: Erasure) -> None:
        """Quotations of the erased posts elsewhere (alert texts, case titles and responses): each
        area that keeps them implements `_scrub_erased(ids, sources, result)`."""
        for cls in type(self).__mro__:
            scrub = cls.__dict__.get("_scrub_erased")
            if scrub is not None:
                scrub(self, ids, result.sources, result)

    def _erase_raw(self, author: str, channel: str | None, texts: list[str], result: Erasure) -> None:
        """The author's dead letters, and pushed events carrying one of the erased texts."""
        dead = []
        for hit in self._scan_hits(self.names.dead_letters, {"match_all": {}}):  # type: ignore[attr-defined]
            s = hit["_source"]
            try:
                record = json.loads(s.get("raw") or "")
            except ValueError:
                continue
            if isinstance(record, dict) and str(record.get("author")) == author and (
                    not channel or record.get("channel", s.get("channel")) == channel):
                dead.append(hit)
        if dead:
            items = self._bulk([({"delete": {"_index": h["_index"], "_id": h["_id"]}}, None) for h in dead],  # type: ignore[attr-defined]
                               refresh=True)
            result.rows["dead_letters"] = sum(1 for item in items if item.get("status") == 200)
        if not texts:
            return
        exact, inside = set(texts), [t for t in texts if len(t) >= MIN_QUOTE]
        gone = []
        for hit in self._scan_hits(self.names.inbound, {"match_all": {}}, sort=({"_doc": "asc"},)):  # type: ignore[attr-defined]
            payload = hit["_source"].get("payload") or ""
            try:
                values = [" ".join(v.split()) for v in _strings(json.loads(payload))]
            except ValueError:
                values = [payload]
            if any(v in exact or any(t in v for t in inside) for v in values):
                gone.append(hit)
        if gone:
            items = self._bulk([({"delete": {"_index": h["_index"], "_id": h["_id"]}}, None) for h in gone],  # type: ignore[attr-defined]
                               refresh=True)
            result.rows["inbound"] = sum(1 for item in items if item.get("status") == 200)

    # ------------------------------------------------------------------ backups
    def backup(self, target: Any, progress: Any = None) -> None:
        raise SentinelError(
            f"{self.backend} 存储的备份请用集群自带的快照功能（snapshot API，需要在集群上配置 path.repo 并注册快照仓库），"  # type: ignore[attr-defined]
            "python -m store.backup 只备份 SQLite 存储；做法见 docs/scale-out.md 的“备份”一节")

