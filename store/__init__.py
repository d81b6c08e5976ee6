"""Persistence. `open_store(settings, tokenize)` returns the configured backend (see store/base.py)."""
from __future__ import annotations

from core.config import Settings
from core.registry import Registry
from store.base import Store
from store.search import ElasticsearchStore, OpenSearchStore, SearchStore
from store.sqlite import SqliteStore
from store.sqlite.connection import BatchTokenizer, Tokenizer

# elasticsearch / opensearch: the whole contract on a search cluster (store/search, docs/scale-out.md)
BACKENDS: Registry[Store] = Registry("存储后端", {"sqlite": SqliteStore, "elasticsearch": ElasticsearchStore,
                                               "opensearch": OpenSearchStore})


def open_store(settings: Settings, tokenize: Tokenizer | None = None,
               tokenize_many: BatchTokenizer | None = None) -> Store:
    """Open (and migrate) the store named by `settings.store["backend"]`. `tokenize` cuts a text for
    the search index and for queries; `tokenize_many`, when given, does the same for a batch."""
    cls = BACKENDS.get(settings.store.get("backend", "sqlite"))
    store: Store
    if issubclass(cls, SearchStore):
        store = cls.from_settings(settings.store, tokenize=tokenize, timezone=settings.timezone,
                                  file=settings.config_file)
    else:
        store = cls(settings.db_path, tokenize=tokenize, timezone=settings.timezone,  # type: ignore[call-arg]
                    tokenize_many=tokenize_many)
    store.migrate()
    return store


def open_existing_store(settings: Settings) -> Store:
    """The service's store for a command that reads it (reports, exports): a clear error, not a new
    empty database, when the data directory holds none yet."""
    from core.errors import SentinelError

    if settings.store.get("backend", "sqlite") == "sqlite" and not settings.db_path.exists():
        raise SentinelError(f"数据目录 {settings.data_dir} 里还没有数据库：先运行服务（python scheduler.py），"
                            "或用 --data-dir / --config 指向服务的数据目录")
    return open_store(settings)


__all__ = ["Store", "SqliteStore", "open_store", "open_existing_store", "BACKENDS"]
