"""A consistent snapshot of the store while the service runs.

    python -m store.backup --out /var/backups/sentinel/sentinel-2026-03-01.db [--config FILE] [--data-dir DIR]

Uses SQLite's online backup API (not a file copy, which could catch the database file and its
write-ahead log at different moments): the snapshot is the database as of one moment, with every
transaction committed before it, while collection, analysis and the dashboard go on. The snapshot is
written beside the target under a temporary name, checked (`PRAGMA quick_check`), made a single
self-contained file (no -wal), and only then renamed to `--out`. Restore with `python -m store.restore`.
The data directory's `secret_key` and `models/` are not in it: copy them separately if needed.
"""
from __future__ import annotations

import argparse
import getpass
import os
import sqlite3
import sys
import time
from pathlib import Path

from core.cli import ChineseArgumentParser, add_service_options, service_settings
from core.domain import AuditEvent, utcnow
from core.errors import SentinelError

MB = 1024 * 1024


def check_snapshot(path: Path) -> dict[str, int]:
    """Open a snapshot read-only, run `PRAGMA quick_check`, and count what it holds. Raises
    SentinelError when it is not a sound Union Sentinel database."""
    try:
        db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    except sqlite3.Error as exc:
        raise SentinelError(f"无法打开 {path}：{exc}") from None
    try:
        ok = db.execute("PRAGMA quick_check").fetchone()[0]
        if ok != "ok":
            raise SentinelError(f"{path} 校验失败：{ok}")
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        if not {"posts", "schema_migrations", "audit"} <= tables:
            raise SentinelError(f"{path} 不是舆情哨兵的数据库（缺少 posts / schema_migrations / audit 表）")
        return {name: int(db.execute(f"SELECT count(*) FROM {name}").fetchone()[0])
                for name in ("posts", "alerts", "audit", "users") if name in tables}
    except sqlite3.DatabaseError as exc:
        raise SentinelError(f"{path} 不是有效的 SQLite 数据库：{exc}") from None
    finally:
        db.close()


def take(store: object, out: Path) -> dict[str, int]:
    """Snapshot `store` into `out` (atomically: a temporary file, checked, then renamed)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.name}.part")
    part.unlink(missing_ok=True)
    try:
        store.backup(part)  # type: ignore[attr-defined]
        db = sqlite3.connect(part)
        try:
            db.execute("PRAGMA journal_mode=DELETE")  # one self-contained file
        finally:
            db.close()
        counts = check_snapshot(part)
        with open(part, "rb") as fh:
            os.fsync(fh.fileno())
        os.replace(part, out)
    finally:
        part.unlink(missing_ok=True)
    return counts


def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(
        prog="python -m store.backup",
        description="在服务运行时为数据库做一致的快照（SQLite 在线备份接口，不是复制文件）。"
                    "快照先写到临时文件，校验通过后才改名为 --out。恢复：python -m store.restore。",
        epilog="示例：python -m store.backup --config sentinel.yaml --out /var/backups/sentinel/sentinel-$(date +%F).db")
    p.add_argument("--out", required=True, type=Path, metavar="FILE", help="快照文件（已存在则覆盖）")
    add_service_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        from store import open_existing_store

        settings = service_settings(args)
        store = open_existing_store(settings)
        try:
            size = settings.db_path.stat().st_size / MB
            print(f"正在备份 {settings.db_path}（约 {size:.1f} MB）到 {args.out} ……", file=sys.stderr, flush=True)
            started = time.perf_counter()
            counts = take(store, args.out)
            store.audit(AuditEvent(getpass.getuser(), "store.backup", args.out.name,
                                   {"posts": counts.get("posts", 0), "via": "cli"}, utcnow()))
        finally:
            store.close()
    except SentinelError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 2
    except (OSError, sqlite3.Error) as e:
        print(f"错误：备份失败：{e}（检查 --out 所在目录是否存在、可写、空间是否足够）", file=sys.stderr)
        return 2
    print(f"已备份到 {args.out}：{args.out.stat().st_size / MB:.1f} MB，帖子 {counts.get('posts', 0)} 条，"
          f"预警 {counts.get('alerts', 0)} 条，审计记录 {counts.get('audit', 0)} 条，用时 {time.perf_counter() - started:.1f} 秒，校验通过。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
