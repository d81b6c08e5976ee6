"""Persistence. `open_store(settings, tokenize)` returns the configured backend (see store/base.py)."""
from __future__ import annotations

from core.config import Settings
from core.registry import Registry
from store.base import Store
from store.sqlite import SqliteStore
from store.sqlite.connection import Tokenizer

BACKENDS: Registry[Store] = Registry("存储后端", {"sqlite": SqliteStore})


def open_store(settings: Settings, tokenize: Tokenizer | None = None) -> Store:
    """Open (and migrate) the store named by `settings.store["backend"]`."""
    cls = BACKENDS.get(settings.store.get("backend", "sqlite"))
    store = cls(settings.db_path, tokenize=tokenize)  # type: ignore[call-arg]
    store.migrate()
    return store


__all__ = ["Store", "SqliteStore", "open_store", "BACKENDS"]
