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
    prefix = request.getfixturevalue("search_prefixes").setdefault(backend, f"t{uuid.uuid4().hex[:10]}")
    search = SEARCH_STORES[backend].from_settings({"hosts": cluster.hosts, "index_prefix": prefix}, tokenize=_tokens)
    search.migrate()  # the first test makes the indices; later ones find them (a request each)
    yield search
    empty_store(search)
    search.close()


@pytest.fixture(scope="session")
def search_prefixes() -> Iterator[dict[str, str]]:
    """One index prefix per cluster backend for the session: making a store's two dozen indices takes
    seconds on a three-node cluster, emptying them a fraction of one, so tests share the indices and
    each leaves them empty (`empty_store`). Dropped at the end."""
    prefixes: dict[str, str] = {}
    yield prefixes
    for backend, prefix in prefixes.items():
        import os

        from tests.clusters.fixtures import external_hosts_env

        hosts = os.environ.get(external_hosts_env(backend), "")
        if hosts:  # a shared cluster outlives the session: leave nothing behind on it
            search = SEARCH_STORES[backend].from_settings({"hosts": hosts.split(","), "index_prefix": prefix})
            search.client.delete_everything(prefix)
            search.close()


def empty_store(search) -> None:
    """Delete every document under the store's prefix (the indices, templates and mappings stay) but
    the id sequences: ids go on from one test to the next, as in a store whose documents were deleted,
    so no document id comes back while the cluster still remembers its deletion (a write with an
    external version, as review.py's flags, would be refused)."""
    pattern = f"{search.names.prefix}-*"
    search.client.refresh(pattern)  # writes made without a refresh (keys, …) must be found too
    meta = search.names.meta
    while True:
        hits = search.client.search(pattern, {"size": 5000, "_source": False, "query": {"match_all": {}},
                                              "sort": ["_doc"]})["hits"]["hits"]
        doomed = [h for h in hits if not (h["_index"] == meta and h["_id"].startswith("seq:"))]
        if not doomed:
            return
        search.client.bulk([{"delete": {"_index": h["_index"], "_id": h["_id"]}} for h in doomed], refresh=True)
