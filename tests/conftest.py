"""Fixtures shared by every test package: a real, migrated SQLite store in the test's own folder."""
from __future__ import annotations

import logging
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


@pytest.fixture(autouse=True)
def _logging_as_it_was() -> Iterator[None]:
    """Commands under test call `core.logs.setup_logging`, which replaces the root handlers and level;
    put them back so later tests (and caplog) see log records as usual."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)
