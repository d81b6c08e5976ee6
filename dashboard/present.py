"""Turning domain objects into what a page shows: local times, masked personal data, grouped
reasons, pagination. No HTML here: templates render these values with autoescaping.

Personal data: a viewer who may not see it in clear (roles.CLEAR_PII) gets every free-text value of a
post through `core.masking` — the text with its analysis' spans masked and then `redact`ed, and the
thread, author name, link, flag reasons, NLP reasons, keywords and decision note `redact`ed. Templates
show only what a `PostView` holds, and the `private` filter does the same for alert and case texts."""
from __future__ import annotations

import base64
import binascii

import re
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from typing import Any, Callable, Iterator, Sequence, TypeVar
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from flask import request

from core.domain import Analysis, Debunk, Decision, Flag, FlagStatus, Post, Reason, User, WriteBack
from core.masking import mask, mask_name, redact
from core.timefmt import format_local
from dashboard import roles
from store.base import PostVersion

SCORE_LABELS = {"sentiment": "情感", "spam": "垃圾广告", "rumour": "谣言", "grievance": "诉求", "abuse": "辱骂攻击",
                "pii": "个人信息", "keywords": "关键词"}
STATUS_LABELS = {"pending": "待审核", "approved": "已通过", "removed": "已删除"}
WRITEBACK_LABELS = {"pending": "等待同步", "failing": "同步失败，重试中", "sent": "平台已执行", "refused": "平台拒绝"}
CASE_KIND_LABELS = {"rumour": "谣言传播", "flood": "刷屏/广告潮", "surge": "负面激增"}
COUNT_LABELS = {
    "posts": "帖子总数",
    "analyzed": "已分析",
    "flagged": "曾被标记",
    "pending": "待审核",
    "alerts": "预警",
    "dead_letters": "死信",
    "outbox_pending": "待投递通知",
}
# Looks like personal data by itself (long digit runs, e-mail addresses): never shown masked-side.
_PII_LIKE = re.compile(r"\d{5,}|\S+@\S+")
STALE_TEXT = "（内容已更新，正在重新分析；为保护个人信息，分析完成后显示）"
UNANALYZED_TEXT = "（尚未分析；为保护个人信息，分析完成后显示）"


