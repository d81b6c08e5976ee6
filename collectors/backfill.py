"""Fetch a channel's older posts (回填), page by page, with a progress line.

    python -m collectors.backfill --config sentinel.yaml --channel 公众号 [--since 2026-01-01] [--until 2026-03-01]

The channel's collector reads its history (`Collector.backfill`); each page passes the ingestion
boundary and is stored like live posts. Posts are keyed by (channel, source_id): running it twice, or
over what live collection already has, stores nothing twice. The live checkpoint is not touched, so the
running service may keep collecting meanwhile; the service analyses what was filled in.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import date, datetime, time as dtime, timezone
from typing import Iterator, TextIO
from zoneinfo import ZoneInfo

from collectors import build_collectors
from collectors.base import Batch
from collectors.boundary import Boundary
from collectors.http import SourceError
from core.cli import ChineseArgumentParser
from core.config import load_settings
from core.errors import SentinelError
from core.logs import setup_logging
from store import open_store
from store.base import IngestResult


def build_parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(
        prog="python -m collectors.backfill",
        description="回填一个渠道的历史帖子：逐页读取、校验并入库，重复运行不会重复入库。",
        epilog="示例：python -m collectors.backfill --config sentinel.yaml --channel 微博 --since 2026-01-01",
    )
    p.add_argument("--channel", required=True, metavar="NAME", help="配置文件 channels 里的渠道名（name）")
    p.add_argument("--config", metavar="FILE", help="与 scheduler.py 相同的 YAML 配置文件")
    p.add_argument("--data-dir", metavar="DIR", help="数据目录（默认取配置文件或 ./data）")
    p.add_argument("--since", metavar="YYYY-MM-DD", help="只回填这一天（含）之后的帖子")
    p.add_argument("--until", metavar="YYYY-MM-DD", help="只回填这一天之前的帖子（不含）")
    p.add_argument("--log-level", default="WARNING", choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                   help="日志级别，默认 WARNING（进度另行显示）")
    return p


def _day(value: str | None, tz: str) -> datetime | None:
    if not value:
        return None
    try:
        d = date.fromisoformat(value)
    except ValueError:
        raise SentinelError(f"日期 {value!r} 无效，请写成 2026-03-01") from None
    return datetime.combine(d, dtime(0), tzinfo=ZoneInfo(tz)).astimezone(timezone.utc)


class Progress:
    """One line, rewritten in place on a terminal; a line per 10 pages in a log file."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.tty = out.isatty()
        self.started = time.monotonic()
        self.pages = 0

    def page(self, total: IngestResult, note: str) -> None:
        self.pages += 1
        seen = total.new + total.updated + total.unchanged
        rate = seen / max(time.monotonic() - self.started, 1e-6)
        line = (f"第 {self.pages} 页：已读 {seen} 条（新增 {total.new}，更新 {total.updated}，已有 {total.unchanged}，"
                f"死信 {total.dead}），{rate:.0f} 条/秒{'，' + note if note else ''}")
        if self.tty:
            self.out.write("\r" + line[:150].ljust(150))
            self.out.flush()
        elif self.pages % 10 == 1:
            print(line, file=self.out)

    def done(self) -> None:
        if self.tty:
            self.out.write("\n")


def _pages(pages: Iterator[Batch]) -> Iterator[Batch]:
    """The collector's pages; a platform error ends the backfill with its message (what was stored
    before it stays: running again fills in the rest, nothing twice)."""
    try:
        yield from pages
    except NotImplementedError as exc:
        raise SentinelError(str(exc)) from None
    except SourceError as exc:
        raise SentinelError(f"平台返回错误，回填中止：{exc}（已入库的部分保留，问题解决后重新运行即可补齐）") from None


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    settings = load_settings(args.config, overrides={"data_dir": args.data_dir})
    collectors = {c.name: c for c in build_collectors(settings)}
    collector = collectors.get(args.channel)
    if collector is None:
        raise SentinelError(f"配置里没有名为 “{args.channel}” 的渠道；可选：{'、'.join(collectors)}")
    since, until = _day(args.since, settings.timezone), _day(args.until, settings.timezone)
    store = open_store(settings)
    boundary = Boundary.from_settings(settings)
    total = IngestResult()
    progress = Progress(err)
    try:
        try:
            pages = collector.backfill(since, until)
        except NotImplementedError as exc:
            raise SentinelError(str(exc)) from None
        for batch in _pages(pages):
            for post in batch.posts:
                post.raw["_collector"] = collector.name
            posts, refused = boundary.admit(batch.posts, collector.name, batch.originals)
            total += store.ingest(f"{collector.name}:backfill", posts, None, [*batch.dead, *refused])
            progress.page(total, batch.note)
    except KeyboardInterrupt:
        progress.done()
        print(f"已中断：此前的 {total.new} 条新帖子已入库，再次运行会从头核对并补齐。", file=err)
        return 130
    finally:
        store.close()
    progress.done()
    print(f"回填完成：渠道 {collector.name} 共读取 {total.new + total.updated + total.unchanged} 条，新增 {total.new} 条，"
          f"更新 {total.updated} 条，已有 {total.unchanged} 条，死信 {total.dead} 条。运行中的服务会自动分析新增的帖子。",
          file=out)
    return 0


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging(args.log_level)
    try:
        return run(args, out or sys.stdout, err or sys.stderr)
    except SentinelError as exc:
        print(f"错误：{exc}", file=err or sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
