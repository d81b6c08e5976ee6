"""The store on a search cluster (Elasticsearch or OpenSearch): the whole store contract.

This module holds the post path: ingestion (exactly once per (channel, source_id), dead letters,
checkpoints), pushed events (webhooks), posts and their versions, the analysis queue and analyses,
search, the quarantine, `counts` and the rules pass's commit. Every other area is a mixin in its own
module, as in store/sqlite: review.py (rules cursor, flags, decisions, the review queue, removal
requests, write-backs), alerts.py (cases, alerts, the outbox), people.py and access.py (users,
sessions, debunks, saved filters, API clients, report mails), stats.py (dashboard and report
aggregations, leads, the aggregates of deleted posts), privacy.py (retention, erasure), audit.py,
leases.py. Each module's docstring says how its writes stay correct without transactions. A method
of the contract no area implements raises `NotPortedError` naming itself (none today).

How the contract's guarantees are kept without transactions:
- Exactly once: a post's key document in P-keys is created with op_type=create before its post
  document, so two writers of the same post cannot both create it; edits move the key's version
  with if_seq_no/if_primary_term.
- `ingest` writes posts, then dead letters, then the checkpoint last: after a crash the collector
  resumes from the old checkpoint and sends the posts again, which are then unchanged (nothing is
  lost or duplicated). A document the cluster rejects for a while (429, 5xx) is retried; one it
  refuses (4xx) becomes a dead letter; none is dropped.
- A key whose post is missing or behind it is another writer's write in flight while it is younger
  than `write_lease` (waited for), and a write a crash cut short after that (finished then).
- Writes that later reads depend on refresh the shards they touched, so reads see them.

Search: the `tokens` field holds the terms store/index_terms.py makes from the NLP step's
Analysis.tokens (the text is not cut again; the SQLite store indexes the same terms); queries are
cut with the store's tokenizer and every query term must be among a post's terms, as on SQLite. An
analysis without tokens is indexed by the text's.
"""
from __future__ import annotations

import json
import logging
import re
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Sequence

from core.domain import Alert, Analysis, Post, utcnow
from core.errors import SentinelError
from core.text import post_preview, printable, safe_str
from store.base import DeadLetter, IngestResult, PostVersion, Quarantined, RuleResults, Store
from store.codec import analysis_fields, analysis_from_fields, dumps, parse_ts, ts
from store.index_terms import IndexTerms
from store.search import bodies
from store.search.bodies import Names
from store.search.access import AccessMixin
from store.search.alerts import AlertsMixin
from store.search.audit import AuditMixin
from store.search.leases import LeasesMixin
from store.search.people import PeopleMixin
from store.search.privacy import PrivacyMixin
from store.search.review import ReviewMixin
from store.search.stats import StatsMixin, stats_fields
from store.search.client import (ClusterAccessError, ClusterWriteError, Conflict, Connection, ElasticsearchClient,
                                 OpenSearchClient, SearchClient, chunks)

log = logging.getLogger("sentinel.store")
Tokenizer = Callable[[str], list[str]]

_TERM_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f]+")
_SURROGATE = re.compile("[\ud800-\udfff]")
RETRYABLE = {429, 500, 502, 503, 504}
BULK_ATTEMPTS = 6  # a rejected document is sent again this many times (0.2 s doubling) before giving up
CAS_ATTEMPTS = 50  # optimistic-concurrency retries of one sequence or post before giving up


class NotPortedError(SentinelError):
    """A method of the store contract this backend does not implement yet."""

    def __init__(self, backend: str, method: str) -> None:
        super().__init__(f"搜索集群存储（{backend}）还没有实现 {method}：这一后端仍在建设中，"
                         f"请暂用 sqlite 后端（store: {{backend: sqlite}}）")
        self.method = method


def _not_ported(name: str) -> Callable[..., Any]:
    def method(self: "SearchStore", *args: Any, **kwargs: Any) -> Any:
        raise NotPortedError(self.backend, name)

    method.__name__ = name
    method.__qualname__ = f"SearchStore.{name}"
    return method


# Every contract method starts as "not ported"; SearchStore's own definitions take precedence (MRO).
_NotPorted = type("_NotPorted", (), {name: _not_ported(name) for name in sorted(Store.__abstractmethods__)})


@dataclass
class _Pending:
    """A post of an ingest batch on its way in."""

    post: Post
    key: str
    doc: dict[str, Any] | None = None
    index: str = ""


