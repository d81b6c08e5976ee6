"""The ingestion boundary: every post from every collector passes `Boundary.admit` before the store.

A collector knows its platform's format; the boundary knows what the rest of the system can take, and
checks it in one place, for every channel alike:

- identifiers (`channel`, `source_id`, `author`, `reply_to`): present, bounded, no control characters;
- free text (`text`, `thread`, `author_name`): bounded; NUL and other control characters dropped
  (newlines kept in `text`), broken UTF-16 halves (lone surrogates) replaced by U+FFFD;
- `url`: bounded, no whitespace or control characters;
- platform extras (`Post.raw`): plain JSON values only, nesting depth and size bounded, numbers finite
  and within 64 bits;
- event time: timezone-aware and inside a sane range — not before `earliest`, not later than now plus
  `future_skew` (a clock a little fast is normal; a post from next year is not). A post from the future
  would otherwise move every time window of the rules and the NLP forward and switch them off.

A post that fails any check becomes a dead letter with the reason (Chinese, saying what to fix);
`admit` never raises because of a post's content.
"""
from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Callable

from core import jsontext
from core.config import Settings
from core.domain import Post, utcnow
from core.errors import RecordError
from core.text import post_preview, printable, safe_str
from store.base import DeadLetter

CHANNEL_RE = re.compile(r"[a-z][a-z0-9_]{0,31}")
# C0/C1 controls and DEL; tab, newline and carriage return are allowed in `text` only
_CONTROLS = "\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f"
_BREAKS = "\t\n\r\u2028\u2029"
_SURROGATES = "\ud800-\udfff"
_CONTROL = re.compile(f"[{_CONTROLS}]")
_LINE_BREAKS = re.compile(f"[{_BREAKS}]+")
_SURROGATE = re.compile(f"[{_SURROGATES}]")
_URL_BAD = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
# one pass each: what an identifier must not hold, and what makes `_text` change a text (most have neither)
_IDENTIFIER_BAD = re.compile(f"[{_CONTROLS}{_BREAKS}{_SURROGATES}]")
_TEXT_CHANGED = re.compile(f"[{_CONTROLS}{_SURROGATES}]")


@dataclass(frozen=True)
class Limits:
    """Sizes the rest of the system is built for (characters unless noted)."""

    text: int = 20_000
    identifier: int = 256  # source_id, author, reply_to
    thread: int = 500
    author_name: int = 100
    url: int = 2_048
    extra_bytes: int = 32_768  # Post.raw as JSON (UTF-8 bytes)
    extra_depth: int = 8
    int_bits: int = 63  # |n| < 2**63: what SQLite and every JSON consumer can hold


