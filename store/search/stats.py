"""The officers' dashboard and report aggregations on a search cluster (SQLite: store/sqlite/stats.py
and store/sqlite/rollups.py).

SQLite keeps daily rollup tables as analyses are saved; here every answer is an aggregation over the
posts (the read alias P-posts) computed in the cluster: composite aggregations (exact, paged, so a
year of days x channels x topics never meets the bucket limit) with date_histogram sources in the
store's time zone, and a terms aggregation for the word cloud. Nothing reads every post into Python.

Fields a post document gets for these reads (bodies.POST_MAPPING, set by `save_analyses` through
`stats_fields`): `stats.polarity`, `stats.spam`, `stats.grievance` as doubles (the analysis' own
fields are floats: 0.49999999 would compare as 0.5, and sums would drift from SQLite's), and
`stats.cloud_words`, the keywords a non-spam post adds to the word cloud (rollups.cloud_words).

Deleted posts (retention, erasure) are counted on in P-post-aggregates (AGGREGATE_MAPPING below), as
SQLite's post_aggregates: documents of kind "posts" per UTC hour, channel, topic ('' for none) and
sentiment ('' never analysed) with the counts of store/migrations/0010_retention.sql, and of kind
"word" per hour, channel and cloud word. `_add_deleted_aggregates` writes them (the privacy port calls
it before deleting the posts); every count of posts here adds them. A batch's documents have ids
derived from the batch (the set of post ids) and its group, created with op_type=create, and a
marker document (kind "batch") written last: the privacy area records each post's batch on its key
and counts a post again only when its batch has no marker (store/search/privacy.py).

Leads (what officers did with a 提案线索) are documents in P-leads, id = the post id, holding the
post's `created_at` so the lead list filters by state without a join. `set_lead_state` is a
read-modify-write with if_seq_no/if_primary_term (a bounded retry: a concurrent change is read again,
never overwritten unseen) sent in one bulk request after its audit event, whose id is fixed on the
first attempt, so a retry never records the change twice.

`period_stats` and `metrics_snapshot` read posts, flags and decisions (the shared layouts in bodies.py)
here, and alerts, rumour cases and deliveries through three hooks the alerts area implements
(`_alerts_by_level`, `_rumour_case_ids`, `_deliveries_by_state`, listed in SearchStore's docstring);
until it does, both say they are not ported.

Differences from SQLite, where matching is impossible or not worth it:
- metrics_snapshot's review_queue counts distinct posts per flag status with a cardinality
  aggregation: exact up to 40,000 posts per status, approximate (within about 1%) above.
- Times are compared at millisecond precision (the `date` type); SQLite compares microseconds.
- `top_words` counts are exact; SQLite trims closed days to their 200 top words per channel, so its
  counts are a lower bound where a day had a longer tail.
- Deleted posts' words and daily counts are kept per UTC hour and fall into the local day of the
  hour's start: the same day as SQLite's in every zone with whole-hour offsets.
- Analyses saved before these fields existed (an older version of this backend) are not counted
  until analysed again.
"""
from __future__ import annotations

import hashlib
from collections import Counter
from datetime import date, datetime, time as dtime, timedelta, timezone
from typing import Any, Collection, Sequence
from zoneinfo import ZoneInfo

from core.domain import AUTO_MODERATOR_PREFIX, Analysis, AuditEvent, Post, utcnow
from store.base import DayCount, SeriesPoint
from store.codec import parse_ts, ts
from store.search import bodies
from store.search.client import ClusterWriteError, chunks
from store.sqlite.rollups import SPAM_CUTOFF, cloud_words
from store.sqlite.stats import _floor, _merged

PAGE = 10_000  # composite buckets per request (well under the cluster's 65,536 buckets per search)
LEAD_ATTEMPTS = 20
SENTIMENTS = ["pos", "neu", "neg"]

LEAD_MAPPING: dict[str, Any] = {
    "dynamic": False,
    "properties": {
        "post_id": {"type": "long"},
        "post_created_at": {"type": "date"},
        "state": {"type": "keyword"},  # proposal | handled
        "note": {"type": "text", "index": False},
        "updated_by": {"type": "keyword"},
        "updated_at": {"type": "date"},
    },
}

AGGREGATE_MAPPING: dict[str, Any] = {
    # counts of deleted posts; no text, no author, no post id (see the module docstring)
    "dynamic": False,
    "properties": {
        "kind": {"type": "keyword"},  # posts | word
        "batch": {"type": "keyword"},
        "hour": {"type": "date"},  # the UTC hour the posts were written
        "channel": {"type": "keyword"},
        "topic": {"type": "keyword"},  # '' for none
        "sentiment": {"type": "keyword"},  # pos | neu | neg, '' never analysed
        "word": {"type": "keyword"},  # kind word: a cloud word of non-spam posts
        "total": {"type": "long"},  # posts (kind word: posts with the word)
        "analyzed": {"type": "long"},
        "polarity_sum": {"type": "double"},
        "spam": {"type": "long"},
        "rumour": {"type": "long"},
        "grievance": {"type": "long"},  # grievance >= 0.5: leads
        "abuse": {"type": "long"},
        "pii": {"type": "long"},
        "flagged": {"type": "long"},
        "removed": {"type": "long"},
    },
}


