"""Fixtures for the nlp tests: one analyzer per test module, posts with controllable time/author."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from core.domain import Post

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=timezone.utc)
REPO = Path(__file__).resolve().parents[2]
SHARED_DATA = REPO.parent / "shared" / "data"


class Posts:
    """Makes posts with unique ids; time advances a minute per post unless given."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, text: str, *, author: str | None = None, channel: str = "weibo",
                 minutes: float | None = None) -> Post:
        self.n += 1
        when = T0 + timedelta(minutes=self.n if minutes is None else minutes)
        return Post(channel=channel, source_id=f"p{self.n}", author=author or f"u{self.n}", text=text,
                    created_at=when)


@pytest.fixture
def make_post() -> Posts:
    return Posts()


@pytest.fixture(scope="module")
def analyzer():
    from nlp import Analyzer

    return Analyzer.load()