class SearchStore(StatsMixin, PeopleMixin, AccessMixin, ReviewMixin, AlertsMixin, PrivacyMixin, AuditMixin, LeasesMixin, _NotPorted, Store):  # type: ignore[misc, valid-type]
    """`SearchStore(client, tokenize=search_tokens, timezone=...)`; `migrate()` makes the templates and indices.

    Each area of the contract is a mixin in its own module of store/search (as in store/sqlite),
    listed in the bases above; it declares its indices in `INDICES`. What one area asks of another:
    `commit_rule_results` calls review's `_commit_flags` and `_mark_ruled` and alerts' `_commit_alerts`;
    `counts` adds review's `_review_counts`, alerts' `_alert_counts` and stats' `_deleted_counts`;
    stats' reports read alerts' `_alerts_by_level`, `_rumour_case_ids` and `_deliveries_by_state`;
    privacy folds deleted posts with stats' `_add_deleted_aggregates` (its batches named by
    `_deleted_batch`, final with the document `_batch_marker` in `_gone`) and scrubs quotations
    with alerts' `_scrub_erased`."""

    backend = "search"
    # written by more than one area (the rules pass, moderators): layouts in bodies.py
    INDICES = {"flags": bodies.index_body(bodies.FLAG_MAPPING), "decisions": bodies.index_body(bodies.DECISION_MAPPING)}

    def __init__(self, client: SearchClient, index_prefix: str = "sentinel", tokenize: Tokenizer | None = None,
                 timezone: str = "Asia/Shanghai") -> None:
        from zoneinfo import ZoneInfo

        ZoneInfo(timezone)
        self.client = client
        self.names = Names(index_prefix)
        self.tokenize: Tokenizer = tokenize or (lambda text: [ch for ch in text if not ch.isspace()])
        self.timezone = timezone
        # a post's key younger than this whose post is missing or behind is another writer's write in
        # flight (waited for); older, it is a write a crash cut short (finished by the next ingest)
        self.write_lease = timedelta(seconds=30)
        self._made: set[str] = set()  # monthly posts indices known to exist
        self._made_lock = threading.Lock()
        self._push_locks: dict[str, threading.Lock] = {}
        self.index_terms = IndexTerms(self.tokenize)

    client_class: type[SearchClient]  # set by each backend below

    @classmethod
    def from_settings(cls, block: dict[str, Any], tokenize: Tokenizer | None = None, timezone: str = "Asia/Shanghai",
                      file: str = "<配置>") -> "SearchStore":
        """The store for the config's `store:` block (core/config.py has checked it)."""
        conn = Connection.from_settings(block, file)
        return cls(cls.client_class(conn), conn.index_prefix, tokenize=tokenize, timezone=timezone)

    # ------------------------------------------------------------------ lifecycle
    def migrate(self, progress: Any = None) -> list[str]:
        """Put the posts template and create the fixed indices; returns what was new."""
        made = []
        try:  # the first request of a store: a cluster that cannot be reached at all is said so, in one line
            self.client.put_index_template(self.names.posts_template, self.names.posts_template_body())
        except Exception as exc:
            clear = self.client.unreachable_error(exc)
            if clear is not None:
                raise clear from None
            raise
        for name, body in {**self.names.fixed_indices(), **self.area_indices()}.items():
            if self.client.create_index(name, body):
                made.append(name)
        # this month's posts index, so the read alias exists before the first post
        current = self.names.posts_for(utcnow())
        if not self.client.index_exists(current) and self.client.create_index(current, {}):
            made.append(current)
        return made

    def area_indices(self) -> dict[str, dict[str, Any]]:
        """The indices the area mixins declare in their `INDICES` (short name → create body), by full name."""
        out: dict[str, dict[str, Any]] = {}
        for cls in reversed(type(self).__mro__):
            for area, body in cls.__dict__.get("INDICES", {}).items():
                out[self.names.of(area)] = body
        return out

    def close(self) -> None:
        self.client.close()

    def drop_indices(self) -> None:
        """Remove every index and template under this store's prefix (`store.bench` cleans up with it)."""
        self.client.delete_everything(self.names.prefix)

    # ------------------------------------------------------------------ ids and sequences
    def _allocate(self, sequence: str, n: int) -> list[int]:
        """`n` new ids of `sequence` (1, 2, …), unique across every process using the cluster."""
        if n <= 0:
            return []
        doc_id = f"seq:{sequence}"
        for _ in range(CAS_ATTEMPTS):
            got = self.client.get(self.names.meta, doc_id)
            try:
                if got is None:
                    self.client.put(self.names.meta, doc_id, {"value": str(n), "updated_at": ts(utcnow())}, create=True)
                    return list(range(1, n + 1))
                last = int(got["_source"]["value"])
                self.client.put(self.names.meta, doc_id, {"value": str(last + n), "updated_at": ts(utcnow())},
                                if_seq_no=got["_seq_no"], if_primary_term=got["_primary_term"])
                return list(range(last + 1, last + n + 1))
            except Conflict:
                continue  # another writer took ids meanwhile: read again
        raise ClusterWriteError(f"无法分配编号（{sequence}）：并发写入冲突过多，请稍后重试")

    def _posts_index(self, created_at: datetime) -> str:
        """The monthly index of a post, made from the template the first time it is needed."""
        name = self.names.posts_for(created_at)
        if name not in self._made:
            if not self.client.index_exists(name):
                self.client.create_index(name, {})  # settings, mappings and alias come from the template
            with self._made_lock:
                self._made.add(name)
        return name

    # ------------------------------------------------------------------ bulk with per-document handling
    def _bulk(self, actions: list[tuple[dict[str, Any], dict[str, Any] | None]], refresh: bool = False
              ) -> list[dict[str, Any]]:
        """Send (action, source) pairs; documents the cluster rejects for now (429, 5xx) are sent
        again. Returns each action's final item result, in order (a 4xx stays for the caller)."""
        if not actions:
            return []
        results: list[dict[str, Any] | None] = [None] * len(actions)
        todo = list(range(len(actions)))
        delay = 0.2
        for attempt in range(BULK_ATTEMPTS):
            ops: list[dict[str, Any]] = []
            for i in todo:
                action, source = actions[i]
                ops.append(action)
                if source is not None:
                    ops.append(source)
            try:
                response = self.client.bulk(ops, refresh=refresh)
            except (Conflict, ClusterAccessError):  # sending it again does not help
                raise
            except Exception as exc:  # the whole request failed (a node went away): send it again
                if attempt == BULK_ATTEMPTS - 1:
                    raise ClusterWriteError(f"搜索集群拒绝批量写入（{type(exc).__name__}：{printable(exc, 200)}），"
                                            "请检查集群状态后重试") from exc
                log.warning("批量写入失败（%s），%.1f 秒后重试", printable(exc, 200), delay)
                time.sleep(delay)
                delay *= 2
                continue
            retry = []
            for i, item in zip(todo, response["items"]):
                result = next(iter(item.values()))
                results[i] = result
                if result.get("status") in RETRYABLE:
                    retry.append(i)
            if not retry:
                break
            todo = retry
            if attempt == BULK_ATTEMPTS - 1:
                raise ClusterWriteError(f"搜索集群持续拒绝 {len(retry)} 条写入（{_reason(results[retry[0]])}），"
                                        "请检查集群状态后重试")
            time.sleep(delay)
            delay *= 2
        return [r for r in results if r is not None]

    # ------------------------------------------------------------------ ingestion
    def ingest(self, collector: str, posts: Sequence[Post], checkpoint: str | None,
               dead: Sequence[DeadLetter] = ()) -> IngestResult:
        result = IngestResult()
        refused: list[DeadLetter] = []
        previous = self.checkpoint(collector)  # names the batch for its dead letters (see _add_dead_letters)
        # a batch may carry the same post twice (an edit seen in one fetch): one round per occurrence
        rounds: list[list[Post]] = []
        seen: dict[tuple[str, str], int] = {}
        for p in posts:
            n = seen.get(p.key, 0)
            seen[p.key] = n + 1
            if n >= len(rounds):
                rounds.append([])
            rounds[n].append(p)
        got = self.client.get(self.names.meta, "purged_before")  # retention's horizon (store/search/privacy.py)
        horizon = got["_source"]["value"] if got else None
        for batch in rounds:
            self._ingest_round(collector, batch, result, refused, horizon)
        letters = [*dead, *refused]
        if letters:
            # the same batch sent again after a crash (from the same checkpoint) makes the same ids
            batch = f"{collector}\x00{previous}\x00{checkpoint}"
            self._add_dead_letters(letters, batch)
            result.dead += len(letters)
        if checkpoint is not None:  # last: a crash before this repeats the batch, which is then unchanged
            self.client.put(self.names.meta, f"checkpoint:{collector}", {"value": checkpoint, "updated_at": ts(utcnow())})
        return result

    def _ingest_round(self, collector: str, batch: list[Post], result: IngestResult, refused: list[DeadLetter],
                      horizon: str | None = None) -> None:
        todo = [_Pending(p, bodies.key_id(p.channel, p.source_id)) for p in batch]
        deadline = time.monotonic() + self.write_lease.total_seconds() + 60
        pause = 0.05
        while todo:
            keys = {d["_id"]: d for d in self.client.mget(self.names.keys, [t.key for t in todo])}
            # erased on request or deleted by retention (the key is a tombstone), or older than what
            # retention has deleted: not stored again
            forgotten = [t for t in todo if (keys[t.key]["_source"].get("gone") if keys[t.key].get("found")
                                             else horizon is not None and _older(t.post, horizon))]
            if forgotten:
                result.ignored += len(forgotten)
                skip = {id(t) for t in forgotten}
                todo = [t for t in todo if id(t) not in skip]
            fresh = [t for t in todo if not keys[t.key].get("found")]
            known = [t for t in todo if keys[t.key].get("found")]
            todo = self._create_posts(collector, fresh, result, refused)  # lost races come back
            todo += self._update_posts(known, keys, result)  # so do posts another writer is still writing
            if todo:
                if time.monotonic() > deadline:
                    raise ClusterWriteError("同一批帖子的并发写入冲突过多，请稍后重试")
                time.sleep(pause)
                pause = min(pause * 2, 1.0)

    def _create_posts(self, collector: str, fresh: list[_Pending], result: IngestResult,
                      refused: list[DeadLetter]) -> list[_Pending]:
        """Create keys, then posts; returns the posts another writer created meanwhile."""
        if not fresh:
            return []
        now = ts(utcnow())
        ready: list[_Pending] = []
        for t in fresh:
            try:
                t.index = self._posts_index(t.post.created_at)
                t.doc = _post_doc(t.post, 0, 1, now)
            except Exception as exc:  # a post the store cannot hold (a naive time, …): a dead letter
                refused.append(_refused(collector, t.post, exc))
                continue
            ready.append(t)
        ids = self._allocate("posts", len(ready))
        key_actions: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for t, pid in zip(ready, ids):
            assert t.doc is not None
            t.doc["id"] = pid
            key_actions.append(({"create": {"_index": self.names.keys, "_id": t.key}},
                                {"post_id": pid, "channel": t.post.channel, "source_id": t.post.source_id,
                                 "index": t.index, "version": 1, "text_sha256": bodies.text_digest(t.post.text),
                                 "written_at": now}))
        lost: list[_Pending] = []
        created: list[_Pending] = []
        conflicts: list[_Pending] = []
        for t, item in zip(ready, self._bulk(key_actions)):
            if item.get("status") == 409:
                conflicts.append(t)
            elif item.get("status") in (200, 201):
                created.append(t)
            else:
                refused.append(_refused(collector, t.post, _reason(item)))
        if conflicts:  # ours, if an attempt that looked failed (429, a lost answer) did land; else another writer's
            found = {d["_id"]: d for d in self.client.mget(self.names.keys, [t.key for t in conflicts])}
            for t in conflicts:
                key = found.get(t.key, {})
                mine = key.get("found") and int(key["_source"]["post_id"]) == t.doc["id"]  # type: ignore[index]
                (created if mine else lost).append(t)
        post_actions = [({"create": {"_index": t.index, "_id": str(t.doc["id"])}}, t.doc)  # type: ignore[index]
                        for t in created]
        undo: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for t, item in zip(created, self._bulk(post_actions, refresh=True)):
            if item.get("status") in (200, 201, 409):  # 409: an earlier attempt of this very request landed
                t.post.id, t.post.version = t.doc["id"], 1  # type: ignore[index]
                result.new += 1
            else:  # the cluster refuses the document itself: a dead letter, and the key is freed
                refused.append(_refused(collector, t.post, _reason(item)))
                undo.append(({"delete": {"_index": self.names.keys, "_id": t.key}}, None))
        if undo:
            self._bulk(undo)
        return lost

    def _update_posts(self, known: list[_Pending], keys: dict[str, dict[str, Any]], result: IngestResult
                      ) -> list[_Pending]:
        """Posts whose key exists. Unchanged ones get their id and version; edited ones a new version
        (the old text kept in P-versions). A key whose post document is missing, or behind the key, is
        a write in flight while the key is younger than `write_lease` (the post is read again a moment
        later), and a write cut short by a crash after that: it is finished here. Returns the posts to
        read again."""
        current = self._post_docs([keys[t.key]["_source"] for t in known])
        lease_start = ts(utcnow() - self.write_lease)
        again: list[_Pending] = []
        for t in known:
            key = keys[t.key]
            src = key["_source"]
            pid, index, key_version = int(src["post_id"]), src["index"], int(src["version"])
            digest = bodies.text_digest(t.post.text)
            doc = current.get(pid)
            behind = doc is None or int(doc["_source"]["version"]) != key_version
            if not behind and src["text_sha256"] == digest:
                t.post.id, t.post.version = pid, key_version
                result.unchanged += 1
                continue
            if behind and str(src.get("written_at") or "") > lease_start:
                again.append(t)  # another writer is between the key and the post: wait for it
                continue
            # the key moves first (the guard: of two writers of one edit only one moves it), then the post
            version = key_version + 1 if doc is not None and int(doc["_source"]["version"]) == key_version \
                else key_version
            if (version, digest) != (key_version, src["text_sha256"]):
                try:
                    self.client.put(self.names.keys, t.key, {**src, "version": version, "text_sha256": digest,
                                                             "written_at": ts(utcnow())},
                                    if_seq_no=key["_seq_no"], if_primary_term=key["_primary_term"])
                except Conflict:
                    again.append(t)
                    continue
            now = ts(utcnow())
            if doc is None:  # the key was made but its post never written (a crash): write it now
                fresh = _post_doc(t.post, pid, version, now)
                item = self._bulk([({"create": {"_index": index, "_id": str(pid)}}, fresh)], refresh=True)[0]
                if item.get("status") not in (200, 201, 409):
                    raise ClusterWriteError(f"帖子 #{pid} 无法写入搜索集群（{_reason(item)}），请检查集群后重试")
                t.post.id, t.post.version = pid, version
                result.new += 1
                continue
            old = doc["_source"]
            self._bulk([({"index": {"_index": self.names.versions, "_id": f"{pid}:{old['version']}"}},
                         {"post_id": pid, "version": int(old["version"]), "text": old["text"],
                          "seen_at": old["updated_at"]})], refresh=True)
            edited = {**old, "text": t.post.text, "version": version, "updated_at": now, "thread": t.post.thread,
                      "url": t.post.url, "raw": dumps(t.post.raw), "author_name": t.post.author_name,
                      "needs_analysis": True}
            self._put_retrying(index, str(pid), edited, doc)
            t.post.id, t.post.version = pid, version
            result.updated += 1
        return again

    def _post_docs(self, keys: Sequence[dict[str, Any]]) -> dict[int, dict[str, Any]]:
        """The post documents the keys point to, read in real time (post id → document)."""
        by_index: dict[str, list[str]] = {}
        for k in keys:
            by_index.setdefault(k["index"], []).append(str(k["post_id"]))
        out: dict[int, dict[str, Any]] = {}
        for index, ids in by_index.items():
            for chunk in chunks(ids, 1000):
                for d in self.client.mget(index, chunk):
                    if d.get("found"):
                        out[int(d["_id"])] = d
        return out

    def _put_retrying(self, index: str, doc_id: str, doc: dict[str, Any], current: dict[str, Any]) -> None:
        """Write the post document if it is still the one read; if a save of analyses moved it on,
        carry those fields over and try again."""
        for _ in range(CAS_ATTEMPTS):
            try:
                self.client.put(index, doc_id, doc, if_seq_no=current["_seq_no"],
                                if_primary_term=current["_primary_term"], refresh=True)
                return
            except Conflict:
                current = self.client.get(index, doc_id) or current
                for field in ("analysis", "tokens", "stats", "analyzed_version", "ruled_version"):
                    if field in current["_source"]:
                        doc[field] = current["_source"][field]
                doc["needs_analysis"] = int(doc.get("analyzed_version") or 0) < int(doc["version"])
                doc["needs_rules"] = int(doc.get("analyzed_version") or 0) > int(doc.get("ruled_version") or 0)
        raise ClusterWriteError(f"帖子 #{doc_id} 的并发写入冲突过多，请稍后重试")

    def _add_dead_letters(self, letters: Sequence[DeadLetter], batch: str) -> None:
        """Create the dead letters; their document ids come from the batch (collector and checkpoints)
        and their place in it, so a batch repeated after a crash does not record them twice."""
        ids = self._allocate("dead_letters", len(letters))
        actions: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
        for n, (d, i) in enumerate(zip(letters, ids)):
            doc_id = bodies.text_digest(f"{batch}\x00{n}\x00{d.source}\x00{d.raw}\x00{d.error}")
            actions.append(({"create": {"_index": self.names.dead_letters, "_id": doc_id}}, {
                "id": i, "source": _clean(d.source, 1000), "channel": d.channel, "raw": _clean(d.raw, 8000),
                "error": _clean(d.error, 2000), "created_at": ts(d.created_at or utcnow())}))
        failed = [item for item in self._bulk(actions, refresh=True) if item.get("status") not in (200, 201, 409)]
        if failed:  # a dead letter is the last resort: refusing one is an error of the store, not dropped
            raise ClusterWriteError(f"死信无法写入搜索集群（{_reason(failed[0])}），请检查集群后重试")

    def checkpoint(self, collector: str) -> str | None:
        got = self.client.get(self.names.meta, f"checkpoint:{collector}")
        return got["_source"]["value"] if got else None

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        hits = self.client.search(self.names.dead_letters, bodies.newest_first(limit, offset))["hits"]["hits"]
        return [DeadLetter(source=h["_source"]["source"], raw=h["_source"]["raw"], error=h["_source"]["error"],
                           channel=h["_source"].get("channel"), created_at=parse_ts(h["_source"]["created_at"]),
                           id=int(h["_source"]["id"])) for h in hits]

    # ------------------------------------------------------------------ posts
    def _docs_by_ids(self, ids: Sequence[int]) -> dict[int, dict[str, Any]]:
        out: dict[int, dict[str, Any]] = {}
        for chunk in chunks(list(dict.fromkeys(ids)), 1000):
            body = {"size": len(chunk), "query": bodies.by_ids(chunk), "seq_no_primary_term": True}
            for h in self.client.search(self.names.posts, body)["hits"]["hits"]:
                out[int(h["_id"])] = h
        return out

    def get_post(self, post_id: int) -> Post | None:
        hit = self._docs_by_ids([post_id]).get(post_id)
        return _post(hit["_source"]) if hit else None

    def find_post(self, channel: str, source_id: str) -> Post | None:
        key = self.client.get(self.names.keys, bodies.key_id(channel, source_id))
        if key is None:
            return None
        got = self.client.get(key["_source"]["index"], str(key["_source"]["post_id"]))
        return _post(got["_source"]) if got else None

    def posts_by_ids(self, ids: Sequence[int]) -> dict[int, Post]:
        return {pid: _post(h["_source"]) for pid, h in self._docs_by_ids(ids).items()}

    def analyses_by_ids(self, ids: Sequence[int]) -> dict[int, Analysis]:
        return {pid: _analysis(h["_source"]) for pid, h in self._docs_by_ids(ids).items() if "analysis" in h["_source"]}

    def get_analysis(self, post_id: int) -> Analysis | None:
        return self.analyses_by_ids([post_id]).get(post_id)

    def post_versions(self, post_id: int) -> list[PostVersion]:
        hits = self.client.search(self.names.versions, bodies.versions_of(post_id))["hits"]["hits"]
        return [PostVersion(int(h["_source"]["version"]), h["_source"]["text"], parse_ts(h["_source"]["seen_at"]))
                for h in hits]  # type: ignore[misc]

    def search(self, query: str, limit: int = 50, offset: int = 0,
               channels: Sequence[str] | None = None) -> list[Post]:
        terms = _terms(self.tokenize(query))
        if not terms:
            return []
        body = bodies.token_search(list(dict.fromkeys(terms)), channels, limit, offset)
        return [_post(h["_source"]) for h in self.client.search(self.names.posts, body)["hits"]["hits"]]

    # ------------------------------------------------------------------ analysis
    def posts_to_analyze(self, limit: int, skip_after: int | None = None) -> list[Post]:
        skip: list[tuple[int, int]] = []
        if skip_after is not None:
            hits = self.client.search(self.names.quarantine, bodies.quarantined_at_least("analyze", skip_after))
            skip = [(int(h["_source"]["post_id"]), int(h["_source"]["version"])) for h in hits["hits"]["hits"]]
        hits = self.client.search(self.names.posts, bodies.to_analyze(limit, skip))["hits"]["hits"]
        out = []
        for h in hits:
            try:
                out.append(_post(h["_source"]))
            except Exception as exc:  # a document that cannot be read back must not block the queue
                error = f"数据库中的记录无法读取（{type(exc).__name__}：{printable(exc, 200)}）"
                log.error("帖子 #%s %s", h["_id"], error)
                if skip_after is not None:
                    self.quarantine_failure("analyze", int(h["_id"]), int(h["_source"].get("version") or 0),
                                            error, utcnow())
        return out

    def save_analyses(self, pairs: Sequence[tuple[Post, Analysis]]) -> None:
        """Each analysis goes into its post's document with its tokens (the search field); the post's
        analysed version only moves forward. Optimistic concurrency against a concurrent edit."""
        todo = list(pairs)
        for _ in range(CAS_ATTEMPTS):
            if not todo:
                return
            current = self._docs_by_ids([p.id for p, _ in todo])  # type: ignore[misc]
            actions: list[tuple[dict[str, Any], dict[str, Any] | None]] = []
            sent: list[tuple[Post, Analysis]] = []
            for post, a in todo:
                hit = current.get(post.id)  # type: ignore[arg-type]
                if hit is None:
                    continue  # gone meanwhile (erased): nothing to analyse
                a.post_version = post.version
                src = dict(hit["_source"])
                src["analysis"] = {**analysis_fields(a), "version": post.version, "tokens": list(a.tokens)}
                src["tokens"] = " ".join(self._index_terms(post, a))
                src["stats"] = stats_fields(a)
                src["analyzed_version"] = max(int(src.get("analyzed_version") or 0), post.version)
                src["needs_analysis"] = src["analyzed_version"] < int(src["version"])
                src["needs_rules"] = src["analyzed_version"] > int(src.get("ruled_version") or 0)
                actions.append(({"index": {"_index": hit["_index"], "_id": hit["_id"], "if_seq_no": hit["_seq_no"],
                                           "if_primary_term": hit["_primary_term"]}}, src))
                sent.append((post, a))
            again = []
            for pair, item in zip(sent, self._bulk(actions, refresh=True)):
                if item.get("status") == 409:
                    again.append(pair)  # edited meanwhile: read again and merge
                elif item.get("status") not in (200, 201):
                    raise ClusterWriteError(f"分析结果无法写入搜索集群（帖子 #{pair[0].id}：{_reason(item)}）")
            todo = again
        raise ClusterWriteError("保存分析结果时并发冲突过多，请稍后重试")

    def _index_terms(self, post: Post, a: Analysis) -> list[str]:
        """The terms a post is found by: from the NLP step's tokens (store/index_terms.py, as on
        SQLite); without tokens, the text's."""
        if not a.tokens:
            return _terms(self.tokenize(post.text))
        return self.index_terms(a.tokens)

    # ------------------------------------------------------------------ quarantine
    def quarantine_failure(self, stage: str, post_id: int, version: int, error: str, at: datetime) -> int:
        doc_id = f"{stage}:{post_id}:{version}"
        for _ in range(CAS_ATTEMPTS):
            got = self.client.get(self.names.quarantine, doc_id)
            try:
                if got is None:
                    self.client.put(self.names.quarantine, doc_id, {
                        "stage": stage, "post_id": post_id, "version": version, "attempts": 1,
                        "error": error[:2000], "first_at": ts(at), "last_at": ts(at)}, create=True, refresh=True)
                    return 1
                attempts = int(got["_source"]["attempts"]) + 1
                self.client.put(self.names.quarantine, doc_id, {**got["_source"], "attempts": attempts,
                                                               "error": error[:2000], "last_at": ts(at)},
                                if_seq_no=got["_seq_no"], if_primary_term=got["_primary_term"], refresh=True)
                return attempts
            except Conflict:
                continue
        raise ClusterWriteError("隔离计数的并发写入冲突过多，请稍后重试")

    def quarantined(self, stage: str | None = None, limit: int = 100, offset: int = 0,
                    min_attempts: int = 1) -> list[Quarantined]:
        filters: list[dict[str, Any]] = [{"range": {"attempts": {"gte": min_attempts}}}]
        if stage:
            filters.append({"term": {"stage": stage}})
        body = {"size": limit, "from": offset, "query": {"bool": {"filter": filters}}, "sort": [{"last_at": "desc"}]}
        return [Quarantined(stage=s["stage"], post_id=int(s["post_id"]), version=int(s["version"]),
                            attempts=int(s["attempts"]), error=s["error"], first_at=parse_ts(s["first_at"]),
                            last_at=parse_ts(s["last_at"]))  # type: ignore[arg-type]
                for s in (h["_source"] for h in self.client.search(self.names.quarantine, body)["hits"]["hits"])]

    # ------------------------------------------------------------------ pushed events
    def push_inbound(self, collector: str, payloads: Sequence[str], at: datetime) -> list[int]:
        """Durable on return (the cluster acknowledges after its translog is written). Ids come from a
        per-collector sequence; pushes of one collector are serialised in this process so a reader never
        sees a later id before an earlier one (run one listener process per collector)."""
        if not payloads:
            return []
        with self._push_lock(collector):
            ids = self._allocate(f"inbound:{collector}", len(payloads))
            actions: list[tuple[dict[str, Any], dict[str, Any] | None]] = [
                ({"create": {"_index": self.names.inbound, "_id": f"{collector}:{i}"}},
                 {"id": i, "collector": collector, "payload": payload, "received_at": ts(at)})
                for i, payload in zip(ids, payloads)]
            failed = [item for item in self._bulk(actions, refresh=True) if item.get("status") not in (200, 201, 409)]
            if failed:  # the platform is answered only after this returns: it will send the event again
                raise ClusterWriteError(f"推送事件无法写入搜索集群（{_reason(failed[0])}），请检查集群后重试")
        return ids

    def _push_lock(self, collector: str) -> threading.Lock:
        with self._made_lock:
            return self._push_locks.setdefault(collector, threading.Lock())

    def inbound(self, collector: str, after_id: int, limit: int) -> list[tuple[int, str]]:
        hits = self.client.search(self.names.inbound, bodies.inbound_after(collector, after_id, limit))["hits"]["hits"]
        return [(int(h["_source"]["id"]), h["_source"]["payload"]) for h in hits]

    def prune_inbound(self, collector: str, up_to_id: int, received_before: datetime) -> int:
        removed = 0
        while True:  # a page of matches at a time, deleted by id (no _delete_by_query: see client.py)
            body = {**bodies.inbound_taken(collector, up_to_id, ts(received_before)), "size": 1000, "_source": False}
            hits = self.client.search(self.names.inbound, body)["hits"]["hits"]
            if not hits:
                return removed
            items = self._bulk([({"delete": {"_index": self.names.inbound, "_id": h["_id"]}}, None) for h in hits],
                               refresh=True)
            removed += sum(1 for item in items if item.get("status") == 200)
            if not any(item.get("status") == 200 for item in items):
                return removed  # nothing more could be deleted: do not spin

    # ------------------------------------------------------------------ counts
    def counts(self) -> dict[str, int]:
        out = {
            "posts": self.client.count(self.names.posts),
            "analyzed": self.client.count(self.names.posts, bodies.analyzed()),
            **self._review_counts(),
            **self._alert_counts(),
            "dead_letters": self.client.count(self.names.dead_letters),
        }
        for k, n in self._deleted_counts().items():  # deleted posts still count (store/search/stats.py)
            out[k] += n
        return out

    # ------------------------------------------------------------------ the rules pass
    def commit_rule_results(self, results: RuleResults) -> list[Alert]:
        """Flags and removals, then cases, alerts and their deliveries, then the rules cursor last:
        a crash before the cursor moves makes the pass run again over the same posts, so each area
        writes its part idempotently (a repeated pass adds nothing twice)."""
        self._commit_flags(results)
        self._commit_alerts(results)
        self._mark_ruled(results.seen)
        return results.alerts


