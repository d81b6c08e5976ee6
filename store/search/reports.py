"""The numbers that span areas on a search cluster: /metrics' snapshot and the 日报/周报 period
statistics (SQLite: metrics_snapshot and period_stats in store/sqlite/stats.py). Each is a handful of
aggregations in the cluster over the posts, the aggregates of deleted posts (stats area), flags and
decisions (bodies.py), alerts, deliveries and cases (alerts area).

Distinct posts among flags are counted exactly for the period statistics (a composite aggregation,
paged) and with the cluster's `cardinality` for /metrics (exact up to 40,000 posts per status, within
a few percent above: a scrape every few seconds must stay cheap).
"""
from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from core.domain import utcnow
from store.codec import parse_ts, ts
from store.search.stats import SENTIMENTS, _range
from store.sqlite.review import AUTO_MODERATOR_PREFIX
from store.sqlite.stats import _merged

CARDINALITY_PRECISION = 40_000


class ReportsMixin:
    def _distinct_posts(self, index: str, filters: list[dict[str, Any]]) -> int:
        return len(self._groups(index, filters, [("p", {"terms": {"field": "post_id"}})]))  # type: ignore[attr-defined]

    def period_stats(self, since: datetime, until: datetime) -> dict:
        a, b = ts(since), ts(until)
        posts, gone_index = self.names.posts, self._gone()  # type: ignore[attr-defined]
        live_channel = self._by_sentiment(posts, [_range("created_at", a, b)], "channel", "analysis.sentiment")  # type: ignore[attr-defined]
        gone_rows = [{"term": {"kind": "posts"}}, _range("hour", a, b)]
        by_channel = _merged(live_channel, self._by_sentiment(gone_index, gone_rows, "channel", "sentiment",  # type: ignore[attr-defined]
                                                              total="total"))
        live_topic = self._by_sentiment(posts, [_range("created_at", a, b), {"exists": {"field": "analysis.sentiment"}}],  # type: ignore[attr-defined]
                                        "analysis.topic", "analysis.sentiment")
        by_topic = _merged(live_topic, self._by_sentiment(  # type: ignore[attr-defined]
            gone_index, [*gone_rows, {"terms": {"sentiment": SENTIMENTS}}], "topic", "sentiment", total="total"))
        flags = self.names.of("flags")  # type: ignore[attr-defined]
        in_period = _range("created_at", a, b)
        flagged = self._distinct_posts(flags, [in_period])
        removed = self._distinct_posts(flags, [in_period, {"term": {"status": "removed"}}])
        gone = self.client.search(gone_index, {  # type: ignore[attr-defined]
            "size": 0, "query": {"bool": {"filter": gone_rows}},
            "aggs": {k: {"sum": {"field": k}} for k in ("flagged", "removed", "grievance")}})["aggregations"]
        alerts = {k[0]: n for k, n, _ in self._groups(self.names.of("alerts"), [_range("created_at", a, b)],  # type: ignore[attr-defined]
                                                       [("l", {"terms": {"field": "level"}})])}
        leads = self.client.count(posts, {"query": {"bool": {"filter": [  # type: ignore[attr-defined]
            _range("created_at", a, b), {"range": {"stats.grievance": {"gte": 0.5}}}]}}})
        decisions = [h["_source"] for h in self._scan(self.names.of("decisions"), {"bool": {"filter": [in_period]}},  # type: ignore[attr-defined]
                                                      source=["post_id", "moderator", "created_at", "id"])]
        first_flag = self._first_flags([int(d["post_id"]) for d in decisions])
        auto = [str(d["moderator"]).startswith(AUTO_MODERATOR_PREFIX) for d in decisions]
        minutes = sorted((parse_ts(d["created_at"]) - first_flag[int(d["post_id"])]).total_seconds() / 60  # type: ignore[operator]
                         for d, is_auto in zip(decisions, auto) if int(d["post_id"]) in first_flag and not is_auto)
        cases = [int(h["_source"]["id"]) for h in self.client.search(self.names.of("cases"), {  # type: ignore[attr-defined]
            "size": 20, "_source": ["id"], "sort": [{"updated_at": "desc"}, {"id": "asc"}],
            "query": {"bool": {"filter": [{"term": {"kind": "rumour"}}, {"range": {"updated_at": {"gte": a}}},
                                          {"range": {"created_at": {"lt": b}}}]}}})["hits"]["hits"]]
        return {
            "by_channel": by_channel, "by_topic": by_topic,
            "posts": sum(n for n, _ in by_channel.values()), "negative": sum(g for _, g in by_channel.values()),
            "flagged": flagged + int(gone["flagged"]["value"]), "removed": removed + int(gone["removed"]["value"]),
            "alerts": alerts, "leads": leads + int(gone["grievance"]["value"]),
            "auto_removed": sum(auto), "response_minutes": minutes, "rumour_case_ids": cases,
        }

    def _first_flags(self, post_ids: list[int]) -> dict[int, datetime]:
        """The time each post was first flagged (millisecond precision: the `date` type)."""
        out: dict[int, datetime] = {}
        ids = sorted(set(post_ids))
        for i in range(0, len(ids), 1000):
            chunk = ids[i : i + 1000]
            agg = self.client.search(self.names.of("flags"), {  # type: ignore[attr-defined]
                "size": 0, "query": {"terms": {"post_id": chunk}},
                "aggs": {"p": {"terms": {"field": "post_id", "size": len(chunk)},
                               "aggs": {"first": {"min": {"field": "created_at"}}}}}})["aggregations"]["p"]
            for b in agg["buckets"]:
                out[int(b["key"])] = datetime.fromtimestamp(b["first"]["value"] / 1000, timezone.utc)
        return out

    def metrics_snapshot(self) -> dict:
        now = utcnow()
        posts = self.names.posts  # type: ignore[attr-defined]
        backlog = self.client.search(posts, {  # type: ignore[attr-defined]
            "size": 0, "track_total_hits": True, "query": {"term": {"needs_analysis": True}},
            "aggs": {"oldest": {"min": {"field": "ingested_at"}}}})
        total = backlog["hits"]["total"]
        oldest = backlog["aggregations"]["oldest"].get("value_as_string")
        age = (now - parse_ts(oldest)).total_seconds() if oldest else 0.0  # type: ignore[operator]
        queue = self.client.search(self.names.of("flags"), {"size": 0, "aggs": {"s": {  # type: ignore[attr-defined]
            "terms": {"field": "status", "size": 20},
            "aggs": {"posts": {"cardinality": {"field": "post_id", "precision_threshold": CARDINALITY_PRECISION}}}}}})
        return {
            "posts_by_channel": dict(self.channel_counts()),  # type: ignore[attr-defined]
            "dead_letters": self.client.count(self.names.dead_letters),  # type: ignore[attr-defined]
            "review_queue": {b["key"]: int(b["posts"]["value"]) for b in queue["aggregations"]["s"]["buckets"]},
            "analysis_backlog": int(total["value"] if isinstance(total, dict) else total),
            "analysis_backlog_age_seconds": max(age, 0.0),
            "alerts_by_level": {k[0]: n for k, n, _ in self._groups(self.names.of("alerts"), [],  # type: ignore[attr-defined]
                                                                     [("l", {"terms": {"field": "level"}})])},
            "deliveries": {(k[0], k[1]): n for k, n, _ in self._groups(self.names.of("deliveries"), [], [  # type: ignore[attr-defined]
                ("n", {"terms": {"field": "notifier"}}), ("s", {"terms": {"field": "state"}})])},
        }
