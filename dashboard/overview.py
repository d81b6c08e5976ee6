"""总览 — the officers' dashboard: counts, trends by topic and channel, negative share, hot words, the
case timeline, moderation response times, the 诉求 board and the latest alerts, all for one channel
and period (`days=7|30|90` or `from`/`to`, and `channel`, in the query string so links are shareable),
and the drill-down list of the posts behind any number (/overview/posts).

Charts are drawn by dashboard/static/app.js from the JSON endpoints here. Every query is bounded by
the period: counts and words come from the rollups the store keeps as analyses are saved
(store/sqlite/rollups.py), lists are keyset-paginated and look at a bounded window of posts.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, render_template, request

from core.domain import CaseState, channel_label, utcnow
from dashboard import roles
from dashboard.auth import current_user, require_role
from dashboard.context import services
from dashboard.leads import MIN_SCORE, STATES as LEAD_STATES
from dashboard.present import (CASE_KIND_LABELS, COUNT_LABELS, decode_cursor, encode_cursor, int_arg, post_view,
                               sees_clear_pii)
from dashboard.trends import (PRESETS, DashFilter, channel_table, duration_label, minutes_between, moderation_json,
                              parse_day, parse_filter, sentiment_points, topic_table, topic_value, trends_json)
from store.base import SeriesPoint

bp = Blueprint("overview", __name__)
BOARD_SIZE = 5  # open 诉求 leads on the dashboard (the rest on /leads)
CASES_SHOWN = 30
WORDS_SHOWN = 100
DRILL_PER_PAGE = 20
SENTIMENTS = {"pos": "正面", "neu": "中性", "neg": "负面"}


def current_filter() -> DashFilter:
    s = services()
    return parse_filter(request.args, s.tz, utcnow().astimezone(s.tz).date())


@bp.get("/overview")
@require_role(*roles.OVERVIEW)
def index() -> Any:
    s = services()
    f = current_filter()
    rows = s.store.daily_counts(f.first, f.last, f.channel)
    leads = s.store.grievance_leads(f.since, f.until, MIN_SCORE, state="open", channel=f.channel, limit=BOARD_SIZE)
    clear = sees_clear_pii(current_user())
    channels = channel_table(rows)
    known = s.store.rollup_channels(f.last - timedelta(days=365), f.last)
    return render_template(
        "overview/index.html",
        f=f, fargs=f.args(), presets=PRESETS,
        channel_options=[(c, channel_label(c)) for c in dict.fromkeys([*known, *([f.channel] if f.channel else [])])],
        counts=[(COUNT_LABELS.get(k, k), v) for k, v in s.store.counts().items()],
        topics=topic_table(rows), channels=channels, channel_total=sum(n for _, _, n, _ in channels),
        cases=s.store.cases_opened(f.since, f.until, f.channel, limit=CASES_SHOWN),
        kind_labels=CASE_KIND_LABELS, case_states={c.value: c.label_zh for c in CaseState},
        duration=duration_label, minutes_between=minutes_between,
        leads=[post_view(p, a, clear=clear) for p, a in leads], lead_states=LEAD_STATES,
        alerts=s.store.alerts(limit=5),
    )


@bp.get("/api/overview/trends")
@require_role(*roles.OVERVIEW)
def trends() -> Any:
    f = current_filter()
    return jsonify(trends_json(services().store.daily_counts(f.first, f.last, f.channel), f))


@bp.get("/api/overview/words")
@require_role(*roles.OVERVIEW)
def words() -> Any:
    f = current_filter()
    top = services().store.top_words(f.first, f.last, f.channel, limit=WORDS_SHOWN)
    return jsonify({"words": [{"name": w, "value": n} for w, n in top]})


@bp.get("/api/overview/moderation")
@require_role(*roles.OVERVIEW)
def moderation() -> Any:
    s = services()
    f = current_filter()
    return jsonify(moderation_json(s.store.moderation_times(f.since, f.until, f.channel),
                                   s.store.flag_times(f.since, f.until, f.channel), f))


@bp.get("/overview/posts")
@require_role(*roles.OVERVIEW)
def posts() -> Any:
    """The posts behind a number: the dashboard's filter, narrowed to a day, topic, word or sentiment."""
    s = services()
    f = current_filter()
    day = parse_day(request.args.get("day"))
    g = f.narrowed(day)
    topic_arg = (request.args.get("topic") or "").strip()[:20] or None
    word = (request.args.get("word") or "").strip()[:20] or None
    sentiment = request.args.get("sentiment") if request.args.get("sentiment") in SENTIMENTS else None
    before = decode_cursor(request.args.get("after") or "")
    rows, resume = s.store.drill_posts(g.since, g.until, channel=g.channel,
                                       topic=topic_value(topic_arg) if topic_arg is not None else None,
                                       word=word, sentiment=sentiment, before=before, limit=DRILL_PER_PAGE + 1)
    more = len(rows) > DRILL_PER_PAGE
    rows = rows[:DRILL_PER_PAGE]
    clear = sees_clear_pii(current_user())
    last = rows[-1][0] if more and rows else None
    cursor = encode_cursor(last.created_at, last.id) if last and last.id else (
        encode_cursor(*resume) if resume and not more else None)
    narrow = {k: v for k, v in (("day", g.first.isoformat() if day and g is not f else None), ("topic", topic_arg),
                                ("word", word), ("sentiment", sentiment)) if v}
    return render_template(
        "overview/posts.html", f=f, g=g, fargs=f.args(), narrow=narrow, topic=topic_arg, word=word,
        sentiment=SENTIMENTS.get(sentiment or ""), views=[post_view(p, a, clear=clear) for p, a in rows],
        next_cursor=cursor, searching_on=bool(resume and not more), first_page=before is None,
    )


