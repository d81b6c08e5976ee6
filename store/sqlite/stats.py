"""Aggregates for the dashboard and /healthz (SQLite).

Posts deleted by retention or erased on request are counted on in `post_aggregates` (per UTC hour,
channel, topic and sentiment; store/migrations/0010_retention.sql describes every column) and, over
all time, in `post_aggregate_totals` (per channel). Every count of posts here adds them: a query over
`posts` for a period adds `_aggregated(key, ts(since), ts(until), where)` — rows (k, n, neg) of the
deleted posts by a column of post_aggregates — merged with `_merged`. A new count of posts (trends
by topic or channel, …) should do the same, or it drops to zero for periods retention has emptied.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from core.domain import AUTO_MODERATOR_PREFIX, Analysis, Post, utcnow
from store.base import SeriesPoint
from store.codec import parse_ts, ts


class StatsMixin:
    def period_stats(self, since: datetime, until: datetime) -> dict:
        a, b = ts(since), ts(until)
        live_channel = self._rows(
            "SELECT p.channel AS k, count(*) AS n, sum(a.sentiment = 'neg') AS neg FROM posts p"
            " LEFT JOIN analyses a ON a.post_id = p.id WHERE p.created_at >= ? AND p.created_at < ?"
            " GROUP BY p.channel", (a, b))
        by_channel = _merged(live_channel, self._aggregated("channel", a, b))
        live_topic = self._rows(
            "SELECT coalesce(a.topic, '') AS k, count(*) AS n, sum(a.sentiment = 'neg') AS neg FROM posts p"
            " JOIN analyses a ON a.post_id = p.id WHERE p.created_at >= ? AND p.created_at < ?"
            " GROUP BY 1", (a, b))
        by_topic = _merged(live_topic, self._aggregated("topic", a, b, "sentiment != ''"))
        flags = self._one(
            "SELECT count(DISTINCT f.post_id) AS flagged, count(DISTINCT CASE WHEN f.status = 'removed'"
            " THEN f.post_id END) AS removed FROM flags f WHERE f.created_at >= ? AND f.created_at < ?", (a, b))
        gone = self._one("SELECT coalesce(sum(flagged), 0) AS flagged, coalesce(sum(removed), 0) AS removed,"
                         " coalesce(sum(grievance), 0) AS leads FROM post_aggregates WHERE hour >= ? AND hour < ?",
                         (a, b))
        alerts = {r["level"]: int(r["n"]) for r in self._rows(
            "SELECT level, count(*) AS n FROM alerts WHERE created_at >= ? AND created_at < ? GROUP BY level", (a, b))}
        leads = self._one(
            "SELECT count(*) AS n FROM analyses a JOIN posts p ON p.id = a.post_id"
            " WHERE a.grievance >= 0.5 AND p.created_at >= ? AND p.created_at < ?", (a, b))
        decisions = [(r["moderator"], r["decided"], r["flagged"]) for r in self._rows(
            "SELECT d.moderator, d.created_at AS decided,"
            " (SELECT min(f.created_at) FROM flags f WHERE f.post_id = d.post_id) AS flagged"
            " FROM decisions d WHERE d.created_at >= ? AND d.created_at < ?", (a, b))]
        auto = [mod.startswith(AUTO_MODERATOR_PREFIX) for mod, _, _ in decisions]
        minutes = sorted((parse_ts(d) - parse_ts(f)).total_seconds() / 60  # type: ignore[operator]
                         for (_, d, f), is_auto in zip(decisions, auto) if f and not is_auto)
        cases = [int(r["id"]) for r in self._rows(
            "SELECT id FROM cases WHERE kind = 'rumour' AND updated_at >= ? AND created_at < ?"
            " ORDER BY updated_at DESC LIMIT 20", (a, b))]
        return {
            "by_channel": by_channel, "by_topic": by_topic,
            "posts": sum(n for n, _ in by_channel.values()), "negative": sum(g for _, g in by_channel.values()),
            "flagged": int(flags["flagged"] or 0) + int(gone["flagged"]),
            "removed": int(flags["removed"] or 0) + int(gone["removed"]),
            "alerts": alerts, "leads": int(leads["n"] or 0) + int(gone["leads"]),
            "auto_removed": sum(auto),
            "response_minutes": minutes, "rumour_case_ids": cases,
        }

    def _aggregated(self, key: str, since: str, until: str, where: str = "1") -> list:
        """(k, n, neg) of deleted posts per `key` column of post_aggregates, hours starting in the period."""
        return self._rows(
            f"SELECT {key} AS k, sum(total) AS n, sum(CASE WHEN sentiment = 'neg' THEN total ELSE 0 END) AS neg"
            f" FROM post_aggregates WHERE hour >= ? AND hour < ? AND {where} GROUP BY 1", (since, until))

    def grievance_leads(self, since: datetime, until: datetime, min_score: float = 0.5, topic: str | None = None,
                        before: tuple[datetime, int] | None = None, limit: int = 50, state: str | None = None,
                        channel: str | None = None) -> list[tuple[Post, Analysis]]:
        from store.sqlite.posts import ANALYSIS_SELECT, post_select, row_to_analysis, row_to_post

        where = ["a.grievance >= ?", "p.created_at >= ?", "p.created_at < ?"]
        params: list = [min_score, ts(since), ts(until)]
        if channel:
            where.append("+p.channel = ?")  # "+": read the period by time, not the channel's whole history
            params.append(channel)
        if state == "open":
            where.append("NOT EXISTS (SELECT 1 FROM leads l WHERE l.post_id = p.id)")
        elif state is not None:
            where.append("EXISTS (SELECT 1 FROM leads l WHERE l.post_id = p.id AND l.state = ?)")
            params.append(state)
        if topic is not None:
            where.append("coalesce(a.topic, '') = ?")
            params.append(topic)
        if before is not None:
            where.append("(p.created_at < ? OR (p.created_at = ? AND p.id < ?))")
            params += [ts(before[0]), ts(before[0]), before[1]]
        rows = self._rows(
            f"SELECT {post_select()}, {ANALYSIS_SELECT} FROM analyses a JOIN posts p ON p.id = a.post_id"
            f" WHERE {' AND '.join(where)} ORDER BY p.created_at DESC, p.id DESC LIMIT ?",
            (*params, limit),
        )
        return [(row_to_post(r), row_to_analysis(r)) for r in rows]

    def set_lead_state(self, post_id: int, state: str | None, note: str, by: str, audit) -> None:
        with self._tx() as c:
            if state is None:
                c.execute("DELETE FROM leads WHERE post_id = ?", (post_id,))
            else:
                c.execute("INSERT INTO leads (post_id, state, note, updated_by, updated_at) VALUES (?,?,?,?,?)"
                          " ON CONFLICT (post_id) DO UPDATE SET state = excluded.state, note = excluded.note,"
                          " updated_by = excluded.updated_by, updated_at = excluded.updated_at",
                          (post_id, state, note, by, ts(audit.at)))
            self._insert_audit(c, audit)

    def lead_states(self, post_ids) -> dict:
        out = {}
        ids = list(post_ids)
        for i in range(0, len(ids), 500):
            chunk = ids[i:i + 500]
            for r in self._rows(f"SELECT * FROM leads WHERE post_id IN ({','.join('?' * len(chunk))})", chunk):
                out[r["post_id"]] = (r["state"], r["note"], r["updated_by"], parse_ts(r["updated_at"]))
        return out

    def grievance_topics(self, since: datetime, until: datetime, min_score: float = 0.5) -> list[tuple[str, int]]:
        rows = self._rows(
            "SELECT coalesce(a.topic, '') AS topic, count(*) AS n FROM analyses a JOIN posts p ON p.id = a.post_id"
            " WHERE a.grievance >= ? AND p.created_at >= ? AND p.created_at < ? GROUP BY 1",
            (min_score, ts(since), ts(until)),
        )
        out: dict[str, int] = {r["topic"]: int(r["n"]) for r in rows}
        if min_score == 0.5:  # deleted posts were counted as leads at this score (post_aggregates.grievance)
            for r in self._rows("SELECT topic, sum(grievance) AS n FROM post_aggregates WHERE hour >= ? AND hour < ?"
                                " AND grievance > 0 GROUP BY topic", (ts(since), ts(until))):
                out[r["topic"]] = out.get(r["topic"], 0) + int(r["n"])
        return sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))

    def counts(self) -> dict[str, int]:
        r = self._one(
            "SELECT (SELECT count(*) FROM posts) AS posts,"
            " (SELECT count(*) FROM analyses) AS analyzed,"  # one row per analysed post (its smallest index)
            " (SELECT count(DISTINCT post_id) FROM flags) AS flagged,"
            " (SELECT count(DISTINCT post_id) FROM flags WHERE status = 'pending') AS pending,"
            " (SELECT count(*) FROM alerts) AS alerts,"
            " (SELECT count(*) FROM dead_letters) AS dead_letters,"
            " (SELECT count(*) FROM deliveries WHERE state != 'sent') AS outbox_pending"
        )
        out = {k: int(r[k]) for k in r.keys()}  # type: ignore[union-attr]
        gone = self._one("SELECT coalesce(sum(total), 0) AS posts, coalesce(sum(analyzed), 0) AS analyzed,"
                         " coalesce(sum(flagged), 0) AS flagged FROM post_aggregate_totals")
        for k in ("posts", "analyzed", "flagged"):  # deleted posts still count (post_aggregates)
            out[k] += int(gone[k])  # type: ignore[index]
        return out

    def metrics_snapshot(self) -> dict:
        now = utcnow()
        oldest = self._one("SELECT min(ingested_at) AS t, count(*) AS n FROM posts WHERE analyzed_version < version")
        age = (now - parse_ts(oldest["t"])).total_seconds() if oldest and oldest["t"] else 0.0  # type: ignore[operator]
        return {
            "posts_by_channel": dict(self.channel_counts()),
            "dead_letters": int(self._one("SELECT count(*) AS n FROM dead_letters")["n"]),  # type: ignore[index]
            "review_queue": {r["status"]: int(r["n"]) for r in self._rows(
                "SELECT status, count(DISTINCT post_id) AS n FROM flags GROUP BY status")},
            "analysis_backlog": int(oldest["n"]) if oldest else 0,
            "analysis_backlog_age_seconds": max(age, 0.0),
            "alerts_by_level": {r["level"]: int(r["n"]) for r in self._rows(
                "SELECT level, count(*) AS n FROM alerts GROUP BY level")},
            "deliveries": {(r["notifier"], r["state"]): int(r["n"]) for r in self._rows(
                "SELECT notifier, state, count(*) AS n FROM deliveries GROUP BY notifier, state")},
        }

    def sentiment_series(
        self,
        since: datetime,
        until: datetime,
        bucket: str = "day",
        tz: str = "Asia/Shanghai",
        channel: str | None = None,
    ) -> list[SeriesPoint]:
        if bucket not in ("hour", "day"):
            raise ValueError("bucket must be 'hour' or 'day'")
        zone = ZoneInfo(tz)
        # Group by UTC hour in SQL, then fold hours into local buckets (correct across DST changes).
        where, params = "p.created_at >= ? AND p.created_at < ?", [ts(since), ts(until)]
        if channel:
            where += " AND p.channel = ?"
            params.append(channel)
        rows = self._rows(
            "SELECT substr(p.created_at, 1, 13) AS h, a.sentiment AS s, count(*) AS n, sum(a.polarity) AS pol"
            f" FROM posts p JOIN analyses a ON a.post_id = p.id WHERE {where} GROUP BY h, s",
            params,
        )
        agg_where, agg_params = "hour >= ? AND hour < ? AND sentiment != ''", [ts(since), ts(until)]
        if channel:
            agg_where += " AND channel = ?"
            agg_params.append(channel)
        rows += self._rows(  # deleted posts, by the hour they were written
            "SELECT substr(hour, 1, 13) AS h, sentiment AS s, sum(total) AS n, sum(polarity_sum) AS pol"
            f" FROM post_aggregates WHERE {agg_where} GROUP BY h, s", agg_params)
        points: dict[datetime, SeriesPoint] = {}
        start = _floor(since.astimezone(zone), bucket)
        end = until.astimezone(zone)
        step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
        cursor = start
        while cursor < end:
            points[cursor] = SeriesPoint(start=cursor)
            cursor = cursor + step  # wall-clock arithmetic in `zone`
        for r in rows:
            hour = datetime.fromisoformat(r["h"] + ":00:00+00:00").astimezone(zone)
            key = _floor(hour, bucket)
            pt = points.setdefault(key, SeriesPoint(start=key))
            setattr(pt, r["s"], getattr(pt, r["s"]) + int(r["n"]))
            pt.polarity_sum += float(r["pol"] or 0.0)
        return [points[k] for k in sorted(points)]

    def topic_counts(self, since: datetime, limit: int = 10) -> list[tuple[str, int, int]]:
        rows = self._rows(
            # CROSS JOIN keeps the order: the period's posts (by their time index), then each one's analysis,
            # instead of every analysis with a topic (the whole history) joined back to its post
            "SELECT a.topic AS k, count(*) AS n, sum(a.sentiment = 'neg') AS neg FROM posts p"
            " CROSS JOIN analyses a ON a.post_id = p.id WHERE p.created_at >= ? AND a.topic IS NOT NULL"
            " GROUP BY a.topic",
            (ts(since),),
        )
        merged = _merged(rows, self._aggregated("topic", ts(since), "9999", "topic != '' AND sentiment != ''"))
        ranked = list(merged.items())[:limit]
        return [(topic, n, neg) for topic, (n, neg) in ranked]

    def channel_counts(self) -> list[tuple[str, int]]:
        rows = self._rows("SELECT channel AS k, count(*) AS n, 0 AS neg FROM posts GROUP BY channel")
        merged = _merged(rows, self._rows("SELECT channel AS k, total AS n, 0 AS neg FROM post_aggregate_totals"))
        return [(c, n) for c, (n, _) in merged.items()]


def _merged(*groups: list) -> dict[str, tuple[int, int]]:
    """Rows (k, n, neg) of live posts and of deleted ones (post_aggregates) added up per k, biggest first."""
    out: dict[str, tuple[int, int]] = {}
    for rows in groups:
        for r in rows:
            n, neg = out.get(r["k"], (0, 0))
            out[r["k"]] = (n + int(r["n"] or 0), neg + int(r["neg"] or 0))
    return dict(sorted(out.items(), key=lambda kv: (-kv[1][0], kv[0])))  # ties by name: the same order every time


def _floor(dt: datetime, bucket: str) -> datetime:
    if bucket == "hour":
        return dt.replace(minute=0, second=0, microsecond=0)
    return dt.replace(hour=0, minute=0, second=0, microsecond=0)
