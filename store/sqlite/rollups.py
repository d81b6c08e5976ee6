"""Counts for the officers' dashboard, kept as posts are analysed (SQLite).

`daily_counts` holds analysed posts per local day, channel, topic and sentiment; `daily_words` the
keywords of non-spam posts per local day and channel (the word cloud). Both change in the transaction
that saves an analysis: a post analysed again first takes back what its previous analysis added, so
the counts always describe the current analyses. A day is a date in the store's time zone.

A day's words keep growing while posts of that day arrive; once a day is before yesterday (of the
newest post saved, and of the clock), only its WORDS_KEPT most frequent words per channel stay, so a year's cloud reads
at most days x channels x WORDS_KEPT rows. Words cut from a day are the long tail that could not reach a
cloud anyway; their counts for that day are gone, so a cloud's counts are a lower bound.

When the time zone changes, the tables are new on an existing store, or they count fewer posts than
are analysed (analyses written around `save_analyses`), `migrate()` counts every stored post again.
"""
from __future__ import annotations

import functools
import json
import logging
import re
from collections import Counter
from datetime import date, datetime, timedelta
from typing import Any, Callable, Iterable, Sequence
from zoneinfo import ZoneInfo

from core.domain import AUTO_MODERATOR_PREFIX, Analysis, Post, utcnow
from core.masking import redact
from store.base import CaseLine, DayCount
from store.codec import parse_ts, ts

log = logging.getLogger("sentinel.store")
WORDS_KEPT = 200
SPAM_CUTOFF = 0.5  # spam at or above this keeps its keywords out of the cloud
REBUILD_CHUNK = 20_000
_PII_LIKE = re.compile(r"\d{5,}|@")

CountKey = tuple[str, str, str, str]  # day, channel, topic, sentiment
WordKey = tuple[str, str, str]  # day, channel, word


def cloud_words(keywords: Iterable[str]) -> list[str]:
    """The keywords a post adds to the word cloud: two characters or more, nothing that looks like
    personal data (long digit runs, addresses, whatever `redact` would change), each word once."""
    out: list[str] = []
    for w in keywords:
        w = (w or "").strip()
        if _cloud_word(w) and w not in out:
            out.append(w)
    return out


@functools.lru_cache(maxsize=100_000)
def _cloud_word(w: str) -> bool:
    """May this (stripped) keyword be in the cloud? Keywords recur: each is checked once while cached."""
    return 2 <= len(w) <= 20 and not _PII_LIKE.search(w) and redact(w) == w


def local_day(at: datetime, zone: ZoneInfo) -> date:
    """The local date of a time (its UTC date at the ends of the calendar, where the zone overflows)."""
    try:
        return at.astimezone(zone).date()
    except OverflowError:
        return at.date()


def trim_cutoff(newest: str, zone: ZoneInfo) -> str:
    """Days before this are closed: the day before the newest day written, never later than
    yesterday (a post dated in the future must not close today)."""
    today = utcnow().astimezone(zone).date()
    newest_day = min(date.fromisoformat(newest), today)
    return (newest_day - timedelta(days=1)).isoformat() if newest_day > date.min else newest_day.isoformat()


class _Deltas:
    """Changes to the rollups from one batch of analyses, applied together."""

    def __init__(self, zone: ZoneInfo) -> None:
        self.zone = zone
        self.counts: Counter[CountKey] = Counter()
        self.polarity: Counter[CountKey] = Counter()
        self.words: Counter[WordKey] = Counter()
        self.newest = ""

    def add(self, channel: str, created_at: str | datetime, f: dict[str, Any], sign: int) -> None:
        # runs for every analysed post: plain dict updates (a Counter's += calls __missing__ per new key)
        at = datetime.fromisoformat(created_at) if isinstance(created_at, str) else created_at
        day = local_day(at, self.zone).isoformat()
        if day > self.newest:
            self.newest = day
        key = (day, channel, f["topic"] or "", f["sentiment"])
        counts, polarity = self.counts, self.polarity
        counts[key] = counts.get(key, 0) + sign
        polarity[key] = polarity.get(key, 0) + sign * float(f["polarity"])
        if float(f["spam"]) < SPAM_CUTOFF:
            kws = f["keywords"]
            words = self.words
            for w in cloud_words(json.loads(kws) if isinstance(kws, str) else kws):
                k = (day, channel, w)
                words[k] = words.get(k, 0) + sign


