"""总览: counts, the sentiment chart (data from a JSON endpoint), hot topics, channels, latest alerts."""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, jsonify, render_template, request

from core.domain import channel_label, utcnow
from dashboard import roles
from dashboard.auth import require_role
from dashboard.context import services
from dashboard.present import COUNT_LABELS, int_arg
from store.base import SeriesPoint

bp = Blueprint("overview", __name__)
TOPIC_DAYS = 30


@bp.get("/overview")
@require_role(*roles.OVERVIEW)
def index() -> Any:
    s = services()
    counts = s.store.counts()
    topics = s.store.topic_counts(utcnow() - timedelta(days=TOPIC_DAYS), limit=10)
    channels = [(channel_label(c), n) for c, n in s.store.channel_counts()]
    return render_template(
        "overview/index.html",
        counts=[(COUNT_LABELS.get(k, k), v) for k, v in counts.items()],
        topics=topics,
        topic_days=TOPIC_DAYS,
        channels=channels,
        channel_total=sum(n for _, n in channels),
        alerts=s.store.alerts(limit=5),
    )


@bp.get("/api/sentiment")
@require_role(*roles.OVERVIEW)
def sentiment() -> Any:
    """Sentiment per bucket: `?bucket=day&days=30` (local days) or `?bucket=hour&hours=48`;
    optional `channel`. Returns parallel arrays, oldest first."""
    s = services()
    bucket = request.args.get("bucket", "day")
    if bucket not in ("day", "hour"):
        return jsonify({"error": "bucket 只能是 day 或 hour"}), 400
    now = utcnow()
    if bucket == "day":
        days = int_arg("days", 30, 1, 366)
        local_midnight = now.astimezone(s.tz).replace(hour=0, minute=0, second=0, microsecond=0)
        since = local_midnight - timedelta(days=days - 1)
        label_fmt = "%m-%d"
    else:
        hours = int_arg("hours", 48, 1, 24 * 14)
        since = now.astimezone(s.tz).replace(minute=0, second=0, microsecond=0) - timedelta(hours=hours - 1)
        label_fmt = "%m-%d %H:00"
    channel = request.args.get("channel") or None
    points = s.store.sentiment_series(since, now, bucket=bucket, tz=s.settings.timezone, channel=channel)
    return jsonify(series_json(points, bucket, s.settings.timezone, label_fmt))


def series_json(points: list[SeriesPoint], bucket: str, tz: str, label_fmt: str) -> dict[str, Any]:
    return {
        "bucket": bucket,
        "tz": tz,
        "start": [p.start.isoformat() for p in points],
        "labels": [_label(p.start, label_fmt) for p in points],
        "pos": [p.pos for p in points],
        "neu": [p.neu for p in points],
        "neg": [p.neg for p in points],
        "total": [p.total for p in points],
        "avg_polarity": [round(p.avg_polarity, 4) if p.total else None for p in points],
    }


def _label(start: datetime, fmt: str) -> str:
    return start.strftime(fmt)
