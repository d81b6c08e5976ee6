"""Versioned schema migrations for the SQLite store.

Migrations are the numbered `.sql` files in store/migrations/, applied in order, each in its own
transaction together with its row in `schema_migrations`, so a crash mid-way leaves the database at
the previous version. Run by the service at start; by hand: `python -m store.migrate --data-dir DIR`.
"""
from __future__ import annotations

import logging
import dataclasses
import sqlite3
import sys
import time
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
        description="把 SQLite 数据库升级到最新结构版本（服务启动时也会自动执行）；"
                    "或用 --to 把 SQLite 存储复制到 Elasticsearch/OpenSearch 集群（可中断后续传）。",
        epilog="示例：python -m store.migrate --data-dir ./data；"
               "python -m store.migrate --data-dir ./data --to opensearch --hosts http://10.0.0.5:9200,http://10.0.0.6:9200",
    )
    parser.add_argument("--data-dir", default=None, help="数据目录，数据库为其中的 sentinel.db（默认 ./data，或配置文件中的）")
    parser.add_argument("--config", metavar="FILE", help="服务配置文件（与 scheduler.py 相同）：数据目录，以及 --to 时集群的账号和证书设置")
    parser.add_argument("--list", action="store_true", help="只列出各迁移及是否已应用，不做修改")
    parser.add_argument("--to", choices=["elasticsearch", "opensearch"],
                        help="把帖子及其分析结果（视为已过规则）、审核标记与决定、看板用户、辟谣口径、全部事件、预警及其通知记录和审计日志"
                             "复制到这个集群后端（按时间顺序，中断后再运行即从断点续传）；API 客户端不复制")
    parser.add_argument("--hosts", help="--to 的集群地址，逗号分隔，如 http://10.0.0.5:9200（默认取配置文件 store.hosts）")
    parser.add_argument("--index-prefix", help="--to 的索引名前缀（默认取配置文件 store.index_prefix）")
    parser.add_argument("--batch", type=int, default=1000, help="--to 每批复制的帖子数和审计记录数（默认 1000）")
    args = parser.parse_args(argv)
    if args.to:
        return _copy_to_cluster(args)
    data_dir = Path(args.data_dir or (_settings(args).data_dir if args.config else "./data"))
    db = data_dir / "sentinel.db"
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


def _settings(args):  # -> core.config.Settings
    from core.config import load_settings

    return load_settings(args.config, overrides={"data_dir": args.data_dir})


def _copy_to_cluster(args) -> int:
    """`--to`: the service's SQLite store copied into the cluster named by --hosts (or the config)."""
    from core.errors import SentinelError
    from nlp.tokenizer import search_tokens
    from store import open_existing_store, open_store
    from store.transfer import collector_name, copy_alerts, copy_audit, copy_cases, copy_people, copy_posts

    if args.batch < 1:
        print("错误：--batch 须为正整数", file=sys.stderr)
        return 2
    try:
        settings = _settings(args)
        block = dict(settings.store) if settings.store.get("backend") == args.to else {}
        block["backend"] = args.to
        if args.hosts:
            block["hosts"] = [h.strip() for h in args.hosts.split(",") if h.strip()]
        if args.index_prefix:
            block["index_prefix"] = args.index_prefix
        if not block.get("hosts"):
            raise SentinelError("需要集群地址：用 --hosts http://主机:9200[,…]，或在 --config 的 store.hosts 中给出")
        source = open_existing_store(dataclasses.replace(settings, store={"backend": "sqlite"}))
        target = open_store(dataclasses.replace(settings, store=block), tokenize=search_tokens)
    except SentinelError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    total = source.counts()["posts"]
    started = time.perf_counter()
    resumed = target.checkpoint(collector_name("sqlite"))
    if resumed:
        print(f"从上次中断处继续（已复制到 {resumed.split('|')[0]}）", file=sys.stderr)

    def progress(done: int) -> None:
        rate = done / max(time.perf_counter() - started, 1e-9)
        print(f"\r本次已复制 {done:,} 条（存储共 {total:,} 条，{rate:,.0f} 条/秒）", end="", file=sys.stderr, flush=True)

    try:
        report = copy_posts(source, target, batch=args.batch, progress=progress)
        copy_people(source, target, report)
        copy_cases(source, target, report)
        copy_alerts(source, target, report)
        print("", file=sys.stderr)
        copy_audit(source, target, report, batch=args.batch,
                   progress=lambda n: print(f"\r审计日志已复制 {n:,} 条", end="", file=sys.stderr, flush=True))
        report.seconds = time.perf_counter() - started
    except KeyboardInterrupt:
        print("\n已中断：再次运行同一命令即从断点继续", file=sys.stderr)
        return 130
    except SentinelError as exc:
        print(f"\n错误：{exc}（再次运行同一命令即从断点继续）", file=sys.stderr)
        return 1
    finally:
        source.close()
        target.close()
    print("", file=sys.stderr)
    print(f"完成：本次复制 {report.copied:,} 条帖子（其中 {report.analysed:,} 条带分析结果，视为已过规则；"
          f"{report.flagged:,} 条带审核标记，{report.decisions:,} 条带审核决定），"
          f"{report.users} 个看板用户，{report.debunks} 条辟谣口径，{report.cases} 个事件，{report.alerts} 条预警，"
          f"{report.audit:,} 条审计记录，用时 {report.seconds:.1f} 秒。未发出的通知由集群上的服务继续发送，已发出的不会重发；"
          "API 客户端请在新存储上重新签发（见 docs/scale-out.md）。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
