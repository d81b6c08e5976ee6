"""Fixtures for the rules tests: a real SQLite store in tmp_path, a feed that stores analysed posts,
and rule files written to tmp_path."""
from __future__ import annotations

import textwrap
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

import pytest

from core.domain import Analysis, PIISpan, Post, Reason, Sentiment
from rules import RuleEngine
from store.sqlite import SqliteStore

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)  # 09:00 in Beijing


@pytest.fixture
def t0() -> datetime:
    return T0


class Feed:
    """Stores posts with the analysis nlp/ would have given them (scores chosen by the test)."""

    def __init__(self, store: SqliteStore) -> None:
        self.store = store
        self.n = 0

    def make(self, text: str = "食堂的菜还可以", *, minutes: float = 0, channel: str = "weibo",
             author: str | None = None, **scores: Any) -> tuple[Post, Analysis]:
        self.n += 1
        post = Post(channel=channel, source_id=f"s{self.n}", author=author or f"u{self.n}", text=text,
                    created_at=T0 + timedelta(minutes=minutes))
        return post, analysis(text, **scores)

    def add(self, text: str = "食堂的菜还可以", **kw: Any) -> Post:
        post, a = self.make(text, **kw)
        self.store.ingest("test", [post], None)
        self.store.save_analyses([(post, a)])
        return post

    def many(self, n: int, text: str = "工资又降了，太失望", *, start: float = 0, step: float = 1,
             **kw: Any) -> list[Post]:
        return [self.add(f"{text}（{i}）", minutes=start + i * step, **kw) for i in range(n)]


def analysis(text: str, *, spam: float = 0.0, rumour: float = 0.0, polarity: float = 0.0,
             grievance: float = 0.0, abuse: float = 0.0,
             sentiment: str = "neu", topic: str | None = None, pii: list[tuple[str, str]] = (),
             debunk_id: int | None = None, cluster: str | None = None, reasons: list[Reason] = (),
             keywords: list[str] = (), **extra: Any) -> Analysis:
    """`pii`: (kind, value) pairs; the spans are found in `text`."""
    spans = [PIISpan(kind, text.index(value), text.index(value) + len(value)) for kind, value in pii]
    if cluster is not None:
        extra["cluster"] = cluster
    return Analysis(normalized=text, tokens=[], sentiment=Sentiment(sentiment), polarity=polarity, spam=spam,
                    rumour=rumour, topic=topic, pii=spans, debunk_id=debunk_id, extra=extra,
                    reasons=list(reasons), keywords=list(keywords), model_version="test-1", grievance=grievance,
                    abuse=abuse)


@pytest.fixture
def make_analysis() -> Callable[..., Analysis]:
    return analysis


@pytest.fixture
def make_feed() -> Callable[[SqliteStore], Feed]:
    return Feed


@pytest.fixture
def feed(store) -> Feed:
    return Feed(store)


@pytest.fixture
def rules_file(tmp_path) -> Callable[[str], Path]:
    """Write a rule file (YAML text, dedented) and return its path."""
    count = iter(range(1000))

    def write(text: str) -> Path:
        path = tmp_path / f"rules{next(count)}.yaml"
        path.write_text(textwrap.dedent(text), encoding="utf-8")
        return path

    return write


@pytest.fixture
def make_engine(rules_file) -> Callable[..., RuleEngine]:
    def make(text: str, notifiers: list[str] = ()) -> RuleEngine:
        return RuleEngine.from_file(rules_file(text), list(notifiers))

    return make
