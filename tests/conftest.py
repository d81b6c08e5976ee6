"""Fixtures shared by every test package: a real, migrated SQLite store in the test's own folder."""
from __future__ import annotations

import logging
from typing import Iterator

import jieba
import pytest

from store.sqlite import SqliteStore
from tests.clusters.cluster import SearchCluster
from tests.clusters.fixtures import lifetimes, running_cluster


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


@pytest.fixture(scope="session")
def opensearch_cluster(request, tmp_path_factory) -> Iterator[SearchCluster]:
    """A real three-node OpenSearch cluster on loopback for the whole session (tests/clusters)."""
    yield from running_cluster("opensearch", tmp_path_factory.mktemp("opensearch"), request.config)


@pytest.fixture(scope="session")
def elasticsearch_cluster(request, tmp_path_factory) -> Iterator[SearchCluster]:
    """A real three-node Elasticsearch cluster on loopback for the whole session (tests/clusters)."""
    yield from running_cluster("elasticsearch", tmp_path_factory.mktemp("elasticsearch"), request.config)


def pytest_collection_finish(session: pytest.Session) -> None:
    lifetimes(session.config).plan(session.items)


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_teardown(item: pytest.Item, nextitem: pytest.Item | None) -> Iterator[None]:
    """After a test's own teardown: stop a search cluster no later test needs (tests/clusters/fixtures.py)."""
    yield
    lifetimes(item.config).after(item)
