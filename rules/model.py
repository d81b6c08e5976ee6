"""What rules work with: a loaded rule (`RuleSpec`), an analysed post (`Item`), a window entry
(`Event`) and what a rule type reports (`Match`).

Everything here is plain data; nothing reads a clock or a file. The one way to the store is an
item's `lookup`, handed in by the engine and asked only when a rule's `author` condition needs it.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Callable

from core.domain import Analysis, CaseKind, Level, PIISpan, Post, ReasonCode, Sentiment, channel_label
from core.masking import excerpt as masked_excerpt

if TYPE_CHECKING:
    from rules.filters import Filter
    from store.base import AuthorHistory

AuthorLookup = Callable[[str, str], "AuthorHistory"]  # (channel, author) -> what the store holds of them


@dataclass(frozen=True)
class AuthorStanding:
    """A post's author in its channel, as the `author` condition reads them (AutoModerator's author
    checks, from what moderation has seen rather than a platform's karma)."""

    posts: int  # their other posts in the channel
    days: float  # from their first post in the channel to this post (event time, not the clock)
    flagged: int  # their posts a rule flagged
    removed: int  # their posts removed (by a moderator or a remove action)
    approved: int  # their flagged posts a moderator approved

    @classmethod
    def of(cls, history: "AuthorHistory", post: Post) -> "AuthorStanding":
        first = history.first_at
        days = max(0.0, (post.created_at - first).total_seconds() / 86400) if first is not None else 0.0
        return cls(max(0, history.posts - 1), days, history.flagged, history.removed, history.approved)


@dataclass(frozen=True)
class Item:
    """One analysed post version as the rules see it. `text` is the normalized text, casefolded."""

    post: Post
    analysis: Analysis
    text: str
    lookup: AuthorLookup | None = field(default=None, compare=False, repr=False)

    @classmethod
    def of(cls, post: Post, analysis: Analysis, lookup: AuthorLookup | None = None) -> "Item":
        return cls(post, analysis, (analysis.normalized or post.text).casefold(), lookup)

    @cached_property
    def standing(self) -> AuthorStanding | None:
        """The author's standing in the channel, asked of the store the first time a rule needs it
        (None without a store: an `author` condition then never holds)."""
        if self.lookup is None:
            return None
        return AuthorStanding.of(self.lookup(self.post.channel, self.post.author), self.post)

    @property
    def at(self) -> datetime:
        """Event time: when the post was written (never the wall clock)."""
        return self.post.created_at

    @cached_property
    def event(self) -> "Event":
        """The post as a window entry, made once however many rules keep it (its excerpt is masked)."""
        return Event.of(self)

    def value(self, query_key: str) -> str | None:
        """The value a rule groups by (`channel`, `topic`, `thread`, `sentiment`, `extra.<name>`)."""
        if query_key.startswith("extra."):
            v = self.analysis.extra.get(query_key[len("extra."):])
        else:
            v = {
                "channel": self.post.channel,
                "topic": self.analysis.topic,
                "thread": self.post.thread,
                "sentiment": self.analysis.sentiment.value,
            }.get(query_key)
        return None if v is None or v == "" else str(v)


@dataclass(frozen=True)
class Event:
    """A post inside a rule's time window: just what aggregates and alert texts need."""

    post_id: int
    version: int
    at: datetime
    channel: str
    author: str
    topic: str | None
    text: str = field(repr=False, compare=False)  # as posted: read `excerpt`, which is masked
    pii: tuple[PIISpan, ...] = field(repr=False, compare=False)

    @classmethod
    def of(cls, item: Item) -> "Event":
        p = item.post
        return cls(p.id or 0, p.version, p.created_at, p.channel, p.author, item.analysis.topic, p.text,
                   tuple(item.analysis.pii))

    @cached_property
    def excerpt(self) -> str:
        """The post on one line, personal data masked, cut short. Made when an alert text needs it,
        not for every post a window keeps."""
        return masked_excerpt(self.text, self.pii)


@dataclass
class Match:
    """A rule fired. `at` is the event time it fired at (the newest post that completed it)."""

    rule: "RuleSpec"
    trigger: Item  # the post that made it fire; its fields fill the templates
    at: datetime
    events: list[Event]  # every post the match is about, oldest first
    key: str | None = None  # the query_key value, when the rule has one
    flag_post_ids: list[int] = field(default_factory=list)  # posts the flag action marks
    case_key: str | None = None  # the case this match belongs to (default: `key`)
    values: dict[str, Any] = field(default_factory=dict)  # type-specific template values, fixed when it fired


@dataclass(frozen=True)
class FlagAction:
    reason: str  # template


@dataclass(frozen=True)
class RemoveAction:
    """Remove the flagged posts without waiting for a moderator (AutoModerator's `action: remove`)."""

    reason_code: ReasonCode


@dataclass(frozen=True)
class AlertAction:
    level: Level
    title: str  # template
    body: str  # template
    notifiers: tuple[str, ...] = ()  # empty: every configured notifier
    kind: str = ""  # rumour | surge | spam | pii | collector | other; "" inferred (rules/loader.py)


@dataclass(frozen=True)
class CaseAction:
    kind: CaseKind
    title: str  # template


@dataclass
class RuleSpec:
    """One validated rule from a rule file."""

    name: str
    title: str
    type: str
    index: int
    filter: "Filter"
    flag: FlagAction | None = None
    remove: RemoveAction | None = None
    alert: AlertAction | None = None
    case: CaseAction | None = None
    realert: timedelta = timedelta(minutes=60)
    query_key: str | None = None
    options: dict[str, Any] = field(default_factory=dict)  # type-specific, validated
    description: str = ""
    enabled: bool = True

    @property
    def label(self) -> str:
        """How messages name the rule: `rules[3]（rumour_post）`."""
        return f"rules[{self.index}]（{self.name}）"

    def dedupe_key(self, key: str | None) -> str:
        return self.name if key is None else f"{self.name}:{key}"


def key_label(query_key: str | None, key: str | None) -> str:
    """A query-key value as people read it (channel ids become 微博 etc.)."""
    if key is None:
        return "全部"
    if query_key == "channel":
        return channel_label(key)
    if query_key == "sentiment":
        return Sentiment(key).label_zh if key in {s.value for s in Sentiment} else key
    return key