class RollupsMixin:
    timezone: str

    # ------------------------------------------------------------------ upkeep
    def migrate(self, progress: Any = None) -> list[str]:
        applied = super().migrate(progress)  # type: ignore[misc]
        row = self._one(  # type: ignore[attr-defined]
            "SELECT (SELECT value FROM rollup_meta WHERE key = 'tz') AS tz,"
            " (SELECT count(*) FROM analyses) AS analysed, (SELECT coalesce(sum(n), 0) FROM daily_counts) AS counted")
        # Fewer counted than analysed: analyses written around save_analyses (by hand, an old version).
        # More is fine: posts deleted later (retention) stay in the day's counts.
        if row["tz"] != self.timezone or row["counted"] < row["analysed"]:
            self.rebuild_rollups(progress)
        return applied

    def _rollup_swap(self, c: Any, items: Sequence[tuple[Post, dict[str, Any]]]) -> None:
        """Inside the transaction saving analyses, BEFORE they replace the old rows: take back what
        each post's previous analysis counted and count the new one. `items`: (post, fields). Only
        the previous analyses are read (a post analysed for the first time is counted from its own
        channel and time; a post gone meanwhile fails the save that follows, counts and all)."""
        d = _Deltas(ZoneInfo(self.timezone))
        last = {p.id: (p, f) for p, f in items}  # a post twice in one batch: its last analysis is the one stored
        ids = list(last)
        old: dict[int, Any] = {}
        for i in range(0, len(ids), 500):  # one query per 500 posts, not one per post
            chunk = ids[i : i + 500]
            old.update((r["id"], r) for r in c.execute(
                "SELECT p.id, p.channel, p.created_at, a.topic, a.sentiment, a.polarity, a.spam, a.keywords"
                f" FROM analyses a CROSS JOIN posts p ON p.id = a.post_id WHERE a.post_id IN"
                f" ({','.join('?' * len(chunk))})", chunk))
        for post, new in last.values():
            r = old.get(post.id)
            if r is not None:
                d.add(r["channel"], r["created_at"], dict(r), -1)
                d.add(r["channel"], r["created_at"], new, +1)
            else:
                d.add(post.channel, post.created_at, new, +1)
        self._apply_deltas(c, d)

    def _apply_deltas(self, c: Any, d: _Deltas) -> None:
        c.executemany(
            "INSERT INTO daily_counts (day, channel, topic, sentiment, n, polarity) VALUES (?,?,?,?,?,?)"
            " ON CONFLICT (day, channel, topic, sentiment) DO UPDATE SET n = n + excluded.n,"
            " polarity = polarity + excluded.polarity",
            [(*k, n, d.polarity[k]) for k, n in d.counts.items() if n or d.polarity[k]])
        c.executemany(
            "INSERT INTO daily_words (day, channel, word, n) VALUES (?,?,?,?)"
            " ON CONFLICT (day, channel, word) DO UPDATE SET n = n + excluded.n",
            [(*k, n) for k, n in d.words.items() if n > 0])
        taken = [k for k, n in d.words.items() if n < 0]
        c.executemany("UPDATE daily_words SET n = n + ? WHERE day = ? AND channel = ? AND word = ?",
                      [(d.words[k], *k) for k in taken])
        c.executemany("DELETE FROM daily_words WHERE day = ? AND channel = ? AND word = ? AND n <= 0", taken)
        if d.newest:
            self._trim_words(c, trim_cutoff(d.newest, d.zone))

    def _trim_words(self, c: Any, before: str) -> None:
        """Keep only the top WORDS_KEPT words per channel of every day before `before` not trimmed yet."""
        done = c.execute("SELECT value FROM rollup_meta WHERE key = 'words_trimmed_before'").fetchone()
        start = done["value"] if done else ""
        if before <= start:
            return
        # only the (day, channel) groups holding more words than are kept are ranked: counting a group
        # walks the primary key in order, ranking it sorts it (six times faster when few groups are full)
        c.execute(
            "DELETE FROM daily_words WHERE (day, channel, word) IN (SELECT day, channel, word FROM ("
            " SELECT day, channel, word, row_number() OVER (PARTITION BY day, channel ORDER BY n DESC, word) AS r"
            " FROM daily_words WHERE day >= ?1 AND day < ?2 AND (day, channel) IN (SELECT day, channel"
            " FROM daily_words WHERE day >= ?1 AND day < ?2 GROUP BY day, channel HAVING count(*) > ?3))"
            " WHERE r > ?3)", (start, before, WORDS_KEPT))
        c.execute("INSERT INTO rollup_meta (key, value) VALUES ('words_trimmed_before', ?)"
                  " ON CONFLICT (key) DO UPDATE SET value = excluded.value", (before,))

    def rebuild_rollups(self, progress: Callable[[str], None] | None = None) -> int:
        """Count every analysed post again (after the tables are created, or the time zone changed)."""
        total = int(self._one("SELECT count(*) AS n FROM analyses")["n"])  # type: ignore[attr-defined,index]
        msg = f"看板统计表：按时区 {self.timezone} 重新统计 {total} 条已分析帖子"
        log.info(msg)
        if progress:
            progress(msg)
        with self._tx() as c:  # type: ignore[attr-defined]
            c.execute("DELETE FROM daily_counts")
            c.execute("DELETE FROM daily_words")
            c.execute("UPDATE rollup_meta SET value = '' WHERE key IN ('tz', 'words_trimmed_before')")
        last, done = 0, 0
        while True:
            rows = self._rows(  # type: ignore[attr-defined]
                "SELECT p.id, p.channel, p.created_at, a.topic, a.sentiment, a.polarity, a.spam, a.keywords"
                " FROM analyses a CROSS JOIN posts p ON p.id = a.post_id WHERE a.post_id > ?"
                " ORDER BY a.post_id LIMIT ?", (last, REBUILD_CHUNK))
            if not rows:
                break
            d = _Deltas(ZoneInfo(self.timezone))
            for r in rows:
                d.add(r["channel"], r["created_at"], dict(r), +1)
            d.newest = ""  # trimmed once at the end, over the whole history
            with self._tx() as c:  # type: ignore[attr-defined]
                self._apply_deltas(c, d)
            last, done = rows[-1]["id"], done + len(rows)
            if progress:
                progress(f"看板统计表：{done}/{total}")
        with self._tx() as c:  # type: ignore[attr-defined]
            newest = c.execute("SELECT max(day) AS d FROM daily_counts").fetchone()["d"]
            if newest:
                self._trim_words(c, trim_cutoff(newest, ZoneInfo(self.timezone)))
            c.execute("UPDATE rollup_meta SET value = ? WHERE key = 'tz'", (self.timezone,))
        log.info("看板统计表已重建：%d 条帖子", done)
        return done

    # ------------------------------------------------------------------ reading
    def daily_counts(self, first: date, last: date, channel: str | None = None) -> list[DayCount]:
        where, params = "day >= ? AND day <= ?", [first.isoformat(), last.isoformat()]
        if channel:
            where += " AND channel = ?"
            params.append(channel)
        cur = self._conn().cursor()  # type: ignore[attr-defined]
        cur.row_factory = None  # plain tuples: a year is some 30,000 rows
        rows = cur.execute(
            f"SELECT day, channel, topic, sentiment, n, polarity FROM daily_counts WHERE {where} AND n != 0", params)
        days: dict[str, date] = {}
        return [DayCount(days.get(d) or days.setdefault(d, date.fromisoformat(d)), ch, tp, se, n, pol)
                for d, ch, tp, se, n, pol in rows]

    def top_words(self, first: date, last: date, channel: str | None = None, limit: int = 100) -> list[tuple[str, int]]:
        where, params = "day >= ? AND day <= ?", [first.isoformat(), last.isoformat()]
        if channel:
            where += " AND channel = ?"
            params.append(channel)
        rows = self._rows(  # type: ignore[attr-defined]
            f"SELECT word, sum(n) AS n FROM daily_words WHERE {where} GROUP BY word HAVING sum(n) > 0"
            " ORDER BY n DESC, word LIMIT ?", (*params, limit))
        return [(r["word"], int(r["n"])) for r in rows]

    def rollup_channels(self, first: date, last: date) -> list[str]:
        rows = self._rows("SELECT DISTINCT channel FROM daily_counts WHERE day >= ? AND day <= ? AND n > 0"  # type: ignore[attr-defined]
                          " ORDER BY channel", (first.isoformat(), last.isoformat()))
        return [r["channel"] for r in rows]

    def drill_posts(self, since: datetime, until: datetime, *, channel: str | None = None, topic: str | None = None,
                    word: str | None = None, sentiment: str | None = None, before: tuple[datetime, int] | None = None,
                    limit: int = 20, scan: int = 20_000) -> tuple[list[tuple[Post, Analysis]], tuple[datetime, int] | None]:
        """Analysed posts of [since, until) matching the filters, newest first, continuing after
        `before`. At most `scan` posts of the period are looked at per call; when they yield fewer
        than `limit`, the second value is where the next call goes on looking (else None)."""
        from store.sqlite.posts import ANALYSIS_SELECT, post_select, row_to_analysis, row_to_post

        window = ["created_at >= ?", "created_at < ?"]
        params: list[Any] = [ts(since), ts(until)]
        if before is not None:
            window.append("(created_at < ? OR (created_at = ? AND id < ?))")
            params += [ts(before[0]), ts(before[0]), before[1]]
        where, fparams = [], []
        if channel:
            where.append("+p.channel = ?")
            fparams.append(channel)
        if topic is not None:
            where.append("coalesce(a.topic, '') = ?")
            fparams.append(topic)
        if sentiment:
            where.append("a.sentiment = ?")
            fparams.append(sentiment)
        if word:
            where.append(f"a.spam < {SPAM_CUTOFF} AND instr(a.keywords, ?) > 0")
            fparams.append(json.dumps(word, ensure_ascii=False))
        inner = (f"SELECT id FROM posts WHERE {' AND '.join(window)} ORDER BY created_at DESC, id DESC LIMIT ?")
        rows = self._rows(  # type: ignore[attr-defined]
            f"SELECT {post_select()}, {ANALYSIS_SELECT} FROM ({inner}) w CROSS JOIN posts p ON p.id = w.id"
            f" CROSS JOIN analyses a ON a.post_id = p.id{' WHERE ' + ' AND '.join(where) if where else ''}"
            " ORDER BY p.created_at DESC, p.id DESC LIMIT ?", (*params, scan, *fparams, limit))
        found = [(row_to_post(r), row_to_analysis(r)) for r in rows]
        resume = None
        if len(found) < limit:
            edge = self._one(  # type: ignore[attr-defined]
                f"SELECT id, created_at FROM posts WHERE {' AND '.join(window)} ORDER BY created_at DESC, id DESC"
                " LIMIT 1 OFFSET ?", (*params, scan - 1))
            if edge is not None:
                resume = (parse_ts(edge["created_at"]), int(edge["id"]))  # type: ignore[assignment]
        return found, resume

    def moderation_times(self, since: datetime, until: datetime, channel: str | None = None
                         ) -> list[tuple[datetime, datetime | None, bool]]:
        """Decisions of the period: (decided at, first flag of the post at, made by a rule)."""
        join, params = "", [ts(since), ts(until)]
        if channel:
            join = " CROSS JOIN posts p ON p.id = d.post_id AND +p.channel = ?"  # the period first, then each post
            params = [channel, *params]
        rows = self._rows(  # type: ignore[attr-defined]
            "SELECT d.moderator, d.created_at AS decided,"
            " (SELECT min(f.created_at) FROM flags f WHERE f.post_id = d.post_id) AS flagged"
            f" FROM decisions d{join} WHERE d.created_at >= ? AND d.created_at < ?", params)
        return [(parse_ts(r["decided"]), parse_ts(r["flagged"]), r["moderator"].startswith(AUTO_MODERATOR_PREFIX))  # type: ignore[misc]
                for r in rows]

    def flag_times(self, since: datetime, until: datetime, channel: str | None = None) -> list[datetime]:
        """When the period's flagged posts were first flagged (one time per post and day)."""
        join, params = "", [ts(since), ts(until)]
        if channel:
            join = " CROSS JOIN posts p ON p.id = f.post_id AND +p.channel = ?"
            params = [channel, *params]
        rows = self._rows(  # type: ignore[attr-defined]
            f"SELECT min(f.created_at) AS t FROM flags f{join} WHERE f.created_at >= ? AND f.created_at < ?"
            " GROUP BY f.post_id", params)
        return [parse_ts(r["t"]) for r in rows]  # type: ignore[misc]

    def cases_opened(self, since: datetime, until: datetime, channel: str | None = None, limit: int = 50
                     ) -> list[CaseLine]:
        where, params = "c.created_at >= ? AND c.created_at < ?", [ts(since), ts(until)]
        if channel:
            where += (" AND EXISTS (SELECT 1 FROM case_posts cp CROSS JOIN posts p ON p.id = cp.post_id"
                      " WHERE cp.case_id = c.id AND +p.channel = ?)")
            params.append(channel)
        rows = self._rows(  # type: ignore[attr-defined]
            "SELECT c.id, c.kind, c.title, c.state, c.status, c.created_at, c.clarified_at,"
            " (SELECT count(*) FROM case_posts cp WHERE cp.case_id = c.id) AS posts,"
            " (SELECT min(r.created_at) FROM case_responses r WHERE r.case_id = c.id) AS answered"
            f" FROM cases c WHERE {where} ORDER BY c.created_at DESC, c.id DESC LIMIT ?", (*params, limit))
        return [CaseLine(int(r["id"]), r["kind"], r["title"], r["state"], r["status"], parse_ts(r["created_at"]),  # type: ignore[arg-type]
                         int(r["posts"]), parse_ts(r["answered"]), parse_ts(r["clarified_at"])) for r in rows]
