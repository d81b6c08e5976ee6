"""Restore a snapshot made by `python -m store.backup` into a data directory.

    python -m store.restore --from sentinel-2026-03-01.db --data-dir /var/lib/sentinel/data [--force]

The snapshot is checked first. Into a data directory that already has a database only with
`--force`, and only while no service uses it: the old database is kept beside it as
`sentinel.db.before-restore-<time>`. The restored database is migrated to this version's schema,
as the service would at start. Stop the service before, start it after.
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
from datetime import datetime
from pathlib import Path

from core.cli import ChineseArgumentParser, add_service_options, service_settings
from core.errors import SentinelError
from store.backup import MB, check_snapshot

SIDE_FILES = ("-wal", "-shm", "-journal")


def _in_use(db: Path) -> bool:
    """Whether another process holds the database (a running service keeps it open in WAL mode)."""
    conn = sqlite3.connect(db, timeout=1, isolation_level=None)
    try:
        conn.execute("BEGIN EXCLUSIVE")
        conn.execute("ROLLBACK")
        return False
    except sqlite3.OperationalError:
        return True
    finally:
        conn.close()


def restore(snapshot: Path, db: Path, force: bool) -> Path | None:
    """Copy `snapshot` into `db`; returns where the database it replaced was kept (None: there was none)."""
    kept = None
    if db.exists():
        if not force:
            raise SentinelError(f"{db} 已存在。要用快照替换它，先停止服务，再加 --force（原数据库会改名保留）")
        if _in_use(db):
            raise SentinelError(f"{db} 正在被使用（服务还在运行？）。请先停止服务再恢复")
        kept = db.with_name(f"{db.name}.before-restore-{datetime.now():%Y%m%d%H%M%S}")
        sqlite3.connect(db).close()  # checkpoints the write-ahead log into the file before it moves
        db.replace(kept)
    for side in SIDE_FILES:
        Path(f"{db}{side}").unlink(missing_ok=True)
    db.parent.mkdir(parents=True, exist_ok=True)
    part = db.with_name(f".{db.name}.restore-part")
    part.unlink(missing_ok=True)
    src, dst = sqlite3.connect(f"file:{snapshot}?mode=ro", uri=True), sqlite3.connect(part)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    part.replace(db)
    return kept


def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(
        prog="python -m store.restore",
        description="把 python -m store.backup 做的快照恢复到数据目录（先校验快照；恢复后升级到当前结构版本）。"
                    "恢复前请停止服务，恢复后再启动。",
        epilog="示例：python -m store.restore --from sentinel-2026-03-01.db --data-dir ./data-restored")
    p.add_argument("--from", dest="source", required=True, type=Path, metavar="FILE", help="快照文件")
    p.add_argument("--force", action="store_true", help="数据目录已有数据库时替换它（原库改名保留为 sentinel.db.before-restore-<时间>）")
    add_service_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if not args.source.is_file():
            raise SentinelError(f"快照文件 {args.source} 不存在")
        settings = service_settings(args)
        print(f"正在校验快照 {args.source}（{args.source.stat().st_size / MB:.1f} MB）……", file=sys.stderr, flush=True)
        counts = check_snapshot(args.source)
        print(f"快照有效：帖子 {counts.get('posts', 0)} 条。正在恢复到 {settings.db_path} ……", file=sys.stderr, flush=True)
        kept = restore(args.source, settings.db_path, args.force)
        from store import open_store

        store = open_store(settings)  # migrations, as the service runs them at start
        store.close()
    except SentinelError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as e:
        print(f"错误：恢复失败：{e}", file=sys.stderr)
        return 2
    note = f"；原数据库已保留为 {kept}" if kept else ""
    config = f" --config {args.config}" if args.config else ""
    print(f"已恢复到 {settings.db_path}：帖子 {counts.get('posts', 0)} 条{note}。"
          f"启动服务：python scheduler.py{config} --data-dir {settings.data_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
