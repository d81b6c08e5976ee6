"""Converting domain objects to and from plain JSON-able values. Shared by every backend."""
from __future__ import annotations

import json
from datetime import datetime, timezone
from typing import Any

from core import jsontext
from core.domain import Analysis, PIISpan, Reason, Sentiment


def ts(dt: datetime) -> str:
    """An aware datetime as sortable UTC text, always `YYYY-MM-DDTHH:MM:SS.ffffff+00:00` (the year
    zero-padded: strftime's %Y is not, for years before 1000, and the text would not parse back)."""
    if dt.tzinfo is None:
        raise ValueError("naive datetime: every time in Union Sentinel must carry a time zone")
    return dt.astimezone(timezone.utc).isoformat(timespec="microseconds")


def parse_ts(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


def dumps(value: Any) -> str:
    """Compact JSON text, non-ASCII kept, anything else as str (core/jsontext.py)."""
    return jsontext.dumps(value)


def analysis_fields(a: Analysis) -> dict[str, Any]:
    """The analysis as flat JSON-able fields (lists and dicts left as Python values)."""
    return {
        "normalized": a.normalized,
        "sentiment": a.sentiment.value,
        "polarity": float(a.polarity),
        "spam": float(a.spam),
        "rumour": float(a.rumour),
        "grievance": float(a.grievance),
        "abuse": float(a.abuse),
        "topic": a.topic,
        "keywords": list(a.keywords),
        "pii": [{"kind": s.kind, "start": s.start, "end": s.end} for s in a.pii],  # = asdict, without its deep copy
        "reasons": [{"score": r.score, "code": r.code, "text": r.text, "weight": r.weight} for r in a.reasons],
        "extra": a.extra,
        "debunk_id": a.debunk_id,
        "model_version": a.model_version,
    }


def stored_fields(a: Analysis) -> tuple[Any, ...]:
    """The analysis as the SQLite columns normalized, sentiment, polarity, spam, rumour, grievance,
    abuse, topic, keywords, pii, reasons, extra, debunk_id, model_version: `analysis_fields`, with
    the lists and dicts as JSON text, written without building the field dicts first."""
    return (a.normalized, a.sentiment.value, float(a.polarity), float(a.spam), float(a.rumour),
            float(a.grievance), float(a.abuse), a.topic, jsontext.dumps(a.keywords),
            jsontext.dumps_records(a.pii), jsontext.dumps_records(a.reasons), jsontext.dumps(a.extra),
            a.debunk_id, a.model_version)


def analysis_as_stored(a: Analysis, version: int) -> Analysis:
    """`a` as `analysis_from_fields(analysis_fields(a))` reads it back (no tokens, fresh lists, the
    saved post version), without building the field dicts again: its reason and PII span objects
    are shared, not copied. (A NaN or infinity inside `extra` is read back from a row as None, JSON
    having no such numbers; the analysers write none.)"""
    return Analysis(
        normalized=a.normalized,
        tokens=[],
        sentiment=a.sentiment if type(a.sentiment) is Sentiment else Sentiment(a.sentiment),
        polarity=float(a.polarity),
        spam=float(a.spam),
        rumour=float(a.rumour),
        topic=a.topic,
        keywords=list(a.keywords),
        pii=list(a.pii),
        reasons=list(a.reasons),
        extra=dict(a.extra),
        debunk_id=a.debunk_id,
        model_version=a.model_version or "",
        post_version=int(version or 0),
        grievance=float(a.grievance or 0.0),
        abuse=float(a.abuse or 0.0),
    )


def analysis_from_fields(f: dict[str, Any], tokens: list[str] | None = None) -> Analysis:
    def load(v: Any) -> Any:
        return json.loads(v) if isinstance(v, str) else v

    return Analysis(
        normalized=f["normalized"],
        tokens=tokens or [],
        sentiment=Sentiment(f["sentiment"]),
        polarity=float(f["polarity"]),
        spam=float(f["spam"]),
        rumour=float(f["rumour"]),
        topic=f.get("topic"),
        keywords=list(load(f.get("keywords") or "[]")),
        pii=[PIISpan(**s) for s in load(f.get("pii") or "[]")],
        reasons=[Reason(**r) for r in load(f.get("reasons") or "[]")],
        extra=dict(load(f.get("extra") or "{}")),
        debunk_id=f.get("debunk_id"),
        model_version=f.get("model_version") or "",
        post_version=int(f.get("analysis_version") or f.get("version") or 0),
        grievance=float(f.get("grievance") or 0.0),
        abuse=float(f.get("abuse") or 0.0),
    )
