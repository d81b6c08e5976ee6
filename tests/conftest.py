"""Fixtures shared by every test package: a real, migrated SQLite store in the test's own folder."""
from __future__ import annotations

from typing import Iterator

import jieba
import pytest

from store.sqlite import SqliteStore


@pytest.fixture
def store(tmp_path) -> Iterator[SqliteStore]:
    """A fresh store file per test, searching with jieba's search-mode tokens."""
    s = SqliteStore(tmp_path / "data" / "sentinel.db", tokenize=lambda text: list(jieba.cut_for_search(text)))
    s.migrate()
    yield s
    s.close()
