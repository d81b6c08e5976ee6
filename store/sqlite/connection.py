"""Connections and transactions for the SQLite store: one connection per thread, WAL mode."""
from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence
from zoneinfo import ZoneInfo

from store.index_terms import IndexTerms

from core.domain import Analysis, Post


log = logging.getLogger("sentinel.store")

Tokenizer = Callable[[str], list[str]]
BatchTokenizer = Callable[[Sequence[str]], list[list[str]]]  # `[tokenize(t) for t in texts]`, faster


class Database:
    def __init__(self, path: str | Path, tokenize: Tokenizer | None = None, timezone: str = "Asia/Shanghai",
                 tokenize_many: BatchTokenizer | None = None) -> None:
        ZoneInfo(timezone)  # an unknown zone fails here, not at the first saved analysis
        self.path = Path(path)
        self.timezone = timezone  # the local days of the dashboard's counts (store/sqlite/rollups.py)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.tokenize: Tokenizer = tokenize or _char_tokens
        # the index of a batch of posts; it must give what `tokenize` gives, text by text
        self.tokenize_many: BatchTokenizer = tokenize_many or (lambda texts: [self.tokenize(t) for t in texts])
        self.index_terms = IndexTerms(self.tokenize)  # a post's search terms from its analysis' tokens
        self._local = threading.local()
        self._lock = threading.Lock()
        self._conns: list[sqlite3.Connection] = []
        # analyses this process just saved, for the rules pass that follows (store/sqlite/posts.py)
        # (post version, analysed at, analysis, the post as read for analysis or None), by post id
        self._fresh: OrderedDict[int, tuple[int, str, Analysis, Post | None]] = OrderedDict()
        self._handed_out: dict[int, Post] = {}  # the posts the last posts_to_analyze returned
        self._flusher: Flusher | None = None  # started by the first write (see Flusher)

    def _conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None, check_same_thread=False)
            conn.row_factory = sqlite3.Row
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")  # with WAL: safe against process crash / kill -9
            conn.execute("PRAGMA foreign_keys=ON")
            conn.execute("PRAGMA busy_timeout=30000")
            # checkpoint the WAL every 40,000 pages (160 MB), not 1,000: a fortieth of the checkpoints'
            # fsyncs, and pages written again and again (indexes, counts) are copied back once per
            # checkpoint (measured with core.bench: 10,000 -> 40,000 pages, 2-3% faster end to end);
            # after a checkpoint the WAL file is cut back to 64 MB, so it does not keep its peak size
            conn.execute("PRAGMA wal_autocheckpoint=40000")
            conn.execute("PRAGMA journal_size_limit=67108864")
            # deleted and overwritten content is zeroed in the file, not left in free pages (erasure, retention)
            conn.execute("PRAGMA secure_delete=ON")
            self._local.conn = conn
            with self._lock:
                self._conns.append(conn)
        return conn

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: everything inside commits together or not at all."""
        conn = self._conn()
        if self._flusher is None:
            self._start_flusher()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        else:
            conn.execute("COMMIT")

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher is not None:
                return
            self._flusher = Flusher(self.path)
        # a store dropped without close() stops its flusher when it is collected
        weakref.finalize(self, self._flusher.stop)

    def _rows(self, sql: str, params: Sequence[Any] = ()) -> list[sqlite3.Row]:
        return self._conn().execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Row | None:
        return self._conn().execute(sql, params).fetchone()

    def migrate(self, progress: Any = None) -> list[str]:
        from store import migrate as migrations  # here: `python -m store.migrate` runs that module as __main__

        return migrations.apply(self._conn(), progress)

    def backup(self, target: str | Path, progress: Any = None) -> None:
        """A consistent snapshot of the live database in `target` (SQLite's online backup API, in
        one step: readers and writers of the service go on meanwhile, and the copy is the database
        as of one moment, every committed transaction before it included)."""
        dst = sqlite3.connect(target)
        try:
            self._conn().backup(dst, pages=-1, progress=progress)
        finally:
            dst.close()

    def close(self) -> None:
        with self._lock:
            flusher, self._flusher = self._flusher, None
        if flusher is not None:
            flusher.stop()
        with self._lock:
            for conn in self._conns:
                try:
                    conn.close()
                except sqlite3.ProgrammingError:
                    pass
            self._conns.clear()
        self._local = threading.local()


class Flusher:
    """Writes the database's write-ahead log to disk in the background, every `every` seconds.

    With WAL and `synchronous=NORMAL`, a commit only hands its pages to the operating system; they
    reach the disk at a checkpoint, which first syncs the WAL (up to 160 MB of it, see
    wal_autocheckpoint), and the thread that committed waits for that (0.1-0.2 s each here). Syncing
    the WAL from a thread of its own, with the GIL released, lets the disk take it in the background,
    so a checkpoint finds little left to wait for (core.bench, medians of 4 interleaved runs: wall
    time 0.17 s above CPU time without, 0.08 s with). It changes nothing SQLite relies on: a sync
    only makes the kernel write what it would write anyway, and SQLite still syncs at its own points.

    Only the WAL, never the database file: closing any descriptor of a file drops every POSIX lock
    the process holds on it, and SQLite's locks are on the database file (sqlite.org/howtocorrupt.html,
    2.2). The WAL holds no locks (they are on the database file and the -shm file). Syncing the database
    file would not help either: its pages are written by the checkpoint, which syncs them at once."""

    def __init__(self, database: Path, every: float = 0.5) -> None:
        self.wal = Path(f"{database}-wal")
        self.every = every
        self._stop = threading.Event()
        # the thread holds the path and the event, not the store (which can then be collected)
        self._thread = threading.Thread(target=self._run, name="sqlite-flusher", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.wait(self.every):
            try:
                fd = os.open(self.wal, os.O_RDONLY)
            except OSError:  # no WAL at the moment, or the directory is gone
                continue
            try:
                os.fdatasync(fd)
            except OSError as exc:
                log.debug("后台写盘失败（%s）：%s", self.wal.name, exc)
            finally:
                os.close(fd)

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not threading.current_thread():
            self._thread.join(timeout=5)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()


def _char_tokens(text: str) -> list[str]:
    """Fallback search tokenizer (no jieba): single characters; the service injects jieba's."""
    return [ch for ch in text if not ch.isspace()]


def placeholders(n: int) -> str:
    return ",".join("?" * n)
