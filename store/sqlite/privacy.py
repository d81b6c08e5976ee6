"""Retention, erasure and the aggregates of deleted posts (SQLite). See store/migrations/0010_retention.sql
for the tables and core/privacy.py for the policy.

Deleting a post deletes every row that refers to it: the tables are found from the schema's foreign
keys (so a table added later is covered), plus the search index. Its counts are folded into
`post_aggregates` in the same transaction, so reports and dashboards keep their numbers.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import datetime, timedelta
from typing import Any, Iterable, Sequence

from core.domain import AuditEvent, PIISpan, utcnow
from core.masking import mask_name, redact, redact_spans
from core.privacy import MIN_QUOTE, quote_sources, strip_quotes
from store.base import Erasure
from store.codec import dumps, ts

PURGED_BEFORE = "purged_before"
LEFTOVERS_AT = "leftovers_purged_at"
STUCK_AFTER = timedelta(days=1)  # a post not analysed and ruled this long after ingestion is redacted anyway
DEAD_REDACTED_BEFORE = "dead_letters_redacted_before"

# The aggregate of the posts in temp table _doomed, added to post_aggregates.
_FOLD = """
INSERT INTO post_aggregates (hour, channel, topic, sentiment, total, polarity_sum, spam, rumour, grievance, abuse,
                             pii, flagged, removed)
SELECT substr(p.created_at, 1, 13) || ':00:00.000000+00:00', p.channel, coalesce(a.topic, ''),
       coalesce(a.sentiment, ''), count(*), coalesce(sum(a.polarity), 0),
       coalesce(sum(a.spam >= 0.5), 0), coalesce(sum(a.rumour >= 0.5), 0), coalesce(sum(a.grievance >= 0.5), 0),
       coalesce(sum(a.abuse >= 0.5), 0), coalesce(sum(a.pii NOT IN ('', '[]')), 0),
       sum(EXISTS (SELECT 1 FROM flags f WHERE f.post_id = p.id)),
       sum(EXISTS (SELECT 1 FROM flags f WHERE f.post_id = p.id AND f.status = 'removed'))
FROM posts p LEFT JOIN analyses a ON a.post_id = p.id
WHERE p.id IN (SELECT id FROM _doomed)
GROUP BY 1, 2, 3, 4
ON CONFLICT (hour, channel, topic, sentiment) DO UPDATE SET
    total = total + excluded.total, polarity_sum = polarity_sum + excluded.polarity_sum,
    spam = spam + excluded.spam, rumour = rumour + excluded.rumour, grievance = grievance + excluded.grievance,
    abuse = abuse + excluded.abuse, pii = pii + excluded.pii, flagged = flagged + excluded.flagged,
    removed = removed + excluded.removed
"""

_FOLD_TOTALS = """
INSERT INTO post_aggregate_totals (channel, total, analyzed, flagged)
SELECT p.channel, count(*), count(a.post_id), sum(EXISTS (SELECT 1 FROM flags f WHERE f.post_id = p.id))
FROM posts p LEFT JOIN analyses a ON a.post_id = p.id
WHERE p.id IN (SELECT id FROM _doomed)
GROUP BY p.channel
ON CONFLICT (channel) DO UPDATE SET total = total + excluded.total, analyzed = analyzed + excluded.analyzed,
    flagged = flagged + excluded.flagged
