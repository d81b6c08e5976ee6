"""Ingestion, posts, analyses, search and the rules cursor (SQLite)."""
from __future__ import annotations

import json
import logging
import re
import sqlite3
from datetime import datetime
from typing import Sequence

from core.domain import AUTO_MODERATOR_PREFIX, Alert, Analysis, AuditEvent, Case, Post, ReasonCode, utcnow
from store.base import AuthorHistory, DeadLetter, IngestResult, PostVersion, RuleResults
from store.codec import analysis_as_stored, analysis_from_fields, dumps, parse_ts, stored_fields, ts
from store.sqlite.connection import placeholders
from core.masking import redact
from core.text import post_preview, printable, safe_str

POST_COLUMNS = (
    "id, channel, source_id, thread, author, author_name, text, created_at, url, reply_to, raw, version"
)
FRESH_MAX = 20_000  # analyses kept in memory for the next rules pass (a few batches)
_FTS_SAFE = re.compile(r'["\s\x00-\x1f\x7f]+')
_SURROGATE = re.compile("[\ud800-\udfff]")
log = logging.getLogger("sentinel.store")


def row_to_post(r: sqlite3.Row) -> Post:
    return Post(
        id=r["id"],
        channel=r["channel"],
        source_id=r["source_id"],
        thread=r["thread"],
        author=r["author"],
        author_name=r["author_name"],
        text=r["text"],
        created_at=parse_ts(r["created_at"]),  # type: ignore[arg-type]
        url=r["url"],
        reply_to=r["reply_to"],
        raw=json.loads(r["raw"] or "{}"),
        version=r["version"],
    )


# A post with its analysis in one row (the analysis columns as row_to_analysis reads them)
ANALYSIS_SELECT = ("a.normalized, a.sentiment, a.polarity, a.spam, a.rumour, a.grievance, a.abuse, a.topic,"
                   " a.keywords, a.pii, a.reasons, a.extra, a.debunk_id, a.model_version, a.version AS analysis_version")


def post_select() -> str:
    """The post columns, qualified with the alias p."""
    return ", ".join("p." + c.strip() for c in POST_COLUMNS.split(","))


def row_to_analysis(r: sqlite3.Row) -> Analysis:
    return analysis_from_fields(dict(r))


