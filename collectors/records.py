"""The post record format shared by every file-based input (JSONL, CSV) and the demo sample.

One record: {"channel", "source_id", "author", "text", "created_at" (ISO 8601 with offset)} and the
optional "thread", "url", "reply_to", "author_name". Any other field is kept in Post.raw.
`post_from_record` turns a record into a Post (types and the time format) or raises RecordError with a
Chinese reason that ends up in the dead-letter table. What values the system accepts (sizes, characters,
the time range, extras) is checked for every channel alike by `collectors.boundary`.
"""
from __future__ import annotations

from datetime import datetime
from typing import Any

from core.domain import Post
from core.errors import RecordError
from core.text import printable

REQUIRED = ("channel", "source_id", "author", "text", "created_at")
OPTIONAL = ("thread", "url", "reply_to", "author_name")
COLUMNS = REQUIRED + OPTIONAL
MAX_TIME_TEXT = 64


def _as_str(record: dict[str, Any], key: str) -> str | None:
    value = record.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(f"字段 {key} 应为字符串，实际是 {type(value).__name__}")
    if isinstance(value, int) and value.bit_length() > 63:
        raise RecordError(f"字段 {key} 的数值过大（超过 64 位整数），请改为字符串")
    return str(value)


def parse_time(value: str) -> datetime:
    """ISO 8601 with a UTC offset; naive times are refused (their zone would be a guess)."""
    shown = printable(value, 80)
    if len(value) > MAX_TIME_TEXT:
        raise RecordError(f"created_at 不是 ISO 8601 时间：{shown}，示例 2026-03-01T08:30:00+08:00")
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except (ValueError, OverflowError):
        raise RecordError(f"created_at 不是 ISO 8601 时间：{shown}，示例 2026-03-01T08:30:00+08:00") from None
    if dt.tzinfo is None:
        raise RecordError(f"created_at 缺少时区偏移：{shown}，请写成 2026-03-01T08:30:00+08:00")
    return dt


def post_from_record(record: Any) -> Post:
    if not isinstance(record, dict):
        raise RecordError(f"每行应是一个 JSON 对象，实际是 {type(record).__name__}")
    missing = [k for k in REQUIRED if record.get(k) in (None, "")]
    if missing:
        raise RecordError(f"缺少必填字段：{', '.join(missing)}")
    channel = _as_str(record, "channel") or ""
    text = _as_str(record, "text") or ""
    created = record["created_at"]
    if not isinstance(created, str):
        raise RecordError(f"created_at 应为字符串，实际是 {type(created).__name__}")
    raw = {k: v for k, v in record.items() if k not in COLUMNS}
    return Post(
        channel=channel,
        source_id=_as_str(record, "source_id") or "",
        author=_as_str(record, "author") or "",
        text=text,
        created_at=parse_time(created),
        thread=_as_str(record, "thread") or None,
        url=_as_str(record, "url") or None,
        reply_to=_as_str(record, "reply_to") or None,
        author_name=_as_str(record, "author_name") or None,
        raw=raw,
    )
