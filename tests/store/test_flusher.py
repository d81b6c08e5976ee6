"""The SQLite store's background flusher (store/sqlite/connection.py `Flusher`): started by the first
write, stopped by close or when the store is dropped, syncing the WAL and never touching the
database file (whose POSIX locks a closed descriptor would drop)."""
from __future__ import annotations

import gc
import os
import shutil
import subprocess
import sys
import threading
import time
from datetime import datetime, timezone

from core.domain import Post
from store.sqlite import SqliteStore
from store.sqlite.connection import Flusher

T0 = datetime(2026, 3, 2, 9, 0, tzinfo=timezone.utc)


def _flushers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "sqlite-flusher"]


def _wait(condition, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if condition():
            return True
        time.sleep(0.02)
    return condition()


def test_the_first_write_starts_it_and_close_stops_it(tmp_path):
    setup = SqliteStore(tmp_path / "s.db")
    setup.migrate()
    setup.close()
    before = len(_flushers())
    store = SqliteStore(tmp_path / "s.db")
    store.counts()  # reading starts nothing
    assert store._flusher is None and len(_flushers()) == before
    store.ingest("t", [Post("qq", "1", "u", "第一条", T0)], None)
    flusher = store._flusher
    assert flusher is not None and flusher.running and len(_flushers()) == before + 1
    store.ingest("t", [Post("qq", "2", "u", "第二条", T0)], None)
    assert store._flusher is flusher  # one per store
    store.close()
    assert not flusher.running and len(_flushers()) == before
    store.ingest("t", [Post("qq", "3", "u", "关闭后又写", T0)], None)  # a closed store reopens: a new flusher
    assert store._flusher is not None and store._flusher is not flusher
    store.close()


def test_a_store_dropped_without_close_stops_its_flusher(tmp_path):
    store = SqliteStore(tmp_path / "s.db")
    store.migrate()
    flusher = store._flusher
    assert flusher is not None and flusher.running
    del store
    gc.collect()
    assert _wait(lambda: not flusher.running)


def test_it_syncs_the_wal(tmp_path, monkeypatch):
    store = SqliteStore(tmp_path / "s.db")
    store.migrate()
    store.ingest("t", [Post("qq", "1", "u", "第一条", T0)], None)
    synced: set[str] = set()
    real = os.fdatasync

    def record(fd: int) -> None:
        synced.add(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fdatasync", record)
    flusher = Flusher(tmp_path / "s.db", every=0.01)
    try:
        assert _wait(lambda: str(tmp_path / "s.db-wal") in synced)
    finally:
        flusher.stop()
    assert not flusher.running
    assert synced == {str(tmp_path / "s.db-wal")}  # never the database file (see the next test)
    store.close()


def test_the_locks_of_the_process_are_kept(tmp_path):
    """Closing a descriptor of the database file would drop every POSIX lock this process holds on it.
    Another process closing its last connection would then think it the last user of the database,
    checkpoint and delete the WAL under this one (which then fails with "disk I/O error")."""
    store = SqliteStore(tmp_path / "s.db")
    store.migrate()
    store.ingest("t", [Post("qq", "1", "u", "第一条", T0)], None)
    flusher = Flusher(tmp_path / "s.db", every=0.01)
    try:
        time.sleep(0.2)  # many rounds
        subprocess.run([sys.executable, "-c", "import sqlite3, sys; c = sqlite3.connect(sys.argv[1]);"
                        " c.execute('SELECT count(*) FROM posts').fetchall(); c.close()", str(tmp_path / "s.db")],
                       check=True, timeout=60)
        assert (tmp_path / "s.db-wal").exists()  # still this process's WAL
        store.ingest("t", [Post("qq", "2", "u", "第二条", T0)], None)
        assert store.counts()["posts"] == 2
    finally:
        flusher.stop()
        store.close()


def test_missing_files_are_skipped_and_it_still_stops(tmp_path, monkeypatch):
    folder = tmp_path / "gone"
    folder.mkdir()
    calls: list[int] = []
    monkeypatch.setattr(os, "fdatasync", lambda fd: calls.append(fd))
    flusher = Flusher(folder / "s.db", every=0.01)
    shutil.rmtree(folder)
    time.sleep(0.1)
    assert flusher.running and not calls  # nothing to sync, no error
    flusher.stop()
    assert not flusher.running
