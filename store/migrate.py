"""Versioned schema migrations for the SQLite store.

Migrations are the numbered `.sql` files in store/migrations/, applied in order, each in its own
transaction together with its row in `schema_migrations`, so a crash mid-way leaves the database at
the previous version. Run by the service at start; by hand: `python -m store.migrate --data-dir DIR`.
"""
from __future__ import annotations

import logging
import sqlite3
import sys
from pathlib import Path
from typing import Callable

from core.cli import ChineseArgumentParser
from store.codec import ts
from core.domain import utcnow

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger("sentinel.store")


def available() -> list[Path]:
    return sorted(MIGRATIONS_DIR.glob("[0-9][0-9][0-9][0-9]_*.sql"))


def apply(conn: sqlite3.Connection, progress: Callable[[str], None] | None = None) -> list[str]:
    """Apply pending migrations on an autocommit connection; return the names applied."""
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)"
    )
    done = {r[0] for r in conn.execute("SELECT name FROM schema_migrations")}
    applied: list[str] = []
    pending = [p for p in available() if p.stem not in done]
    for i, path in enumerate(pending, 1):
        sql = path.read_text(encoding="utf-8")
        name = path.stem.replace("'", "''")
        try:
            conn.executescript(
                "BEGIN IMMEDIATE;\n"
                + sql
                + f"\nINSERT INTO schema_migrations (name, applied_at) VALUES ('{name}', '{ts(utcnow())}');\n"
                + "COMMIT;"
            )
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise RuntimeError(f"数据库迁移 {path.name} 失败：{exc}。数据库仍停留在上一版本，请修复后重试。") from exc
        applied.append(path.stem)
        msg = f"数据库迁移 [{i}/{len(pending)}] 已应用：{path.stem}"
        log.info(msg)
        if progress:
            progress(msg)
    return applied


def main(argv: list[str] | None = None) -> int:
    parser = ChineseArgumentParser(
        prog="python -m store.migrate",
        description="把 SQLite 数据库升级到最新结构版本（服务启动时也会自动执行）。",
    )
    parser.add_argument("--data-dir", default="./data", help="数据目录，数据库为其中的 sentinel.db（默认 ./data）")
    parser.add_argument("--list", action="store_true", help="只列出各迁移及是否已应用，不做修改")
    args = parser.parse_args(argv)
    db = Path(args.data_dir) / "sentinel.db"
    db.parent.mkdir(parents=True, exist_ok=True)
    conn = sqlite3.connect(db, isolation_level=None)
    if args.list:
        conn.execute("CREATE TABLE IF NOT EXISTS schema_migrations (name TEXT PRIMARY KEY, applied_at TEXT)")
        done = dict(conn.execute("SELECT name, applied_at FROM schema_migrations").fetchall())
        for p in available():
            print(f"{p.stem}\t{'已应用 ' + done[p.stem] if p.stem in done else '未应用'}")
        return 0
    names = apply(conn, progress=lambda m: print(m, file=sys.stderr))
    print(f"完成：应用了 {len(names)} 个迁移，数据库 {db} 已是最新版本。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
