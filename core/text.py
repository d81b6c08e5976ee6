"""Small, total text helpers: they accept any value and never raise (used on hostile input)."""
from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

_SURROGATE = re.compile("[\ud800-\udfff]")
# controls, line separators, and the bidi overrides and isolates that can make a line read backwards
_UNPRINTABLE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")
PREVIEW_CHARS = 4000
POST_FIELDS = ("channel", "source_id", "author", "text", "created_at", "thread", "url", "reply_to", "author_name")


def printable(text: Any, limit: int = 300) -> str:
    """One line for a log or a label: control characters, line breaks and bidi overrides shown as
    \\xNN / \\uNNNN escapes, broken UTF-16 halves as U+FFFD, cut to `limit` characters."""
    if not isinstance(text, str):
        text = safe_str(text, limit)
    text = _SURROGATE.sub("\ufffd", text)
    text = _UNPRINTABLE.sub(_escape, text)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 256 else f"\\u{code:04x}"


def safe_str(value: Any, limit: int = PREVIEW_CHARS) -> str:
    """str(value) cut to `limit`, for any value (huge integers and odd objects included)."""
    try:
        if isinstance(value, datetime):
            return value.isoformat()
        if isinstance(value, int) and not isinstance(value, bool) and value.bit_length() > 256:
            return f"<{value.bit_length()} 位整数>"
        return str(value)[:limit]
    except Exception:
        return f"<{type(value).__name__}>"


def post_preview(post: Any, limit: int = PREVIEW_CHARS) -> str:
    """A post (or anything with its fields) as a JSON record for a dead letter, cut to `limit`."""
    record: dict[str, Any] = {}
    for name in POST_FIELDS:
        value = getattr(post, name, None)
        if value is not None:
            record[name] = safe_str(value, limit)
    raw = getattr(post, "raw", None)
    if isinstance(raw, dict):
        try:
            extras = json.dumps({k: v for k, v in raw.items() if k != "_source"}, ensure_ascii=False, default=safe_str)
        except Exception:
            extras = "（无法显示）"
        if extras != "{}":
            record["extra"] = extras[:limit]
    return _SURROGATE.sub("\ufffd", json.dumps(record, ensure_ascii=False))[:limit]