class PostsMixin:
    # ------------------------------------------------------------------ ingestion
    def ingest(
        self,
        collector: str,
        posts: Sequence[Post],
        checkpoint: str | None,
        dead: Sequence[DeadLetter] = (),
    ) -> IngestResult:
        try:
            return self._ingest(collector, posts, checkpoint, dead, isolate=False)
        except sqlite3.OperationalError:  # locked, disk full, I/O: the database, not a post
            raise
        except Exception as exc:
            if not posts:
                raise
            # A post the database refuses: save the batch again with each post in its own savepoint,
            # so that post becomes a dead letter and the rest (and the checkpoint) still commit.
            log.warning("收集器 %s 的一批数据保存失败（%s），改为逐条保存以找出问题记录", collector,
                        printable(f"{type(exc).__name__}: {exc}"))
            return self._ingest(collector, posts, checkpoint, dead, isolate=True)

    def _ingest(self, collector: str, posts: Sequence[Post], checkpoint: str | None, dead: Sequence[DeadLetter],
                isolate: bool) -> IngestResult:
        result = IngestResult()
        now = ts(utcnow())
        refused: list[DeadLetter] = []
        with self._tx() as c:
            gone = self._forgotten(c, posts)
            stored = self._stored(c, posts) if not isolate else None
            for post in posts:
                if post.key in gone:  # erased on request, or older than what retention deleted
                    result.ignored += 1
                    continue
                if not isolate:
                    outcome = self._upsert(c, post, now, stored)
                else:
                    c.execute("SAVEPOINT post")
                    try:
                        outcome = self._upsert(c, post, now)
                    except sqlite3.OperationalError:
                        raise
                    except Exception as exc:
                        c.execute("ROLLBACK TO post")
                        c.execute("RELEASE post")
                        refused.append(DeadLetter(
                            source=f"{collector}:{safe_str(post.channel, 40)}/{safe_str(post.source_id, 100)}",
                            raw=post_preview(post), channel=None,
                            error=f"数据库拒绝保存这条记录（{type(exc).__name__}：{printable(exc, 200)}）",
                        ))
                        continue
                    c.execute("RELEASE post")
                setattr(result, outcome, getattr(result, outcome) + 1)
            for d in [*dead, *refused]:
                c.execute(
                    "INSERT INTO dead_letters (source, channel, raw, error, created_at) VALUES (?,?,?,?,?)",
                    (_clean(d.source, 1000), d.channel, _clean(d.raw, 8000), _clean(d.error, 2000),
                     ts(d.created_at or utcnow())),
                )
                result.dead += 1
            if checkpoint is not None:
                c.execute(
                    "INSERT INTO checkpoints (collector, value, updated_at) VALUES (?,?,?) "
                    "ON CONFLICT (collector) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
                    (collector, checkpoint, now),
                )
        return result

    @staticmethod
    def _forgotten(c: sqlite3.Connection, posts: Sequence[Post]) -> set[tuple[str, str]]:
        """Keys of the posts that must not be stored again: erased on request (store.erase), or written
        before the time up to which retention has deleted posts (their counts are in the aggregates)."""
        from store.sqlite.privacy import PURGED_BEFORE, erased_key

        if not posts:
            return set()
        gone: set[tuple[str, str]] = set()
        meta = c.execute("SELECT value FROM store_meta WHERE key = ?", (PURGED_BEFORE,)).fetchone()
        if meta is not None:
            gone |= {p.key for p in posts if isinstance(p.created_at, datetime) and p.created_at.tzinfo
                     and ts(p.created_at) < meta["value"]
                     and not c.execute("SELECT 1 FROM posts WHERE channel = ? AND source_id = ?", p.key).fetchone()}
        if c.execute("SELECT 1 FROM erased_posts LIMIT 1").fetchone():
            for p in posts:
                if c.execute("SELECT 1 FROM erased_posts WHERE key_hash = ?",
                             (erased_key(p.channel, p.source_id),)).fetchone():
                    gone.add(p.key)
        return gone

    @staticmethod
    def _stored(c: sqlite3.Connection, posts: Sequence[Post]) -> dict[tuple[str, str], dict]:
        """What `_upsert` needs of the posts already stored under these keys: one indexed query per
        channel and 500 ids, not one per post."""
        ids: dict[str, list[str]] = {}
        for p in posts:
            ids.setdefault(p.channel, []).append(p.source_id)
        out: dict[tuple[str, str], dict] = {}
        for channel, sids in ids.items():
            sids = list(dict.fromkeys(sids))
            for i in range(0, len(sids), 500):
                chunk = sids[i : i + 500]
                rows = c.execute("SELECT source_id, id, text, version, updated_at, redacted_at FROM posts"
                                 f" WHERE channel = ? AND source_id IN ({placeholders(len(chunk))})",
                                 [channel, *chunk]).fetchall()
                out.update(((channel, r["source_id"]), dict(r)) for r in rows)
        return out

    def _upsert(self, c: sqlite3.Connection, p: Post, now: str, stored: dict | None = None) -> str:
        """Store a new post, or a new version of a changed one. `stored` (from `_stored`) saves the
        look-up and is kept up to date, so the same key twice in a batch is handled as before."""
        if stored is None:
            row = c.execute(
                "SELECT id, text, version, updated_at, redacted_at FROM posts WHERE channel = ? AND source_id = ?",
                (p.channel, p.source_id),
            ).fetchone()
        else:
            row = stored.get((p.channel, p.source_id))
        if row is None:
            cur = c.execute(
                "INSERT INTO posts (channel, source_id, thread, author, author_name, text, created_at, url,"
                " reply_to, raw, version, ingested_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?,1,?,?)",
                (p.channel, p.source_id, p.thread, p.author, p.author_name, p.text, ts(p.created_at),
                 p.url, p.reply_to, dumps(p.raw), now, now),
            )
            p.id, p.version = cur.lastrowid, 1
            if stored is not None:
                stored[(p.channel, p.source_id)] = {"id": p.id, "text": p.text, "version": 1, "updated_at": now,
                                                    "redacted_at": None}
            return "new"
        p.id = row["id"]
        if row["text"] == p.text or (row["redacted_at"] is not None and redact(p.text) == row["text"]):
            p.version = row["version"]  # the same text (retention may have redacted the stored one)
            return "unchanged"
        c.execute(
            "INSERT INTO post_versions (post_id, version, text, seen_at) VALUES (?,?,?,?)",
            (row["id"], row["version"], row["text"], row["updated_at"]),
        )
        p.version = row["version"] + 1
        c.execute(
            "UPDATE posts SET text = ?, version = ?, updated_at = ?, thread = ?, url = ?, raw = ?,"
            " author_name = ?, redacted_at = NULL WHERE id = ?",
            (p.text, p.version, now, p.thread, p.url, dumps(p.raw), p.author_name, row["id"]),
        )
        if stored is not None:
            stored[(p.channel, p.source_id)] = {"id": row["id"], "text": p.text, "version": p.version,
                                                "updated_at": now, "redacted_at": None}
        return "updated"

    def checkpoint(self, collector: str) -> str | None:
        row = self._one("SELECT value FROM checkpoints WHERE collector = ?", (collector,))
        return row["value"] if row else None

    def dead_letters(self, limit: int = 100, offset: int = 0) -> list[DeadLetter]:
        rows = self._rows("SELECT * FROM dead_letters ORDER BY id DESC LIMIT ? OFFSET ?", (limit, offset))
        return [
            DeadLetter(source=r["source"], raw=r["raw"], error=r["error"], channel=r["channel"],
                       created_at=parse_ts(r["created_at"]), id=r["id"])
            for r in rows
        ]

    # ------------------------------------------------------------------ posts
    def get_post(self, post_id: int) -> Post | None:
        r = self._one(f"SELECT {POST_COLUMNS} FROM posts WHERE id = ?", (post_id,))
        return row_to_post(r) if r else None

    def find_post(self, channel: str, source_id: str) -> Post | None:
        r = self._one(
            f"SELECT {POST_COLUMNS} FROM posts WHERE channel = ? AND source_id = ?", (channel, source_id)
        )
        return row_to_post(r) if r else None

    def posts_by_ids(self, ids: Sequence[int]) -> dict[int, Post]:
        out: dict[int, Post] = {}
        for chunk in _chunks(list(ids), 500):
            rows = self._rows(f"SELECT {POST_COLUMNS} FROM posts WHERE id IN ({placeholders(len(chunk))})", chunk)
            out.update({r["id"]: row_to_post(r) for r in rows})
        return out

    def analyses_by_ids(self, ids: Sequence[int]) -> dict[int, Analysis]:
        out: dict[int, Analysis] = {}
        for chunk in _chunks(list(ids), 500):
            rows = self._rows(f"SELECT * FROM analyses WHERE post_id IN ({placeholders(len(chunk))})", chunk)
            out.update({r["post_id"]: row_to_analysis(r) for r in rows})
        return out

    def post_versions(self, post_id: int) -> list[PostVersion]:
        rows = self._rows(
            "SELECT version, text, seen_at FROM post_versions WHERE post_id = ? ORDER BY version", (post_id,)
        )
        return [PostVersion(r["version"], r["text"], parse_ts(r["seen_at"])) for r in rows]  # type: ignore[arg-type]

    def search(self, query: str, limit: int = 50, offset: int = 0,
               channels: Sequence[str] | None = None) -> list[Post]:
        # Most recently stored first: the index's own order (rowid = post id), so a common word at
        # a million posts costs the rows shown, not a sort of every match (0.1 ms against 240 ms).
        terms = [t for t in (_FTS_SAFE.sub("", tok) for tok in self.tokenize(query)) if t]
        if not terms:
            return []
        match = " ".join(f'"{t}"' for t in dict.fromkeys(terms))
        scope = f" AND p.channel IN ({placeholders(len(channels))})" if channels else ""
        rows = self._rows(
            f"SELECT {', '.join('p.' + c.strip() for c in POST_COLUMNS.split(','))} FROM posts_fts f"
            f" JOIN posts p ON p.id = f.rowid WHERE posts_fts MATCH ?{scope} ORDER BY f.rowid DESC LIMIT ? OFFSET ?",
            (match, *(channels or ()), limit, offset),
        )
        return [row_to_post(r) for r in rows]

    # ------------------------------------------------------------------ an author's history
    def author_posts(self, channel: str, author: str, before_id: int | None = None, limit: int = 20) -> list[Post]:
        """The author's posts in a channel, newest (highest id) first, below `before_id`."""
        rows = self._rows(
            f"SELECT {POST_COLUMNS} FROM posts WHERE channel = ? AND author = ? AND id < ? ORDER BY id DESC LIMIT ?",
            (channel, author, before_id if before_id is not None else 2**63 - 1, limit))
        return [row_to_post(r) for r in rows]

    def author_history(self, channel: str, author: str) -> AuthorHistory:
        """What moderation has seen of one author in one channel: posts, flags, decisions, removal
        requests and platform actions (mutes) taken against them."""
        r = self._one(
            "SELECT count(*) AS posts, min(created_at) AS first, max(created_at) AS last,"
            " count(CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.post_id = p.id) THEN 1 END) AS flagged,"
            " count(CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.post_id = p.id AND f.status = 'pending')"
            " THEN 1 END) AS pending,"
            " count(CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.post_id = p.id AND f.status = 'removed')"
            " THEN 1 END) AS removed,"
            " count(CASE WHEN EXISTS (SELECT 1 FROM flags f WHERE f.post_id = p.id AND f.status = 'approved')"
            " THEN 1 END) AS approved,"
            " count(CASE WHEN EXISTS (SELECT 1 FROM removal_requests q WHERE q.post_id = p.id) THEN 1 END)"
            " AS requested"
            " FROM posts p WHERE p.channel = ? AND p.author = ?", (channel, author))
        rules = self._rows(
            "SELECT f.rule AS rule, count(DISTINCT f.post_id) AS n FROM posts p JOIN flags f ON f.post_id = p.id"
            " WHERE p.channel = ? AND p.author = ? GROUP BY f.rule ORDER BY n DESC, f.rule", (channel, author))
        actions = self._rows(
            "SELECT w.action AS action, w.state AS state, count(*) AS n FROM posts p JOIN writebacks w"
            " ON w.post_id = p.id WHERE p.channel = ? AND p.author = ? GROUP BY w.action, w.state"
            " ORDER BY w.action, w.state", (channel, author))
        return AuthorHistory(
            posts=int(r["posts"]), flagged=int(r["flagged"]), pending=int(r["pending"]), removed=int(r["removed"]),
            approved=int(r["approved"]), removal_requests=int(r["requested"]),
            first_at=parse_ts(r["first"]), last_at=parse_ts(r["last"]),
            rules=[(x["rule"], int(x["n"])) for x in rules],
            platform_actions=[(x["action"], x["state"], int(x["n"])) for x in actions])

    # ------------------------------------------------------------------ analysis
    def posts_to_analyze(self, limit: int, skip_after: int | None = None) -> list[Post]:
        posts = self._decode(self._pending("analyzed_version < version", "analyze", limit, skip_after),
                             "analyze", skip_after)
        with self._lock:  # these very objects, saved with their analyses, need not be read back (_fresh)
            self._handed_out = {p.id: p for p in posts}
        return posts

    def save_analyses(self, pairs: Sequence[tuple[Post, Analysis]]) -> None:
        now = ts(utcnow())  # also tells this save from any other of the same post version (see _fresh)
        # the search index: from the NLP step's tokens (store/index_terms.py); a text without them is cut
        untokenized = [p.text for p, a in pairs if not a.tokens]
        cut = iter(self.tokenize_many(untokenized) if untokenized else ())
        index = [(p.id, " ".join(self.index_terms(a.tokens) if a.tokens else next(cut))) for p, a in pairs]
        rows, counted = [], []
        for (post, a), (pid, _) in zip(pairs, index):
            a.post_version = post.version
            rows.append((pid, post.version, *stored_fields(a), now))
            counted.append((post, {"topic": a.topic, "sentiment": a.sentiment.value, "polarity": float(a.polarity),
                                  "spam": float(a.spam), "keywords": a.keywords}))
        with self._tx() as c:
            self._rollup_swap(c, counted)  # before the old rows go
            c.executemany(
                "INSERT OR REPLACE INTO analyses (post_id, version, normalized, sentiment, polarity, spam,"
                " rumour, grievance, abuse, topic, keywords, pii, reasons, extra, debunk_id, model_version,"
                " analyzed_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", rows)
            c.executemany("UPDATE posts SET analyzed_version = ? WHERE id = ? AND analyzed_version < ?",
                          [(post.version, pid, post.version) for (post, _), (pid, _) in zip(pairs, index)])
            fts = list(dict(index).items())  # one row per post (the last, should a post come twice)
            c.executemany("DELETE FROM posts_fts WHERE rowid = ?", [(pid,) for pid, _ in fts])
            c.executemany("INSERT INTO posts_fts (rowid, tokens) VALUES (?, ?)", fts)
        self._remember_fresh(pairs, now)

    def _remember_fresh(self, pairs: Sequence[tuple[Post, Analysis]], at: str) -> None:
        """Keep the analyses just saved, as `posts_for_rules` would read them back, so the rules pass
        that follows takes them from memory (decoding the rows again was a fifth of the pipeline's
        time). An entry is used only if the stored row is still this save (same version and time).
        The post is kept too when it is the very object `posts_to_analyze` read from its row; it is
        used only if the row still has that version and was not redacted since."""
        with self._lock:
            for post, a in pairs:
                assert post.id is not None
                kept = post if self._handed_out.pop(post.id, None) is post else None
                self._fresh[post.id] = (post.version, at, analysis_as_stored(a, post.version), kept)
                self._fresh.move_to_end(post.id)
            while len(self._fresh) > FRESH_MAX:
                self._fresh.popitem(last=False)

    def _forget_fresh(self) -> None:
        """Analyses were changed elsewhere than `save_analyses` (redaction, erasure): read them from the rows."""
        with self._lock:
            self._fresh.clear()

    def get_analysis(self, post_id: int) -> Analysis | None:
        r = self._one("SELECT * FROM analyses WHERE post_id = ?", (post_id,))
        return row_to_analysis(r) if r else None

    # ------------------------------------------------------------------ rules cursor
    def posts_for_rules(self, limit: int, skip_after: int | None = None) -> list[tuple[Post, Analysis]]:
        heads = self._pending("ruled_version < analyzed_version", "rules", limit, skip_after,
                              columns="id, version, redacted_at")
        with self._lock:
            fresh = {r["id"]: self._fresh.pop(r["id"]) for r in heads if r["id"] in self._fresh}
        kept: dict[int, Post] = {}
        for r in heads:
            entry = fresh.get(r["id"])
            if entry is not None and entry[3] is not None and entry[0] == r["version"] and r["redacted_at"] is None:
                kept[r["id"]] = entry[3]
        unread = [r["id"] for r in heads if r["id"] not in kept]
        for chunk in _chunks(unread, 500):
            rows = self._rows(f"SELECT {POST_COLUMNS} FROM posts WHERE id IN ({placeholders(len(chunk))})", chunk)
            kept.update((p.id, p) for p in self._decode(rows, "rules", skip_after))  # type: ignore[misc]
        posts = [kept[r["id"]] for r in heads if r["id"] in kept]
        analyses: dict[int, Analysis] = {}
        for chunk in _chunks([p.id for p in posts], 500):
            stale = []
            for r in self._rows(f"SELECT post_id, version, analyzed_at FROM analyses WHERE post_id IN"
                                f" ({placeholders(len(chunk))})", chunk):
                entry = fresh.get(r["post_id"])
                if entry is not None and entry[:2] == (r["version"], r["analyzed_at"]):
                    analyses[r["post_id"]] = entry[2]
                else:
                    stale.append(r["post_id"])
            for r in self._rows(f"SELECT * FROM analyses WHERE post_id IN ({placeholders(len(stale))})",
                                stale) if stale else ():
                try:
                    analyses[r["post_id"]] = row_to_analysis(r)
                except Exception as exc:
                    self._undecodable(r["post_id"], "rules", exc, skip_after)
        return [(p, analyses[p.id]) for p in posts if p.id in analyses]

    def _pending(self, condition: str, stage: str, limit: int, skip_after: int | None,
                 columns: str = POST_COLUMNS) -> list[sqlite3.Row]:
        """Post rows waiting for `stage` (oldest first); with `skip_after`, minus the quarantined."""
        skip, params = "", [limit]
        if skip_after is not None:
            skip = (" AND NOT EXISTS (SELECT 1 FROM quarantine q WHERE q.stage = ? AND q.post_id = posts.id"
                    " AND q.version = posts.version AND q.attempts >= ?)")
            params = [stage, skip_after, limit]
        return self._rows(f"SELECT {columns} FROM posts WHERE {condition}{skip} ORDER BY created_at, id LIMIT ?",
                          params)

    def _decode(self, rows: list[sqlite3.Row], stage: str, skip_after: int | None) -> list[Post]:
        """Rows as posts; a row that can't be read back counts as a failure of `stage` (so, with
        `skip_after`, it ends in the quarantine instead of blocking the queue)."""
        posts = []
        for r in rows:
            try:
                posts.append(row_to_post(r))
            except Exception as exc:
                self._undecodable(r["id"], stage, exc, skip_after)
        return posts

    def _undecodable(self, post_id: int, stage: str, exc: Exception, skip_after: int | None) -> None:
        version = self._one("SELECT version FROM posts WHERE id = ?", (post_id,))
        error = f"数据库中的记录无法读取（{type(exc).__name__}：{printable(exc, 200)}）"
        log.error("帖子 #%d %s", post_id, error)
        if skip_after is not None and version is not None:
            self.quarantine_failure(stage, post_id, version["version"], error, utcnow())

    def recent_analyzed(
        self, since: datetime, until: datetime | None = None, ruled_only: bool = False
    ) -> list[tuple[Post, Analysis]]:
        until_s = ts(until or utcnow().replace(year=9999))
        ruled = " AND p.ruled_version >= p.analyzed_version" if ruled_only else ""
        rows = self._rows(
            f"SELECT {post_select()}, {ANALYSIS_SELECT} FROM posts p JOIN analyses a ON a.post_id = p.id"
            f" WHERE p.created_at >= ? AND p.created_at < ?{ruled} ORDER BY p.created_at, p.id",
            (ts(since), until_s),
        )
        return [(row_to_post(r), row_to_analysis(r)) for r in rows]

    def commit_rule_results(self, results: RuleResults) -> list[Alert]:
        now = ts(utcnow())
        with self._tx() as c:
            c.executemany("UPDATE posts SET ruled_version = ? WHERE id = ? AND ruled_version < ?",
                          [(version, post_id, version) for post_id, version in results.seen])
            for f in results.flags:
                cur = c.execute(
                    "INSERT INTO flags (post_id, rule, reason, status, created_at) VALUES (?,?,?, 'pending', ?)",
                    (f.post_id, f.rule, f.reason, ts(f.created_at)),
                )
                f.id = cur.lastrowid
            self._auto_remove(c, results.removals)
            case_ids = {(cs.kind.value, cs.key): self._upsert_case(c, cs, now) for cs in results.cases}
            for i, a in enumerate(results.alerts):
                if i in results.alert_case:
                    a.case_id = case_ids[results.alert_case[i]]
                cur = c.execute(
                    "INSERT INTO alerts (rule, level, title, body, dedupe_key, post_ids, notifiers, case_id,"
                    " created_at, kind, topics, channels, raised_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
                    (a.rule, a.level.value, a.title, a.body, a.dedupe_key, dumps(a.post_ids), dumps(a.notifiers),
                     a.case_id, ts(a.created_at), a.kind, dumps(a.topics), dumps(a.channels),
                     ts(a.raised_at) if a.raised_at else now),
                )
                a.id = cur.lastrowid
                routes = a.routes if a.routes is not None else [(name, "", "") for name in a.notifiers]
                due = ts(a.hold_until) if a.hold_until else now
                c.executemany(
                    "INSERT OR IGNORE INTO deliveries (alert_id, notifier, recipient, reason, state, attempts,"
                    " next_attempt_at) VALUES (?, ?, ?, ?, 'pending', 0, ?)",
                    [(a.id, notifier, recipient, reason, due) for notifier, recipient, reason in routes],
                )
        return results.alerts

    def _auto_remove(self, c: sqlite3.Connection, removals: Sequence[tuple[int, str, ReasonCode, datetime]]) -> None:
        """A rule's removals: the post's flags go to 'removed' with a decision by "auto:<rule>" and an
        audit row. A post a person has already decided on is left to them (its new flag waits)."""
        done: set[int] = set()
        for post_id, rule, code, at in removals:
            if post_id in done or c.execute(
                    "SELECT 1 FROM decisions WHERE post_id = ? AND moderator NOT LIKE ? LIMIT 1",
                    (post_id, AUTO_MODERATOR_PREFIX + "%")).fetchone():
                continue
            done.add(post_id)
            moderator = AUTO_MODERATOR_PREFIX + rule
            c.execute("INSERT INTO decisions (post_id, moderator, action, reason_code, note, created_at)"
                      " VALUES (?, ?, 'remove', ?, '', ?)", (post_id, moderator, code.value, ts(at)))
            c.execute("UPDATE flags SET status = 'removed' WHERE post_id = ?", (post_id,))
            self._insert_audit(c, AuditEvent("system", "decision.auto_remove", f"post:{post_id}",
                                             {"rule": rule, "reason_code": code.value}))

    def _upsert_case(self, c: sqlite3.Connection, cs: Case, now: str) -> int:
        row = c.execute("SELECT id FROM cases WHERE kind = ? AND key = ?", (cs.kind.value, cs.key)).fetchone()
        if row is None:
            cur = c.execute(
                "INSERT INTO cases (kind, key, title, status, created_at, updated_at) VALUES (?,?,?,?,?,?)",
                (cs.kind.value, cs.key, cs.title, cs.status, ts(cs.created_at), now),
            )
            case_id = cur.lastrowid
        else:
            case_id = row["id"]
            # a rumour case keeps its first title: the claim as first told, not whatever post came last
            c.execute("UPDATE cases SET title = CASE WHEN kind = 'rumour' THEN title ELSE ? END, updated_at = ?,"
                      " status = 'open' WHERE id = ?", (cs.title, now, case_id))
        c.executemany("INSERT OR IGNORE INTO case_posts (case_id, post_id) VALUES (?, ?)",
                      [(case_id, pid) for pid in cs.post_ids])
        cs.id = case_id
        return case_id  # type: ignore[return-value]

    def last_alert_at(self, dedupe_key: str) -> datetime | None:
        r = self._one("SELECT max(created_at) AS t FROM alerts WHERE dedupe_key = ?", (dedupe_key,))
        return parse_ts(r["t"]) if r and r["t"] else None


def _clean(text: str | None, limit: int) -> str:
    """Text a dead letter may hold: broken UTF-16 halves replaced (SQLite stores UTF-8), cut."""
    return _SURROGATE.sub("\ufffd", text or "")[:limit]


def _chunks(items: list, n: int):
    for i in range(0, len(items), n):
        yield items[i : i + n]