"""


def erased_key(channel: str, source_id: str) -> str:
    return hashlib.sha256(f"{channel}\0{source_id}".encode("utf-8", "surrogatepass")).hexdigest()


def _redact_json(value: Any) -> Any:
    """Every string inside a JSON value redacted (keys kept)."""
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_redact_json(v) for v in value]
    if isinstance(value, dict):
        return {k: _redact_json(v) for k, v in value.items()}
    return value


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(v)


class PrivacyMixin:
    # ------------------------------------------------------------------ meta
    def _meta(self, key: str) -> str | None:
        r = self._one("SELECT value FROM store_meta WHERE key = ?", (key,))
        return r["value"] if r else None

    @staticmethod
    def _set_meta(c: sqlite3.Connection, key: str, value: str) -> None:
        c.execute("INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value ="
                  " max(value, excluded.value)", (key, value))

    # ------------------------------------------------------------------ retention: personal data
    def redact_personal_data(self, before: datetime, limit: int = 500) -> int:
        """Replace the personal data of up to `limit` posts written before `before` (analysed and seen
        by the rules, not yet redacted) in place: text, thread, author name, platform extras, earlier
        versions, the analysis' normalised text, keywords and reasons, and the search index. The
        analysis keeps its PII spans (kind and where the masked value now is). A post still not
        analysed and ruled a day after it arrived (quarantined) is redacted as well. Returns how many."""
        stuck = ts(utcnow() - STUCK_AFTER)  # never analysed or ruled (quarantined): redacted all the same
        rows = self._rows(
            "SELECT p.id, p.version, p.text, p.thread, p.author_name, p.raw, a.post_id AS analysed, a.normalized,"
            " a.keywords, a.reasons, a.pii FROM posts p LEFT JOIN analyses a ON a.post_id = p.id"
            " WHERE p.redacted_at IS NULL AND p.created_at < ? AND ((p.analyzed_version = p.version"
            " AND p.ruled_version >= p.version) OR p.ingested_at < ?) ORDER BY p.created_at LIMIT ?",
            (ts(before), stuck, limit))
        if not rows:
            return 0
        self._forget_fresh()  # analyses are rewritten below, not through save_analyses
        now = ts(utcnow())
        updates = []
        redacted = [redact_spans(r["text"], [PIISpan(**s) for s in json.loads(r["pii"] or "[]")]) for r in rows]
        index = self.tokenize_many([text for text, _ in redacted])
        for r, (text, moved), tokens in zip(rows, redacted, index):
            reasons = [{**x, "text": redact(x.get("text", ""))} for x in json.loads(r["reasons"] or "[]")]
            updates.append((
                r["id"], r["version"], text, redact(r["thread"]) if r["thread"] else r["thread"],
                mask_name(r["author_name"]) if r["author_name"] else r["author_name"],
                dumps(_redact_json(json.loads(r["raw"] or "{}"))), redact(r["normalized"] or ""),
                dumps([redact(k) for k in json.loads(r["keywords"] or "[]")]), dumps(reasons),
                dumps([{"kind": s.kind, "start": s.start, "end": s.end} for s in moved]),
                " ".join(tokens), r["analysed"] is not None,
            ))
        done = 0
        with self._tx() as c:
            for pid, version, text, thread, name, raw, norm, keywords, reasons, pii, tokens, analysed in updates:
                cur = c.execute("UPDATE posts SET text = ?, thread = ?, author_name = ?, raw = ?, redacted_at = ?"
                                " WHERE id = ? AND version = ? AND redacted_at IS NULL",
                                (text, thread, name, raw, now, pid, version))
                if not cur.rowcount:  # edited in the meantime: the next run takes the new version
                    continue
                done += 1
                for v in c.execute("SELECT version, text FROM post_versions WHERE post_id = ?", (pid,)).fetchall():
                    c.execute("UPDATE post_versions SET text = ? WHERE post_id = ? AND version = ?",
                              (redact(v["text"]), pid, v["version"]))
                for q in c.execute("SELECT stage, version, error FROM quarantine WHERE post_id = ?", (pid,)).fetchall():
                    c.execute("UPDATE quarantine SET error = ? WHERE post_id = ? AND stage = ? AND version = ?",
                              (redact(q["error"]), pid, q["stage"], q["version"]))
                if analysed:
                    c.execute("UPDATE analyses SET normalized = ?, keywords = ?, reasons = ?, pii = ? WHERE post_id = ?",
                              (norm, keywords, reasons, pii, pid))
                    c.execute("DELETE FROM posts_fts WHERE rowid = ?", (pid,))
                    c.execute("INSERT INTO posts_fts (rowid, tokens) VALUES (?, ?)", (pid, tokens))
        return done

    def redact_dead_letters(self, before: datetime) -> int:
        """Redact the records and errors of dead letters created before `before` (once each)."""
        since = self._meta(DEAD_REDACTED_BEFORE) or ""
        rows = self._rows("SELECT id, raw, error FROM dead_letters WHERE created_at >= ? AND created_at < ?",
                          (since, ts(before)))
        with self._tx() as c:
            for r in rows:
                c.execute("UPDATE dead_letters SET raw = ?, error = ? WHERE id = ?",
                          (redact(r["raw"]), redact(r["error"]), r["id"]))
            self._set_meta(c, DEAD_REDACTED_BEFORE, ts(before))
        return len(rows)

    # ------------------------------------------------------------------ retention: deletion
    def purge_posts(self, before: datetime, limit: int = 2000) -> int:
        """Delete up to `limit` posts written before `before` with everything that refers to them,
        their counts folded into post_aggregates first. Ingesting such a post again is ignored."""
        with self._tx() as c:
            self._set_meta(c, PURGED_BEFORE, ts(before))
            ids = [r["id"] for r in c.execute("SELECT id FROM posts WHERE created_at < ? ORDER BY created_at LIMIT ?",
                                              (ts(before), limit))]
            if ids:
                self._delete_posts(c, ids)
        return len(ids)

    def purge_dead_letters(self, before: datetime) -> int:
        with self._tx() as c:
            return c.execute("DELETE FROM dead_letters WHERE created_at < ?", (ts(before),)).rowcount

    def _delete_posts(self, c: sqlite3.Connection, ids: Sequence[int]) -> dict[str, int]:
        """Fold the posts into post_aggregates, then delete them and every row referring to them.
        Returns rows deleted per table."""
        c.execute("CREATE TEMP TABLE IF NOT EXISTS _doomed (id INTEGER PRIMARY KEY)")
        c.execute("DELETE FROM _doomed")
        c.executemany("INSERT OR IGNORE INTO _doomed (id) VALUES (?)", [(i,) for i in ids])
        c.execute(_FOLD)
        c.execute(_FOLD_TOTALS)
        counts: dict[str, int] = {}
        for table, column in self._post_references(c):
            n = c.execute(f'DELETE FROM "{table}" WHERE "{column}" IN (SELECT id FROM _doomed)').rowcount
            if n:
                counts[table] = counts.get(table, 0) + n
        counts["posts_fts"] = c.execute("DELETE FROM posts_fts WHERE rowid IN (SELECT id FROM _doomed)").rowcount
        counts["posts"] = c.execute("DELETE FROM posts WHERE id IN (SELECT id FROM _doomed)").rowcount
        c.execute("DELETE FROM _doomed")
        return counts

    @staticmethod
    def _post_references(c: sqlite3.Connection) -> list[tuple[str, str]]:
        """(table, column) of every foreign key to posts, from the schema itself."""
        rows = c.execute(
            "SELECT m.name AS t, f.\"from\" AS col FROM sqlite_master m, pragma_foreign_key_list(m.name) f"
            " WHERE m.type = 'table' AND f.\"table\" = 'posts' ORDER BY m.name").fetchall()
        return [(r["t"], r["col"]) for r in rows]

    def purge_leftovers(self, now: datetime, every: timedelta | None = None) -> bool:
        """Make deleted and redacted text unrecoverable: the search index keeps the terms of deleted
        rows in its segments until they are merged, so merge them all ('optimize'), then checkpoint
        the write-ahead log (deleted pages are zeroed: secure_delete). With `every`, only when the
        last time was longer ago than that (the merge rewrites the whole index). True if it ran."""
        if every is not None:
            last = self._meta(LEFTOVERS_AT)
            if last is not None and now - datetime.fromisoformat(last) < every:
                return False
        with self._tx() as c:
            c.execute("INSERT INTO posts_fts (posts_fts) VALUES ('optimize')")
            c.execute("INSERT INTO store_meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET"
                      " value = excluded.value", (LEFTOVERS_AT, ts(now)))
        self._conn().execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchall()
        return True

    # ------------------------------------------------------------------ erasure on request
    def erase_author(self, author: str, channel: str | None, audit: AuditEvent) -> Erasure:
        """Erase every post of `author` (on `channel`, or on all channels) wherever it lives, in one
        transaction with the audit event (whose detail gets the counts, never the content)."""
        where, params = "author = ?", [author]
        if channel:
            where += " AND channel = ?"
            params.append(channel)
        self._forget_fresh()
        with self._tx() as c:
            posts = c.execute(f"SELECT id, channel, source_id, text, thread, author_name FROM posts WHERE {where}",
                              params).fetchall()
            ids = [r["id"] for r in posts]
            texts = quote_sources(self._erased_texts(c, posts))
            # the author's display names too (not the thread: that is the article or group, not theirs)
            sources = texts + [n for n in dict.fromkeys(r["author_name"] for r in posts)
                               if n and len(n) >= 2 and n not in texts]
            result = Erasure(posts=len(ids), sources=sources)
            if ids:
                alerts = self._alerts_of(c, ids)
                case_ids = [r["case_id"] for r in c.execute(
                    f"SELECT DISTINCT case_id FROM case_posts WHERE post_id IN ({','.join('?' * len(ids))})", ids)]
                result.rows.update(self._delete_posts(c, ids))
                c.executemany("INSERT OR IGNORE INTO erased_posts (key_hash, erased_at) VALUES (?, ?)",
                              [(erased_key(r["channel"], r["source_id"]), ts(audit.at)) for r in posts])
                self._scrub_alerts(c, alerts, set(ids), sources, result)
                self._scrub_cases(c, case_ids, sources, result)
            self._erase_raw(c, author, channel, texts, result)
            audit.detail = {**audit.detail, "author": author, "channel": channel, "posts": result.posts,
                            "rows": {k: v for k, v in sorted(result.rows.items()) if v}}
            self._insert_audit(c, audit)
        if result.posts:
            self.purge_leftovers(audit.at)
        return result

    @staticmethod
    def _erased_texts(c: sqlite3.Connection, posts: Sequence[sqlite3.Row]) -> list[tuple[str, list[PIISpan]]]:
        texts: list[tuple[str, list[PIISpan]]] = []
        for r in posts:
            a = c.execute("SELECT pii FROM analyses WHERE post_id = ?", (r["id"],)).fetchone()
            spans = [PIISpan(**s) for s in json.loads(a["pii"] or "[]")] if a else []
            texts.append((r["text"], spans))
            texts += [(v["text"], []) for v in c.execute("SELECT text FROM post_versions WHERE post_id = ?", (r["id"],))]
        return texts

    @staticmethod
    def _alerts_of(c: sqlite3.Connection, ids: Sequence[int]) -> list[sqlite3.Row]:
        c.execute("CREATE TEMP TABLE IF NOT EXISTS _erased (id INTEGER PRIMARY KEY)")
        c.execute("DELETE FROM _erased")
        c.executemany("INSERT OR IGNORE INTO _erased (id) VALUES (?)", [(i,) for i in ids])
        rows = c.execute("SELECT DISTINCT a.id, a.title, a.body, a.post_ids FROM alerts a, json_each(a.post_ids) j"
                         " WHERE j.value IN (SELECT id FROM _erased)").fetchall()
        c.execute("DELETE FROM _erased")
        return rows

    @staticmethod
    def _scrub_alerts(c: sqlite3.Connection, alerts: Sequence[sqlite3.Row], ids: set[int], sources: list[str],
                      result: Erasure) -> None:
        """Alert titles and bodies lose the erased quotations and their post lists the erased posts; an
        alert left with no post is not sent any more (its unsent deliveries are dropped)."""
        for a in alerts:
            left = [i for i in json.loads(a["post_ids"]) if i not in ids]
            c.execute("UPDATE alerts SET title = ?, body = ?, post_ids = ? WHERE id = ?",
                      (strip_quotes(a["title"], sources), strip_quotes(a["body"], sources), dumps(left), a["id"]))
            result.rows["alerts"] = result.rows.get("alerts", 0) + 1
            if not left:
                n = c.execute("DELETE FROM deliveries WHERE alert_id = ? AND state != 'sent'", (a["id"],)).rowcount
                if n:
                    result.rows["deliveries"] = result.rows.get("deliveries", 0) + n

    @staticmethod
    def _scrub_cases(c: sqlite3.Connection, case_ids: Sequence[int], sources: list[str], result: Erasure) -> None:
        for case_id in case_ids:
            r = c.execute("SELECT title FROM cases WHERE id = ?", (case_id,)).fetchone()
            c.execute("UPDATE cases SET title = ? WHERE id = ?", (strip_quotes(r["title"], sources), case_id))
            for resp in c.execute("SELECT id, text FROM case_responses WHERE case_id = ?", (case_id,)).fetchall():
                c.execute("UPDATE case_responses SET text = ? WHERE id = ?",
                          (strip_quotes(resp["text"], sources), resp["id"]))
            result.rows["cases"] = result.rows.get("cases", 0) + 1

    @staticmethod
    def _erase_raw(c: sqlite3.Connection, author: str, channel: str | None, texts: list[str],
                   result: Erasure) -> None:
        """Dead letters that are the author's records, and pushed events (the inbound queue) that
        carry one of the erased texts (as a whole value, or inside one when it is long enough to
        be theirs alone)."""
        dead = []
        for r in c.execute("SELECT id, channel, raw FROM dead_letters").fetchall():
            try:
                record = json.loads(r["raw"])
            except ValueError:
                continue
            if isinstance(record, dict) and str(record.get("author")) == author and (
                    not channel or record.get("channel", r["channel"]) == channel):
                dead.append(r["id"])
        if dead:
            result.rows["dead_letters"] = c.executemany("DELETE FROM dead_letters WHERE id = ?",
                                                        [(i,) for i in dead]).rowcount
        if not texts:
            return
        exact, inside = set(texts), [t for t in texts if len(t) >= MIN_QUOTE]
        gone = []
        for r in c.execute("SELECT id, payload FROM inbound").fetchall():
            try:
                values = [" ".join(v.split()) for v in _strings(json.loads(r["payload"]))]
            except ValueError:
                values = [r["payload"]]
            if any(v in exact or any(t in v for t in inside) for v in values):
                gone.append(r["id"])
        if gone:
            result.rows["inbound"] = c.executemany("DELETE FROM inbound WHERE id = ?", [(i,) for i in gone]).rowcount