def localtime(dt: datetime | None, tz: ZoneInfo, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return format_local(dt, tz, fmt)


def sees_clear_pii(user: User | None) -> bool:
    return roles.allows(user, roles.CLEAR_PII)


def analysis_is_current(post: Post, analysis: Analysis) -> bool:
    """Whether `analysis` (whose PII offsets index the analysed text) describes the post's current
    text: the store records which post version each analysis was made for."""
    if not all(0 <= s.start < s.end <= len(post.text) for s in analysis.pii):
        return False
    return analysis.post_version == post.version


def visible_text(post: Post, analysis: Analysis | None, clear: bool) -> str:
    """The post's text as this viewer may see it: clear, or with every PII span masked and the rest
    redacted. Masked viewers see nothing until an analysis of the current text exists."""
    if clear:
        return post.text
    if analysis is None:
        return UNANALYZED_TEXT
    if not analysis_is_current(post, analysis):
        return STALE_TEXT
    return redact(mask(post.text, analysis.pii))


def private(text: str | None, clear: bool) -> str:
    """Free text for this viewer: as is for those who see personal data, else redacted."""
    if not text:
        return text or ""
    return text if clear else redact(text)


def author_display(post: Post, clear: bool) -> str:
    """The author's display name; masked viewers see its first character only (张**), and only when
    that character is no digit or letter of an account id (a QQ number is an author id too)."""
    name = post.author_name or post.author
    if clear:
        return name
    return mask_name(name) if name else "匿名"


@dataclass
class ScoreGroup:
    key: str
    label: str
    value: float | None  # the score in [0, 1] (None for groups without one)
    summary: str
    high: bool
    reasons: list[Reason]


def score_groups(a: Analysis) -> list[ScoreGroup]:
    """The NLP reasons grouped by the score they explain, each with its score."""
    label = SCORE_LABELS
    pii_kinds = "、".join(dict.fromkeys(s.label_zh for s in a.pii)) or "未发现"
    groups = [
        ScoreGroup("sentiment", label["sentiment"], None, f"{a.sentiment.label_zh}（倾向 {a.polarity:+.2f}）",
                   a.sentiment.value == "neg", a.reasons_for("sentiment")),
        ScoreGroup("spam", label["spam"], a.spam, f"{a.spam:.2f}", a.spam >= 0.5, a.reasons_for("spam")),
        ScoreGroup("rumour", label["rumour"], a.rumour, f"{a.rumour:.2f}", a.rumour >= 0.5, a.reasons_for("rumour")),
        ScoreGroup("grievance", label["grievance"], a.grievance, f"{a.grievance:.2f}", a.grievance >= 0.5,
                   a.reasons_for("grievance")),
        ScoreGroup("abuse", label["abuse"], a.abuse, f"{a.abuse:.2f}", a.abuse >= 0.5, a.reasons_for("abuse")),
        ScoreGroup("pii", label["pii"], None, pii_kinds, bool(a.pii), a.reasons_for("pii")),
    ]
    other = [r for r in a.reasons if r.score not in label]  # keyword reasons: the chips show them
    if other:
        groups.append(ScoreGroup("other", "其他", None, "", False, other))
    return groups


def safe_keywords(a: Analysis, text: str, clear: bool, current: bool = True) -> list[str]:
    """Keywords, minus any that repeat a piece of personal data when the viewer sees it masked."""
    if clear:
        return list(a.keywords)
    if not current:
        return []
    secrets = [text[s.start:s.end] for s in a.pii]
    return [k for k in a.keywords if not _PII_LIKE.search(k) and not any(k in s or s in k for s in secrets)
            and redact(k) == k]


@dataclass
class PostView:
    post: Post
    text: str
    author: str
    clear: bool
    thread: str = ""
    url: str = ""  # shown as text
    link: str | None = None  # an http(s) address to link to, only when nothing in it was masked
    decision_note: str = ""
    analysis: Analysis | None = None
    groups: list[ScoreGroup] = field(default_factory=list)
    keywords: list[str] = field(default_factory=list)
    versions: list[PostVersion] = field(default_factory=list)
    flags: list[Flag] = field(default_factory=list)
    status: FlagStatus | None = None
    decision: Decision | None = None
    debunk: Debunk | None = None
    actions: frozenset[str] = frozenset()  # platform actions this viewer may ask for (its channel's)
    writebacks: list[WriteBack] = field(default_factory=list)  # platform actions asked for, with states
    removal_request: tuple | None = None  # (by, reason_code, note, at): waiting for a second moderator
    removal_by_me: bool = False  # ... asked for by the viewer (who may not confirm it)


def post_view(
    post: Post,
    analysis: Analysis | None,
    *,
    clear: bool,
    debunks: dict[int, Debunk] | None = None,
    flags: Sequence[Flag] = (),
    status: FlagStatus | None = None,
    decision: Decision | None = None,
    versions: Sequence[PostVersion] = (),
    actions: frozenset[str] = frozenset(),
    writebacks: Sequence[WriteBack] = (),
) -> PostView:
    url = private(post.url, clear)
    view = PostView(
        post=post, text=visible_text(post, analysis, clear), author=author_display(post, clear), clear=clear,
        thread=private(post.thread, clear), url=url, link=safe_url(post.url) if url == (post.url or "") else None,
        analysis=analysis, status=status, decision=decision,
        flags=[f if clear else replace(f, reason=redact(f.reason)) for f in flags],
        decision_note=private(decision.note, clear) if decision else "",
        actions=actions,
        writebacks=[wb if clear else replace(wb, last_error=redact(wb.last_error), result=redact(wb.result))
                    for wb in writebacks],
    )
    if clear:
        view.versions = list(versions)  # earlier texts have no PII spans of their own: clear viewers only
    if analysis is not None:
        current = clear or analysis_is_current(post, analysis)
        view.groups = score_groups(analysis)
        if not clear:  # reason texts may quote what they matched
            for g in view.groups:
                g.reasons = [] if g.key == "pii" else [replace(r, text=redact(r.text)) for r in g.reasons]
        view.keywords = safe_keywords(analysis, post.text, clear, current)
        if analysis.debunk_id is not None and debunks:
            view.debunk = debunks.get(analysis.debunk_id)
    return view


def safe_url(url: str | None) -> str | None:
    """Only http(s) links are rendered as links (never javascript: or data:)."""
    if url and re.match(r"^https?://[^\s]+$", url, re.IGNORECASE):
        return url
    return None


def int_arg(name: str, default: int, lo: int, hi: int) -> int:
    try:
        value = int(request.args.get(name, default))
    except (TypeError, ValueError):
        return default
    return min(max(value, lo), hi)


@dataclass
class Pager:
    """Page numbers for lists: `total` when known, else `has_next` from fetching one extra row."""

    page: int
    per_page: int
    total: int | None = None
    has_next: bool = False

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page

    @property
    def pages(self) -> int | None:
        return None if self.total is None else max(1, -(-self.total // self.per_page))

    @property
    def has_prev(self) -> bool:
        return self.page > 1

    def link(self, page: int) -> str:
        """This page's address with another page number; the other query parameters are kept as
        they came (as text, never as arguments to url_for)."""
        args = [(k, v) for k, v in request.args.items(multi=True) if k != "page"]
        return request.path + "?" + urlencode([*args, ("page", str(page))])

    def trim(self, rows: list) -> list:
        """Given per_page + 1 rows, keep per_page and remember whether more exist."""
        self.has_next = len(rows) > self.per_page
        return rows[: self.per_page]

    def finish(self) -> "Pager":
        if self.total is not None:
            self.has_next = self.page < (self.pages or 1)
        return self


def pager(per_page: int, total: int | None = None) -> Pager:
    return Pager(page=int_arg("page", 1, 1, 100_000), per_page=per_page, total=total).finish()


# ---------------------------------------------------------------------------- keyset cursors
def encode_cursor(at: datetime, post_id: int) -> str:
    """An opaque cursor for keyset paging: the (time, id) of the last row shown."""
    raw = f"{at.astimezone(timezone.utc).isoformat()}|{post_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, int] | None:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        when, _, pid = raw.partition("|")
        at, post_id = datetime.fromisoformat(when), int(pid)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        return None
    if at.tzinfo is None or not 0 <= post_id < 2**63:
        return None
    return at, post_id


T = TypeVar("T")


def keyset_walk(fetch: Callable[[Any], list[T]], cursor_of: Callable[[T], Any], page: int) -> Iterator[T]:
    """Every row of a keyset-paged read, page by page in steady memory: `fetch(after)` returns up to
    `page` rows after the cursor (None: from the start); `cursor_of(row)` is the cursor a row ends at."""
    after = None
    while True:
        rows = fetch(after)
        yield from rows
        if len(rows) < page:
            return
        after = cursor_of(rows[-1])