def stats_fields(a: Analysis) -> dict[str, Any]:
    """The `stats` object of an analysed post's document."""
    return {"polarity": float(a.polarity), "spam": float(a.spam), "grievance": float(a.grievance),
            "cloud_words": cloud_words(a.keywords) if float(a.spam) < SPAM_CUTOFF else []}


def _range(field: str, gte: str | None = None, lt: str | None = None) -> dict[str, Any]:
    bounds = {k: v for k, v in (("gte", gte), ("lt", lt)) if v is not None}
    return {"range": {field: bounds}}


def _coalesced(field: str, value: str) -> dict[str, Any]:
    """coalesce(field, '') = value."""
    if value:
        return {"term": {field: value}}
    return {"bool": {"should": [{"term": {field: ""}}, {"bool": {"must_not": {"exists": {"field": field}}}}],
                     "minimum_should_match": 1}}


def _ms(value: Any) -> datetime:
    return datetime.fromtimestamp(int(value) / 1000, timezone.utc)


def _whole_hours(zone: ZoneInfo, since: datetime, until: datetime) -> bool:
    """Are the zone's UTC offsets whole hours all through the period (then a local day holds whole
    UTC hours, and a day histogram in the zone equals folding UTC hours into days)?"""
    at = since
    while True:
        off = at.astimezone(zone).utcoffset()
        if off is None or off.total_seconds() % 3600:
            return False
        if at >= until:
            return True
        at = min(at + timedelta(days=1), until)