@bp.get("/api/sentiment")
@require_role(*roles.OVERVIEW)
def sentiment() -> Any:
    """Sentiment per bucket: `?bucket=day` with the dashboard's filter (`days=N` or `from`/`to`,
    `channel`; local days, from the rollups) or `?bucket=hour&hours=48` (optional `channel`).
    Returns parallel arrays, oldest first."""
    s = services()
    bucket = request.args.get("bucket", "day")
    if bucket not in ("day", "hour"):
        return jsonify({"error": "bucket 只能是 day 或 hour"}), 400
    if bucket == "day":
        today = utcnow().astimezone(s.tz).date()
        args = dict(request.args)
        if "from" not in args:  # any number of days up to a year, not only the dashboard's presets
            days = int_arg("days", 30, 1, 366)
            args = {**args, "from": (today - timedelta(days=days - 1)).isoformat(), "to": today.isoformat()}
        f = parse_filter(args, s.tz, today)
        points = sentiment_points(s.store.daily_counts(f.first, f.last, f.channel), f)
        return jsonify(series_json(points, bucket, s.settings.timezone, "%m-%d"))
    now = utcnow()
    hours = int_arg("hours", 48, 1, 24 * 14)
    since = now.astimezone(s.tz).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
    channel = request.args.get("channel") or None
    points = s.store.sentiment_series(since, now, bucket=bucket, tz=s.settings.timezone, channel=channel)
    return jsonify(series_json(points, bucket, s.settings.timezone, "%m-%d %H:00"))


def series_json(points: list[SeriesPoint], bucket: str, tz: str, label_fmt: str) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "tz": tz,
        "start": [p.start.isoformat() for p in points],
        "days": [p.start.date().isoformat() for p in points],
        "labels": [_label(p.start, label_fmt) for p in points],
        "pos": [p.pos for p in points],
        "neu": [p.neu for p in points],
        "neg": [p.neg for p in points],
        "total": [p.total for p in points],
        "avg_polarity": [round(p.avg_polarity, 4) if p.total else None for p in points],
    }


def _label(start: datetime, fmt: str) -> str:
    return start.strftime(fmt)