@dataclass
class Boundary:
    earliest: datetime = datetime(2000, 1, 1, tzinfo=timezone.utc)
    future_skew: timedelta = timedelta(minutes=10)
    clock: Callable[[], datetime] = utcnow
    limits: Limits = field(default_factory=Limits)

    @classmethod
    def from_settings(cls, settings: Settings, clock: Callable[[], datetime] = utcnow) -> "Boundary":
        return cls(earliest=settings.earliest, future_skew=settings.future_skew, clock=clock)

    @property
    def horizon(self) -> datetime:
        """The latest event time accepted now."""
        return self.clock() + self.future_skew

    # ------------------------------------------------------------------ a batch
    def admit(self, posts: list[Post], collector: str, originals: dict[int, str] | None = None
              ) -> tuple[list[Post], list[DeadLetter]]:
        """Split `posts` into the admitted (checked and normalised) and dead letters with reasons.
        `originals` maps id(post) to the record as received (shown in the dead letter)."""
        originals = originals or {}
        admitted: list[Post] = []
        dead: list[DeadLetter] = []
        horizon = self.horizon
        for post in posts:
            try:
                admitted.append(self.check(post, horizon))
            except Exception as exc:  # a RecordError, or anything a hostile value could raise
                reason = str(exc) if isinstance(exc, RecordError) else f"记录无法处理（{type(exc).__name__}）"
                dead.append(DeadLetter(source=source_of(post, collector), raw=originals.get(id(post)) or post_preview(post), error=reason,
                                       channel=_channel_or_none(post)))
        return admitted, dead

    # ------------------------------------------------------------------ one post
    def check(self, post: Post, horizon: datetime | None = None) -> Post:
        """The post, normalised, or RecordError saying what is wrong."""
        lim = self.limits
        channel = _identifier(post.channel, "channel", 32)
        if not CHANNEL_RE.fullmatch(channel):
            raise RecordError(f"channel 取值 {channel!r} 无效：应为小写字母开头的英文标识（最多 32 位），如 wechat、weibo、qq、board")
        source_id = _identifier(post.source_id, "source_id", lim.identifier)
        author = _identifier(post.author, "author", lim.identifier)
        reply_to = _identifier(post.reply_to, "reply_to", lim.identifier, required=False)
        text = _text(post.text, "text", lim.text, keep_lines=True)
        if not text.strip():
            raise RecordError("text 为空")
        thread = _text(post.thread, "thread", lim.thread) or None
        author_name = _text(post.author_name, "author_name", lim.author_name) or None
        url = _url(post.url, lim.url)
        created = self._time(post.created_at, horizon or self.horizon)
        raw = _extras(post.raw, lim)
        # a new Post, built directly (dataclasses.replace costs twice as much, for every post)
        return Post(channel=channel, source_id=source_id, author=author, text=text, created_at=created,
                    thread=thread, url=url, reply_to=reply_to or None, author_name=author_name, raw=raw,
                    id=post.id, version=post.version)

    def _time(self, value: Any, horizon: datetime) -> datetime:
        if not isinstance(value, datetime):
            raise RecordError(f"created_at 应为时间，实际是 {type(value).__name__}")
        if value.tzinfo is None or value.utcoffset() is None:
            raise RecordError("created_at 缺少时区偏移，请写成 2026-03-01T08:30:00+08:00")
        try:
            utc = value.astimezone(timezone.utc)
        except (OverflowError, ValueError):
            raise RecordError(f"created_at 超出可表示的时间范围：{_iso(value)}") from None
        if utc < self.earliest:
            raise RecordError(f"created_at {_iso(value)} 早于允许的最早时间 {self.earliest.date().isoformat()}"
                              "（配置项 ingest.earliest）；请检查时间是否写错")
        if utc > horizon:
            raise RecordError(f"created_at {_iso(value)} 晚于当前时间（允许的时钟误差 "
                              f"{_minutes(self.future_skew)} 分钟，配置项 ingest.future_skew_minutes）；"
                              "来自未来的帖子会打乱预警的时间窗口，请检查来源的时钟或时区")
        return value



# --------------------------------------------------------------------------- field checks
def _identifier(value: Any, name: str, limit: int, required: bool = True) -> str:
    if value is None or value == "":
        if required:
            raise RecordError(f"缺少必填字段：{name}")
        return ""
    if isinstance(value, bool) or not isinstance(value, (str, int)):
        raise RecordError(f"字段 {name} 应为字符串，实际是 {type(value).__name__}")
    text = str(value) if isinstance(value, str) else _int_text(value, name)
    if not text.strip():
        if required:
            raise RecordError(f"缺少必填字段：{name}")
        return ""
    if len(text) > limit:
        raise RecordError(f"字段 {name} 过长（{len(text)} 字符），上限 {limit}")
    if _IDENTIFIER_BAD.search(text):
        raise RecordError(f"字段 {name} 含控制字符、换行或无效的 Unicode 字符，请去掉后重试")
    return text


def _int_text(value: int, name: str) -> str:
    if abs(value) >= 2**63:
        raise RecordError(f"字段 {name} 的数值过大（超过 64 位整数），请改为字符串")
    return str(value)