class StatsMixin:
    INDICES = {"leads": bodies.index_body(LEAD_MAPPING), "post-aggregates": bodies.index_body(AGGREGATE_MAPPING)}

    timezone: str

    # ------------------------------------------------------------------ helpers
    def _groups(self, index: str, filters: list[dict[str, Any]], sources: Sequence[tuple[str, dict[str, Any]]],
                sums: dict[str, str] | None = None) -> list[tuple[tuple, int, dict[str, float]]]:
        """(key, documents, sums) of every group of the matching documents: a composite aggregation,
        paged (exact, whatever the number of groups)."""
        sums = sums or {}
        composite: dict[str, Any] = {"size": PAGE, "sources": [{name: src} for name, src in sources]}
        body: dict[str, Any] = {
            "size": 0, "track_total_hits": False, "query": {"bool": {"filter": filters}},
            "aggs": {"g": {"composite": composite, "aggs": {n: {"sum": {"field": f}} for n, f in sums.items()}}}}
        out = []
        while True:
            agg = self.client.search(index, body)["aggregations"]["g"]  # type: ignore[attr-defined]
            for b in agg["buckets"]:
                out.append((tuple(b["key"][name] for name, _ in sources), int(b["doc_count"]),
                            {n: float(b[n]["value"] or 0.0) for n in sums}))
            if len(agg["buckets"]) < PAGE or not agg.get("after_key"):
                return out
            composite["after"] = agg["after_key"]

    def _gone(self) -> str:
        return self.names.of("post-aggregates")  # type: ignore[attr-defined]

    def _local_midnight(self, d: date) -> str:
        return ts(datetime.combine(d, dtime(0), ZoneInfo(self.timezone)))

    def _day_bounds(self, first: date, last: date) -> tuple[str, str]:
        """[start of `first`, start of the day after `last`) in the store's time zone, as UTC text."""
        return self._local_midnight(first), self._local_midnight(last + timedelta(days=1))

    def _day_source(self, field: str) -> tuple[str, dict[str, Any]]:
        return ("day", {"date_histogram": {"field": field, "calendar_interval": "1d", "time_zone": self.timezone,
                                           "format": "yyyy-MM-dd"}})

    # ------------------------------------------------------------------ totals
    def channel_counts(self) -> list[tuple[str, int]]:
        live = [{"k": k[0], "n": n, "neg": 0}
                for k, n, _ in self._groups(self.names.posts, [], [("c", {"terms": {"field": "channel"}})])]  # type: ignore[attr-defined]
        gone = [{"k": k[0], "n": int(s["n"]), "neg": 0} for k, _, s in self._groups(
            self._gone(), [{"term": {"kind": "posts"}}], [("c", {"terms": {"field": "channel"}})], {"n": "total"})]
        return [(c, n) for c, (n, _) in _merged(live, gone).items()]

    def topic_counts(self, since: datetime, limit: int = 10) -> list[tuple[str, int, int]]:
        live = self._by_sentiment(self.names.posts, [_range("created_at", ts(since)), {"exists": {"field": "analysis.topic"}}],  # type: ignore[attr-defined]
                                  "analysis.topic", "analysis.sentiment")
        gone = self._by_sentiment(self._gone(), [
            {"term": {"kind": "posts"}}, _range("hour", ts(since)), {"terms": {"sentiment": SENTIMENTS}}],
            "topic", "sentiment", total="total", exclude_key="")
        ranked = list(_merged(live, gone).items())[:limit]
        return [(topic, n, neg) for topic, (n, neg) in ranked]

    def _by_sentiment(self, index: str, filters: list[dict[str, Any]], key: str, sentiment: str,
                      total: str | None = None, exclude_key: str | None = None) -> list[dict[str, Any]]:
        """Rows {k, n, neg} per value of `key` (missing: ''), `total` summed instead of documents counted."""
        rows: dict[str, dict[str, Any]] = {}
        for (k, s), n, sums in self._groups(index, filters, [
                ("k", {"terms": {"field": key, "missing_bucket": True}}),
                ("s", {"terms": {"field": sentiment, "missing_bucket": True}})], {"t": total} if total else None):
            k = k or ""
            if k == exclude_key:
                continue
            count = int(sums["t"]) if total else n
            row = rows.setdefault(k, {"k": k, "n": 0, "neg": 0})
            row["n"] += count
            row["neg"] += count if s == "neg" else 0
        return list(rows.values())

    def grievance_topics(self, since: datetime, until: datetime, min_score: float = 0.5) -> list[tuple[str, int]]:
        out: Counter[str] = Counter()
        for (topic,), n, _ in self._groups(self.names.posts, [  # type: ignore[attr-defined]
                _range("created_at", ts(since), ts(until)), {"range": {"stats.grievance": {"gte": min_score}}}],
                [("t", {"terms": {"field": "analysis.topic", "missing_bucket": True}})]):
            out[topic or ""] += n
        if min_score == 0.5:  # deleted posts were counted as leads at this score (AGGREGATE_MAPPING.grievance)
            for (topic,), _, s in self._groups(self._gone(), [
                    {"term": {"kind": "posts"}}, _range("hour", ts(since), ts(until)), {"range": {"grievance": {"gt": 0}}}],
                    [("t", {"terms": {"field": "topic"}})], {"n": "grievance"}):
                out[topic] += int(s["n"])
        return sorted(out.items(), key=lambda kv: (-kv[1], kv[0]))

    # ------------------------------------------------------------------ series
    def sentiment_series(self, since: datetime, until: datetime, bucket: str = "day", tz: str = "Asia/Shanghai",
                         channel: str | None = None) -> list[SeriesPoint]:
        if bucket not in ("hour", "day"):
            raise ValueError("bucket must be 'hour' or 'day'")
        zone = ZoneInfo(tz)
        # SQLite folds UTC hours into local buckets; a day histogram in the zone is the same where the
        # zone's offsets are whole hours (and far fewer buckets)
        if bucket == "day" and _whole_hours(zone, since, until):
            interval: dict[str, Any] = {"calendar_interval": "1d", "time_zone": tz}
        else:
            interval = {"fixed_interval": "1h"}
        live_filters = [_range("created_at", ts(since), ts(until)), {"exists": {"field": "analysis.sentiment"}}]
        gone_filters = [{"term": {"kind": "posts"}}, _range("hour", ts(since), ts(until)),
                        {"terms": {"sentiment": SENTIMENTS}}]
        if channel:
            live_filters.append({"term": {"channel": channel}})
            gone_filters.append({"term": {"channel": channel}})
        rows = [(t, s, n, sums["pol"]) for (t, s), n, sums in self._groups(self.names.posts, live_filters, [  # type: ignore[attr-defined]
            ("t", {"date_histogram": {"field": "created_at", **interval}}),
            ("s", {"terms": {"field": "analysis.sentiment"}})], {"pol": "stats.polarity"})]
        rows += [(t, s, int(sums["n"]), sums["pol"]) for (t, s), _, sums in self._groups(self._gone(), gone_filters, [
            ("t", {"date_histogram": {"field": "hour", **interval}}),
            ("s", {"terms": {"field": "sentiment"}})], {"n": "total", "pol": "polarity_sum"})]
        points: dict[datetime, SeriesPoint] = {}
        cursor = _floor(since.astimezone(zone), bucket)
        end = until.astimezone(zone)
        step = timedelta(hours=1) if bucket == "hour" else timedelta(days=1)
        while cursor < end:
            points[cursor] = SeriesPoint(start=cursor)
            cursor = cursor + step  # wall-clock arithmetic in `zone`, as SQLite
        for t, s, n, pol in rows:
            key = _floor(_ms(t).astimezone(zone), bucket)
            pt = points.setdefault(key, SeriesPoint(start=key))
            setattr(pt, s, getattr(pt, s) + n)
            pt.polarity_sum += pol
        return [points[k] for k in sorted(points)]

    # ------------------------------------------------------------------ the overview's rollups
    def daily_counts(self, first: date, last: date, channel: str | None = None) -> list[DayCount]:
        a, b = self._day_bounds(first, last)
        live_filters = [_range("created_at", a, b), {"exists": {"field": "analysis.sentiment"}}]
        gone_filters = [{"term": {"kind": "posts"}}, _range("hour", a, b), {"terms": {"sentiment": SENTIMENTS}}]
        if channel:
            live_filters.append({"term": {"channel": channel}})
            gone_filters.append({"term": {"channel": channel}})
        n: Counter[tuple[str, str, str, str]] = Counter()
        pol: Counter[tuple[str, str, str, str]] = Counter()
        for (day, ch, tp, se), count, sums in self._groups(self.names.posts, live_filters, [  # type: ignore[attr-defined]
                self._day_source("created_at"), ("ch", {"terms": {"field": "channel"}}),
                ("tp", {"terms": {"field": "analysis.topic", "missing_bucket": True}}),
                ("se", {"terms": {"field": "analysis.sentiment"}})], {"pol": "stats.polarity"}):
            n[(day, ch, tp or "", se)] += count
            pol[(day, ch, tp or "", se)] += sums["pol"]
        for (day, ch, tp, se), _, sums in self._groups(self._gone(), gone_filters, [
                self._day_source("hour"), ("ch", {"terms": {"field": "channel"}}), ("tp", {"terms": {"field": "topic"}}),
                ("se", {"terms": {"field": "sentiment"}})], {"n": "total", "pol": "polarity_sum"}):
            n[(day, ch, tp, se)] += int(sums["n"])
            pol[(day, ch, tp, se)] += sums["pol"]
        days: dict[str, date] = {}
        return [DayCount(days.get(k[0]) or days.setdefault(k[0], date.fromisoformat(k[0])), k[1], k[2], k[3], n[k], pol[k])
                for k in sorted(n) if n[k] != 0]

    def rollup_channels(self, first: date, last: date) -> list[str]:
        a, b = self._day_bounds(first, last)
        live = {k[0] for k, _, _ in self._groups(self.names.posts, [  # type: ignore[attr-defined]
            _range("created_at", a, b), {"exists": {"field": "analysis.sentiment"}}], [("c", {"terms": {"field": "channel"}})])}
        gone = {k[0] for k, _, s in self._groups(self._gone(), [
            {"term": {"kind": "posts"}}, _range("hour", a, b), {"terms": {"sentiment": SENTIMENTS}}],
            [("c", {"terms": {"field": "channel"}})], {"n": "total"}) if s["n"] > 0}
        return sorted(live | gone)

    def top_words(self, first: date, last: date, channel: str | None = None, limit: int = 100) -> list[tuple[str, int]]:
        if limit <= 0:
            return []
        a, b = self._day_bounds(first, last)
        live_filters = [_range("created_at", a, b)]
        gone_filters = [{"term": {"kind": "word"}}, _range("hour", a, b)]
        if channel:
            live_filters.append({"term": {"channel": channel}})
            gone_filters.append({"term": {"channel": channel}})
        if not self.client.count(self._gone(), {"query": {"bool": {"filter": gone_filters}}}):  # type: ignore[attr-defined]
            exact = self._top_terms(live_filters, limit)
            if exact is not None:
                return exact
        words: Counter[str] = Counter()
        for (w,), n, _ in self._groups(self.names.posts, live_filters, [("w", {"terms": {"field": "stats.cloud_words"}})]):  # type: ignore[attr-defined]
            words[w] += n
        for (w,), _, s in self._groups(self._gone(), gone_filters, [("w", {"terms": {"field": "word"}})], {"n": "total"}):
            words[w] += int(s["n"])
        return sorted(((w, n) for w, n in words.items() if n > 0), key=lambda kv: (-kv[1], kv[0]))[:limit]

    def _top_terms(self, filters: list[dict[str, Any]], limit: int) -> list[tuple[str, int]] | None:
        """The top cloud words by a terms aggregation, if its answer is provably exact: every count
        listed exact, and no word left out could reach the last one (a second try asks each shard for
        ten times as many words). None: count them all instead."""
        for shard_size in (max(limit * 30, 3000), max(limit * 300, 30_000)):
            body = {"size": 0, "track_total_hits": False, "query": {"bool": {"filter": filters}}, "aggs": {"w": {"terms": {
                "field": "stats.cloud_words", "size": limit, "shard_size": shard_size,
                "order": [{"_count": "desc"}, {"_key": "asc"}], "show_term_doc_count_error": True}}}}
            agg = self.client.search(self.names.posts, body)["aggregations"]["w"]  # type: ignore[attr-defined]
            buckets = agg["buckets"]
            unseen = int(agg.get("doc_count_error_upper_bound") or 0)
            if not unseen or (len(buckets) == limit and int(buckets[-1]["doc_count"]) > unseen
                              and not any(int(x.get("doc_count_error_upper_bound") or 0) for x in buckets)):
                return [(x["key"], int(x["doc_count"])) for x in buckets]
        return None

    def drill_posts(self, since: datetime, until: datetime, *, channel: str | None = None, topic: str | None = None,
                    word: str | None = None, sentiment: str | None = None, before: tuple[datetime, int] | None = None,
                    limit: int = 20, scan: int = 20_000) -> tuple[list[tuple[Post, Analysis]], tuple[datetime, int] | None]:
        """As SQLite: the `scan` newest posts of the period (after `before`) are the window; the
        analysed ones among them matching the filters are returned, newest first."""
        from store.search.store import _analysis, _post

        window = [_range("created_at", ts(since), ts(until))]
        if before is not None:
            window.append(_before(before))
        match = [*window, {"range": {"analyzed_version": {"gt": 0}}}]
        if channel:
            match.append({"term": {"channel": channel}})
        if topic is not None:
            match.append(_coalesced("analysis.topic", topic))
        if sentiment:
            match.append({"term": {"analysis.sentiment": sentiment}})
        if word:
            match += [{"term": {"analysis.keywords": word}}, {"range": {"stats.spam": {"lt": SPAM_CUTOFF}}}]
        order = [{"created_at": "desc"}, {"id": "desc"}]
        hits = self.client.search(self.names.posts, {  # type: ignore[attr-defined]
            "size": limit, "query": {"bool": {"filter": match}}, "sort": order})["hits"]["hits"] if limit > 0 else []
        edge = None
        if hits and len(hits) == limit:  # all inside the window if no more than `scan` posts reach the last one
            last = hits[-1]["sort"]
            reach = [*window, {"bool": {"should": [{"range": {"created_at": {"gt": last[0]}}}, {"bool": {"filter": [
                {"term": {"created_at": last[0]}}, {"range": {"id": {"gte": last[1]}}}]}}], "minimum_should_match": 1}}]
            inside = self.client.count(self.names.posts, {"query": {"bool": {"filter": reach}}}) <= scan  # type: ignore[attr-defined]
        else:
            inside = False
        if not inside and self.client.count(self.names.posts, {"query": {"bool": {"filter": window}}}) >= scan:  # type: ignore[attr-defined]
            edge = self._nth_newest(window, scan)
            if edge is not None:
                hits = [h for h in hits if (h["sort"][0], h["sort"][1]) >= (edge[0], edge[1])]
        found = [(_post(h["_source"]), _analysis(h["_source"])) for h in hits]
        resume = None
        if len(found) < limit and edge is not None:
            resume = (_ms(edge[0]), int(edge[1]))
        return found, resume

    def _nth_newest(self, window: list[dict[str, Any]], n: int) -> tuple[int, int] | None:
        """(created_at in ms, id) of the n-th newest post of the window, or None if it holds fewer."""
        if n <= 0:
            return None
        body: dict[str, Any] = {"size": min(n, 10_000), "_source": False, "track_total_hits": False,
                                "query": {"bool": {"filter": window}}, "sort": [{"created_at": "desc"}, {"id": "desc"}]}
        seen = 0
        while True:
            hits = self.client.search(self.names.posts, body)["hits"]["hits"]  # type: ignore[attr-defined]
            if seen + len(hits) >= n:
                s = hits[n - seen - 1]["sort"]
                return int(s[0]), int(s[1])
            if len(hits) < body["size"]:
                return None
            seen += len(hits)
            body["size"] = min(n - seen, 10_000)
            body["search_after"] = hits[-1]["sort"]

    # ------------------------------------------------------------------ grievance leads
    def grievance_leads(self, since: datetime, until: datetime, min_score: float = 0.5, topic: str | None = None,
                        before: tuple[datetime, int] | None = None, limit: int = 50, state: str | None = None,
                        channel: str | None = None) -> list[tuple[Post, Analysis]]:
        from store.search.store import _analysis, _post

        if limit <= 0:
            return []
        filters = [_range("created_at", ts(since), ts(until)), {"range": {"stats.grievance": {"gte": min_score}}}]
        if channel:
            filters.append({"term": {"channel": channel}})
        if topic is not None:
            filters.append(_coalesced("analysis.topic", topic))
        if before is not None:
            filters.append(_before(before))
        must_not: list[dict[str, Any]] = []
        if state is not None:
            ids = self._lead_ids(since, until, None if state == "open" else state)
            if state == "open":
                must_not = [{"terms": {"id": ids}}] if ids else []
            elif not ids:
                return []
            else:
                filters.append({"terms": {"id": ids}})
        body = {"size": limit, "query": {"bool": {"filter": filters, "must_not": must_not}},
                "sort": [{"created_at": "desc"}, {"id": "desc"}]}
        return [(_post(h["_source"]), _analysis(h["_source"]))
                for h in self.client.search(self.names.posts, body)["hits"]["hits"]]  # type: ignore[attr-defined]

    def _lead_ids(self, since: datetime, until: datetime, state: str | None) -> list[int]:
        """Post ids of the leads of posts written in the period (with that state), every one (paged)."""
        filters = [_range("post_created_at", ts(since), ts(until))]
        if state is not None:
            filters.append({"term": {"state": state}})
        body: dict[str, Any] = {"size": 10_000, "_source": False, "track_total_hits": False,
                                "query": {"bool": {"filter": filters}}, "sort": [{"post_id": "asc"}]}
        out: list[int] = []
        while True:
            hits = self.client.search(self.names.of("leads"), body)["hits"]["hits"]  # type: ignore[attr-defined]
            out += [int(h["sort"][0]) for h in hits]
            if len(hits) < body["size"]:
                return out
            body["search_after"] = hits[-1]["sort"]

    def lead_states(self, post_ids: Sequence[int]) -> dict[int, tuple[str, str, str, datetime]]:
        out = {}
        for chunk in chunks([str(i) for i in dict.fromkeys(post_ids)], 1000):
            for d in self.client.mget(self.names.of("leads"), chunk):  # type: ignore[attr-defined]
                if d.get("found"):
                    s = d["_source"]
                    out[int(s["post_id"])] = (s["state"], s["note"], s["updated_by"], parse_ts(s["updated_at"]))
        return out  # type: ignore[return-value]

    def set_lead_state(self, post_id: int, state: str | None, note: str, by: str, audit: AuditEvent) -> None:
        index = self.names.of("leads")  # type: ignore[attr-defined]
        post = self._docs_by_ids([post_id]).get(post_id)  # type: ignore[attr-defined]
        if post is None:
            raise ValueError(f"帖子 #{post_id} 不存在（可能已被删除），无法记录线索处理状态")
        event = self._audit_actions([audit])  # type: ignore[attr-defined]  # its id is fixed: a retry re-sends the same
        doc = {"post_id": post_id, "post_created_at": post["_source"]["created_at"], "state": state, "note": note,
               "updated_by": by, "updated_at": ts(audit.at)}
        for _ in range(LEAD_ATTEMPTS):
            got = self.client.get(index, str(post_id))  # type: ignore[attr-defined]
            if got is None and state is None:
                change: list[Any] = []  # nothing to open again
            elif got is None:
                change = [({"create": {"_index": index, "_id": str(post_id)}}, doc)]
            else:
                guard = {"_index": index, "_id": str(post_id), "if_seq_no": got["_seq_no"],
                         "if_primary_term": got["_primary_term"]}
                change = [({"delete": guard}, None)] if state is None else [({"index": guard}, doc)]
            items = self._bulk([*event, *change], refresh=True)  # type: ignore[attr-defined]
            if items[0].get("status") not in (200, 201, 409):  # 409: this event, sent by an earlier attempt
                raise ClusterWriteError(f"审计记录无法写入搜索集群（{items[0].get('error')}），线索状态未改，请重试")
            if not change or items[1].get("status") in (200, 201):
                return
            if items[1].get("status") != 409:
                raise ClusterWriteError(f"线索状态无法写入搜索集群（{items[1].get('error')}），请检查集群后重试")
            # 409: another officer changed this lead since it was read: read it again
        raise ClusterWriteError(f"线索 #{post_id} 的并发修改冲突过多，请稍后重试")

    # ------------------------------------------------------------------ reports and /metrics
    def period_stats(self, since: datetime, until: datetime) -> dict[str, Any]:
        alerts = self._alerts_by_level(since, until)  # type: ignore[attr-defined]  # the alerts area
        cases = self._rumour_case_ids(since, until, 20)  # type: ignore[attr-defined]
        a, b = ts(since), ts(until)
        posts, gone_index = self.names.posts, self._gone()  # type: ignore[attr-defined]
        period, hours = _range("created_at", a, b), _range("hour", a, b)
        by_channel = _merged(self._by_sentiment(posts, [period], "channel", "analysis.sentiment"),
                             self._by_sentiment(gone_index, [{"term": {"kind": "posts"}}, hours], "channel", "sentiment",
                                                total="total"))
        by_topic = _merged(
            self._by_sentiment(posts, [period, {"exists": {"field": "analysis.sentiment"}}], "analysis.topic",
                               "analysis.sentiment"),
            self._by_sentiment(gone_index, [{"term": {"kind": "posts"}}, hours, {"terms": {"sentiment": SENTIMENTS}}],
                               "topic", "sentiment", total="total"))
        flags = self.names.of("flags")  # type: ignore[attr-defined]
        flagged = len(self._groups(flags, [period], [("p", {"terms": {"field": "post_id"}})]))
        removed = len(self._groups(flags, [period, {"term": {"status": "removed"}}], [("p", {"terms": {"field": "post_id"}})]))
        gone = self.client.search(gone_index, {  # type: ignore[attr-defined]
            "size": 0, "track_total_hits": False, "query": {"bool": {"filter": [{"term": {"kind": "posts"}}, hours]}},
            "aggs": {k: {"sum": {"field": k}} for k in ("flagged", "removed", "grievance")}})["aggregations"]
        leads = self.client.count(posts, {"query": {"bool": {"filter": [  # type: ignore[attr-defined]
            period, {"range": {"stats.grievance": {"gte": 0.5}}}]}}})
        decisions = self._decisions_with_first_flag(a, b)
        auto = [mod.startswith(AUTO_MODERATOR_PREFIX) for mod, _, _ in decisions]
        minutes = sorted((d - f).total_seconds() / 60 for (_, d, f), is_auto in zip(decisions, auto) if f and not is_auto)
        return {
            "by_channel": by_channel, "by_topic": by_topic,
            "posts": sum(n for n, _ in by_channel.values()), "negative": sum(g for _, g in by_channel.values()),
            "flagged": flagged + int(gone["flagged"]["value"] or 0),
            "removed": removed + int(gone["removed"]["value"] or 0),
            "alerts": alerts, "leads": leads + int(gone["grievance"]["value"] or 0),
            "auto_removed": sum(auto), "response_minutes": minutes, "rumour_case_ids": cases,
        }

    def _decisions_with_first_flag(self, since: str, until: str) -> list[tuple[str, datetime, datetime | None]]:
        """(moderator, decided at, the post's first flag at) of every decision made in the period (paged)."""
        body: dict[str, Any] = {"size": 5000, "track_total_hits": False, "_source": ["moderator", "created_at", "post_id"],
                                "query": {"bool": {"filter": [_range("created_at", since, until)]}},
                                "sort": [{"id": "asc"}]}
        out: list[tuple[str, datetime, datetime | None]] = []
        while True:
            hits = self.client.search(self.names.of("decisions"), body)["hits"]["hits"]  # type: ignore[attr-defined]
            if not hits:
                return out
            ids = list({int(h["_source"]["post_id"]) for h in hits})
            first: dict[int, datetime] = {}
            for chunk in chunks(ids, 1000):
                agg = self.client.search(self.names.of("flags"), {  # type: ignore[attr-defined]
                    "size": 0, "track_total_hits": False, "query": {"terms": {"post_id": list(chunk)}},
                    "aggs": {"p": {"terms": {"field": "post_id", "size": len(chunk)},
                                   "aggs": {"t": {"min": {"field": "created_at"}}}}}})["aggregations"]["p"]
                first.update((int(x["key"]), _ms(x["t"]["value"])) for x in agg["buckets"])
            for h in hits:
                src = h["_source"]
                out.append((src["moderator"], parse_ts(src["created_at"]), first.get(int(src["post_id"]))))  # type: ignore[arg-type]
            if len(hits) < body["size"]:
                return out
            body["search_after"] = hits[-1]["sort"]

    def metrics_snapshot(self) -> dict[str, Any]:
        alerts = self._alerts_by_level(None, None)  # type: ignore[attr-defined]  # the alerts area
        deliveries = self._deliveries_by_state()  # type: ignore[attr-defined]
        backlog = self.client.search(self.names.posts, {  # type: ignore[attr-defined]
            "size": 0, "track_total_hits": True, "query": {"term": {"needs_analysis": True}},
            "aggs": {"oldest": {"min": {"field": "ingested_at"}}}})
        waiting = int(backlog["hits"]["total"]["value"])
        oldest = backlog["aggregations"]["oldest"]["value"]
        age = (utcnow() - _ms(oldest)).total_seconds() if waiting and oldest is not None else 0.0
        queue = self.client.search(self.names.of("flags"), {  # type: ignore[attr-defined]
            "size": 0, "track_total_hits": False, "aggs": {"s": {"terms": {"field": "status", "size": 100}, "aggs": {
                "posts": {"cardinality": {"field": "post_id", "precision_threshold": 40_000}}}}}})["aggregations"]["s"]
        return {
            "posts_by_channel": dict(self.channel_counts()),
            "dead_letters": self.client.count(self.names.dead_letters),  # type: ignore[attr-defined]
            "review_queue": {x["key"]: int(x["posts"]["value"]) for x in queue["buckets"]},
            "analysis_backlog": waiting, "analysis_backlog_age_seconds": max(age, 0.0),
            "alerts_by_level": alerts, "deliveries": deliveries,
        }

    # ------------------------------------------------------------------ deleted posts
    def _deleted_counts(self) -> dict[str, int]:
        """What `counts` adds for deleted posts: posts, analyzed, flagged (as SQLite's post_aggregate_totals)."""
        body = {"size": 0, "track_total_hits": False, "query": {"term": {"kind": "posts"}},
                "aggs": {k: {"sum": {"field": k}} for k in ("total", "analyzed", "flagged")}}
        aggs = self.client.search(self._gone(), body)["aggregations"]  # type: ignore[attr-defined]
        return {"posts": int(aggs["total"]["value"] or 0), "analyzed": int(aggs["analyzed"]["value"] or 0),
                "flagged": int(aggs["flagged"]["value"] or 0)}

    def _add_deleted_aggregates(self, docs: Sequence[dict[str, Any]], flagged: Collection[int] = (),
                                removed: Collection[int] = ()) -> None:
        """Count posts about to be deleted on in P-post-aggregates, BEFORE they are deleted. `docs`:
        their post documents' `_source`; `flagged`/`removed`: the ids among them ever flagged / whose
        flags were removed (the flags index). The same set of posts again adds nothing (ids from the
        batch: see the module docstring)."""
        if not docs:
            return
        flagged, removed = set(flagged), set(removed)
        batch = self._deleted_batch(docs)
        groups: dict[tuple[str, str, str, str], Counter[str]] = {}
        words: Counter[tuple[str, str, str]] = Counter()
        for d in docs:
            created = parse_ts(d["created_at"]).astimezone(timezone.utc)  # type: ignore[union-attr]
            hour = ts(created.replace(minute=0, second=0, microsecond=0))
            a = d.get("analysis")
            key = (hour, d["channel"], (a.get("topic") or "") if a else "", a["sentiment"] if a else "")
            g = groups.setdefault(key, Counter())
            g["total"] += 1
            if a:
                g["analyzed"] += 1
                g["polarity_sum"] += float(a["polarity"])
                for score in ("spam", "rumour", "grievance", "abuse"):
                    g[score] += float(a.get(score) or 0.0) >= 0.5
                g["pii"] += bool(a.get("pii"))
                spam = float(a.get("spam") or 0.0)
                kws = (d.get("stats") or {}).get("cloud_words")
                for w in kws if kws is not None else (cloud_words(a.get("keywords") or []) if spam < SPAM_CUTOFF else []):
                    words[(hour, d["channel"], w)] += 1
            g["flagged"] += int(d["id"]) in flagged
            g["removed"] += int(d["id"]) in removed
        index = self._gone()
        actions: list[Any] = []
        for (hour, channel, topic, sentiment), g in groups.items():
            doc_id = hashlib.sha256(f"{batch}\x00posts\x00{hour}\x00{channel}\x00{topic}\x00{sentiment}".encode(
                "utf-8", "surrogatepass")).hexdigest()
            actions.append(({"create": {"_index": index, "_id": doc_id}}, {
                "kind": "posts", "batch": batch, "hour": hour, "channel": channel, "topic": topic, "sentiment": sentiment,
                **{k: int(g[k]) for k in ("total", "analyzed", "spam", "rumour", "grievance", "abuse", "pii", "flagged",
                                          "removed")}, "polarity_sum": float(g["polarity_sum"])}))
        for (hour, channel, w), n in words.items():
            doc_id = hashlib.sha256(f"{batch}\x00word\x00{hour}\x00{channel}\x00{w}".encode(
                "utf-8", "surrogatepass")).hexdigest()
            actions.append(({"create": {"_index": index, "_id": doc_id}}, {
                "kind": "word", "batch": batch, "hour": hour, "channel": channel, "word": w, "total": n}))
        # the marker last, in its own request: it makes the batch final (privacy's `_counted_keys`)
        for part in (actions, [({"create": {"_index": index, "_id": self._batch_marker(batch)}},
                                {"kind": "batch", "batch": batch, "posts": len(docs), "at": ts(utcnow())})]):
            failed = [item for item in self._bulk(part, refresh=True)  # type: ignore[attr-defined]
                      if item.get("status") not in (200, 201, 409)]  # 409: this batch was counted already
            if failed:
                raise ClusterWriteError(f"已删除帖子的统计无法写入搜索集群（{failed[0].get('error')}），帖子未删除，请重试")

    @staticmethod
    def _deleted_batch(docs: Sequence[dict[str, Any]]) -> str:
        """The id of a batch of deleted posts: from the set of their ids."""
        return hashlib.sha256(",".join(str(i) for i in sorted(int(d["id"]) for d in docs)).encode()).hexdigest()

    @staticmethod
    def _batch_marker(batch: str) -> str:
        return f"batch:{batch}"


def _before(before: tuple[datetime, int]) -> dict[str, Any]:
    """(created_at, id) < before: the keyset of newest-first lists."""
    at = ts(before[0])
    return {"bool": {"should": [{"range": {"created_at": {"lt": at}}}, {"bool": {"filter": [
        {"term": {"created_at": at}}, {"range": {"id": {"lt": before[1]}}}]}}], "minimum_should_match": 1}}