class ElasticsearchStore(SearchStore):
    """The store on an Elasticsearch 8/9 cluster (the official client)."""

    backend = "elasticsearch"
    client_class = ElasticsearchClient


class OpenSearchStore(SearchStore):
    """The store on an OpenSearch cluster (opensearch-py)."""

    backend = "opensearch"
    client_class = OpenSearchClient


# ---- documents <-> domain objects -------------------------------------------------------------------

def _older(p: Post, horizon: str) -> bool:
    return isinstance(p.created_at, datetime) and p.created_at.tzinfo is not None and ts(p.created_at) < horizon


def _post_doc(p: Post, post_id: int, version: int, now: str) -> dict[str, Any]:
    return {
        "id": post_id, "channel": p.channel, "source_id": p.source_id, "thread": p.thread, "author": p.author,
        "author_name": p.author_name, "text": p.text, "created_at": ts(p.created_at), "url": p.url,
        "reply_to": p.reply_to, "raw": dumps(p.raw), "version": version, "analyzed_version": 0,
        "ruled_version": 0, "needs_analysis": True, "needs_rules": False, "ingested_at": now, "updated_at": now,
    }


def _post(s: dict[str, Any]) -> Post:
    return Post(channel=s["channel"], source_id=s["source_id"], thread=s.get("thread"), author=s["author"],
                author_name=s.get("author_name"), text=s["text"], created_at=parse_ts(s["created_at"]),  # type: ignore[arg-type]
                url=s.get("url"), reply_to=s.get("reply_to"), raw=json.loads(s.get("raw") or "{}"),
                id=int(s["id"]), version=int(s["version"]))


def _analysis(s: dict[str, Any]) -> Analysis:
    fields = dict(s["analysis"])
    return analysis_from_fields(fields, tokens=list(fields.get("tokens") or []))


def _terms(tokens: Sequence[str]) -> list[str]:
    """Tokens as index or query terms: no whitespace or control characters inside one."""
    return [t for t in (_TERM_UNSAFE.sub("", tok) for tok in tokens) if t]


def _reason(item: dict[str, Any] | None) -> str:
    if not item:
        return "无应答"
    error = item.get("error")
    if isinstance(error, dict):
        return printable(f"{item.get('status')} {error.get('type')}: {error.get('reason')}", 300)
    return printable(f"{item.get('status')} {error or ''}", 300)


def _refused(collector: str, post: Post, why: Any) -> DeadLetter:
    detail = f"{type(why).__name__}：{printable(why, 200)}" if isinstance(why, BaseException) else str(why)
    return DeadLetter(source=f"{collector}:{safe_str(post.channel, 40)}/{safe_str(post.source_id, 100)}",
                      raw=post_preview(post), channel=None, error=f"数据库拒绝保存这条记录（{detail}）")


def _clean(text: str | None, limit: int) -> str:
    return _SURROGATE.sub("\ufffd", text or "")[:limit]