def _text(value: Any, name: str, limit: int, keep_lines: bool = False) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RecordError(f"字段 {name} 应为字符串，实际是 {type(value).__name__}")
    if len(value) > limit:
        raise RecordError(f"字段 {name} 过长（{len(value)} 字），上限 {limit} 字")
    text = _CONTROL.sub("", _SURROGATE.sub("\ufffd", value)) if _TEXT_CHANGED.search(value) else value
    if not keep_lines:
        text = _LINE_BREAKS.sub(" ", text).strip()
    return text


def _url(value: Any, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise RecordError(f"字段 url 应为字符串，实际是 {type(value).__name__}")
    value = value.strip()
    if len(value) > limit:
        raise RecordError(f"字段 url 过长（{len(value)} 字符），上限 {limit}")
    if _URL_BAD.search(value) or _SURROGATE.search(value):
        raise RecordError("字段 url 含空白、控制字符或无效的 Unicode 字符")
    return value or None


def _extras(raw: Any, lim: Limits) -> dict[str, Any]:
    if raw is None or raw == {}:  # most posts bring no extras
        return {}
    if not isinstance(raw, dict):
        raise RecordError(f"附加字段应为对象，实际是 {type(raw).__name__}")
    clean = _json_value(raw, lim, depth=1, path="")
    try:
        size = len(jsontext.dumps(clean).encode("utf-8"))
    except (TypeError, ValueError) as exc:  # not reachable for cleaned values; kept as a guard
        raise RecordError(f"附加字段无法保存：{exc}") from None
    if size > lim.extra_bytes:
        raise RecordError(f"附加字段过大（{size} 字节），上限 {lim.extra_bytes} 字节；请只保留需要的字段")
    return clean


def _json_value(value: Any, lim: Limits, depth: int, path: str) -> Any:
    where = path or "附加字段"
    if depth > lim.extra_depth:
        raise RecordError(f"附加字段嵌套过深（超过 {lim.extra_depth} 层）：{where}")
    if value is None or isinstance(value, bool):
        return value
    if isinstance(value, int):
        if value.bit_length() > lim.int_bits:
            raise RecordError(f"附加字段 {where} 的数值过大（超过 64 位整数），请改为字符串")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise RecordError(f"附加字段 {where} 是非有限数（NaN 或无穷大）")
        return value
    if isinstance(value, str):
        return _CONTROL.sub("", _SURROGATE.sub("\ufffd", value))
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for k, v in value.items():
            if not isinstance(k, str):
                raise RecordError(f"附加字段 {where} 的键应为字符串")
            key = _CONTROL.sub("", _SURROGATE.sub("\ufffd", k))
            out[key] = _json_value(v, lim, depth + 1, f"{path}.{key}" if path else key)
        return out
    if isinstance(value, (list, tuple)):
        return [_json_value(v, lim, depth + 1, f"{where}[{i}]") for i, v in enumerate(value)]
    raise RecordError(f"附加字段 {where} 的类型 {type(value).__name__} 不是 JSON 值")


# --------------------------------------------------------------------------- dead-letter helpers
def source_of(post: Post, collector: str) -> str:
    """Where a post came from, for a dead letter: the collector's `_source` note, else channel/id."""
    raw = getattr(post, "raw", None)
    src = raw.get("_source") if isinstance(raw, dict) else None
    if isinstance(src, str) and src:
        return printable(src, 300)
    channel, source_id = getattr(post, "channel", None), getattr(post, "source_id", None)
    return printable(f"{collector}:{safe_str(channel, 40)}/{safe_str(source_id, 100)}", 300)


def _iso(value: datetime) -> str:
    try:
        return value.isoformat()
    except Exception:
        return repr(value)


def _minutes(td: timedelta) -> str:
    m = td.total_seconds() / 60
    return f"{m:g}"


def _channel_or_none(post: Post) -> str | None:
    ch = getattr(post, "channel", None)
    return ch if isinstance(ch, str) and CHANNEL_RE.fullmatch(ch) else None
