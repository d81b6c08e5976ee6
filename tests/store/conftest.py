"""The `store` fixture of tests/store: SQLite by default; a test marked with `CONTRACT` (see
test_sqlite.py) runs on every backend that implements what it covers, the search-cluster stores on
the session's real clusters (each test under its own index prefix, dropped afterwards)."""
from __future__ import annotations

import uuid
from typing import Iterator

import jieba
import pytest

from store.base import Store
from store.search import ElasticsearchStore, OpenSearchStore
from store.sqlite import SqliteStore

SEARCH_STORES = {"opensearch": OpenSearchStore, "elasticsearch": ElasticsearchStore}

# parametrize a test of the contract over the backends: @CONTRACT above the test, its body unchanged
CONTRACT = pytest.mark.parametrize("store", [
    "sqlite",
    pytest.param("opensearch", marks=pytest.mark.opensearch),
    pytest.param("elasticsearch", marks=pytest.mark.elasticsearch),
], indirect=True)
# only the search-cluster stores
SEARCH = pytest.mark.parametrize("store", [
    pytest.param("opensearch", marks=pytest.mark.opensearch),
    pytest.param("elasticsearch", marks=pytest.mark.elasticsearch),
], indirect=True)


def _tokens(text: str) -> list[str]:
    return list(jieba.cut_for_search(text))


@pytest.fixture
def store(request, tmp_path) -> Iterator[Store]:
    backend = getattr(request, "param", "sqlite")
    if backend == "sqlite":
        s = SqliteStore(tmp_path / "data" / "sentinel.db", tokenize=_tokens)
        s.migrate()
        yield s
        s.close()
        return
    cluster = request.getfixturevalue(f"{backend}_cluster")
    prefix = f"t{uuid.uuid4().hex[:10]}"
    search = SEARCH_STORES[backend].from_settings({"hosts": cluster.hosts, "index_prefix": prefix}, tokenize=_tokens)
    search.migrate()
    yield search
    search.client.delete_everything(prefix)
    search.close()
