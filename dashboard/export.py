"""Exports in the shared data standard (schemas/): posts with their analysis, cases, alerts or
decisions, as CSV, XLSX or JSONL.

    python -m dashboard.export --what posts --format xlsx --since 2026-03-01 --until 2026-04-01 --out 三月帖子.xlsx
    python -m dashboard.export --what cases --format jsonl --out cases.jsonl
    python -m dashboard.export --what posts --format csv --out clear.csv --clear --actor 张老师 --reason "纪检调查"

Each row is the item the API gives (/api/v1/, `dashboard.api.post_item` / `case_item`): JSONL keeps it as
it is; CSV and XLSX flatten the analysis into `analysis.*` columns. Personal data is masked unless
`--clear` is given, which needs `--actor` and `--reason` and writes an audit event (who, why, how many
rows, never the data). Posts are read in keyset pages, so a large export runs in steady memory, with
a progress line on stderr.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from itertools import takewhile
from datetime import date, datetime, time, timezone
from pathlib import Path
from typing import Any, BinaryIO, Iterator
from zoneinfo import ZoneInfo

from core.cli import ChineseArgumentParser, add_service_options, service_settings
from core.domain import AuditEvent
from core.errors import SentinelError

PAGE = 2000
POST_COLUMNS = ("id", "channel", "source_id", "thread", "author", "author_name", "text", "created_at", "url",
                "reply_to", "version")
ANALYSIS_COLUMNS = ("sentiment", "polarity", "spam", "rumour", "grievance", "abuse", "topic", "keywords", "pii",
                    "model_version", "post_version")
CASE_COLUMNS = ("id", "kind", "title", "state", "status", "posts", "created_at", "updated_at", "clarified_at")
ALERT_COLUMNS = ("id", "rule", "level", "kind", "title", "body", "topics", "channels", "post_ids", "case_id",
                 "created_at", "raised_at", "acknowledged_by", "acknowledged_at", "claimed_by", "claimed_at")
DECISION_COLUMNS = ("id", "post_id", "moderator", "action", "reason_code", "note", "created_at")
SHEETS = {"posts": "帖子", "cases": "事件", "alerts": "预警", "decisions": "审核决定"}


def _feed(page: Any, item: Any, since: datetime, until: datetime, clear: bool,
          key: Any = lambda row: row) -> Iterator[dict[str, Any]]:
    """Every row of a time-ordered store feed (posts_page, alerts_page, …) in [since, until), read in
    keyset pages so that memory stays flat."""
    from dashboard.present import keyset_walk

    rows = keyset_walk(lambda after: page(since, after, PAGE), lambda row: (key(row).created_at, key(row).id), PAGE)
    return (item(row, clear) for row in takewhile(lambda row: key(row).created_at < until, rows))


def posts(store: Any, since: datetime, until: datetime, clear: bool) -> Iterator[dict[str, Any]]:
    from dashboard.api import post_item

    return _feed(store.posts_page, lambda row, c: post_item(row[0], row[1], c), since, until, clear,
                 key=lambda row: row[0])


def alerts(store: Any, since: datetime, until: datetime, clear: bool) -> Iterator[dict[str, Any]]:
    from dashboard.api import alert_item

    return _feed(store.alerts_page, alert_item, since, until, clear)


def decisions(store: Any, since: datetime, until: datetime, clear: bool) -> Iterator[dict[str, Any]]:
    from dashboard.api import decision_item

    return _feed(store.decisions_page, decision_item, since, until, clear)


def cases(store: Any, since: datetime, until: datetime, clear: bool) -> Iterator[dict[str, Any]]:
    from dashboard.api import case_item

    for c in store.cases(status=None, limit=100000):
        if since <= c.created_at < until:
            yield case_item(c, clear)


SOURCES = {"posts": posts, "cases": cases, "alerts": alerts, "decisions": decisions}


def flat(item: dict[str, Any], what: str) -> list[Any]:
    """One CSV/XLSX row: lists joined with 、, the analysis spread over its own columns."""
    def cell(v: Any) -> Any:
        return "、".join(map(str, v)) if isinstance(v, list) else ("" if v is None else v)

    if what != "posts":
        return [cell(item[k]) for k in header(what)]
    a = item.get("analysis") or {}
    return [cell(item[k]) for k in POST_COLUMNS] + [cell(a.get(k)) for k in ANALYSIS_COLUMNS]


def header(what: str) -> list[str]:
    if what == "posts":
        return list(POST_COLUMNS) + [f"analysis.{k}" for k in ANALYSIS_COLUMNS]
    return list({"cases": CASE_COLUMNS, "alerts": ALERT_COLUMNS, "decisions": DECISION_COLUMNS}[what])


def write(items: Iterator[dict[str, Any]], what: str, fmt: str, out: Path | BinaryIO, progress: bool) -> int:
    """Write `items` to a file (a path, or an open binary file such as a web response's buffer);
    returns how many were written."""
    if isinstance(out, Path):
        with open(out, "wb") as fh:
            return write(items, what, fmt, fh, progress)
    n = 0

    def tick() -> None:
        if progress and n % 5000 == 0:
            print(f"\r已导出 {n} 条", end="", file=sys.stderr, flush=True)

    if fmt == "xlsx":
        from openpyxl import Workbook

        wb = Workbook(write_only=True)
        ws = wb.create_sheet(SHEETS[what])
        ws.append(header(what))
        for item in items:
            ws.append([_no_formula(v) for v in flat(item, what)])
            n += 1
            tick()
        wb.save(out)
    else:
        # CSV with a BOM: Excel opens it as UTF-8
        text = io.TextIOWrapper(out, encoding="utf-8-sig" if fmt == "csv" else "utf-8", newline="")
        try:
            if fmt == "jsonl":
                for item in items:
                    text.write(json.dumps(item, ensure_ascii=False) + "\n")
                    n += 1
                    tick()
            else:
                w = csv.writer(text)
                w.writerow(header(what))
                for item in items:
                    w.writerow([_no_formula(v) for v in flat(item, what)])
                    n += 1
                    tick()
        finally:
            text.flush()
            text.detach()  # leave `out` open for the caller
    if progress:
        print(f"\r已导出 {n} 条", file=sys.stderr)
    return n


def _no_formula(v: Any) -> Any:
    """Post texts are attacker-controlled: a cell starting with = + - @ would run as a spreadsheet
    formula (CSV injection), so such text gets a leading apostrophe."""
    if isinstance(v, str) and v[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + v
    return v


def _day(raw: str | None, tz: str, default: datetime) -> datetime:
    if not raw:
        return default
    try:
        return datetime.combine(date.fromisoformat(raw), time(0), ZoneInfo(tz))
    except ValueError:
        raise SentinelError(f"日期“{raw}”格式不对，应为 YYYY-MM-DD") from None


def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(prog="python -m dashboard.export",
                              description="按统一数据标准（schemas/）导出帖子及分析结果、事件、预警或审核决定：CSV、XLSX 或 JSONL。个人信息默认遮盖。",
                              epilog="示例：python -m dashboard.export --what posts --format xlsx --since 2026-03-01 --out 三月.xlsx")
    p.add_argument("--what", required=True, choices=tuple(SOURCES),
                   help="posts 帖子及分析结果；cases 事件；alerts 预警；decisions 审核决定")
    p.add_argument("--format", required=True, choices=("csv", "xlsx", "jsonl"), help="文件格式")
    p.add_argument("--out", required=True, type=Path, help="输出文件")
    p.add_argument("--since", help="起始日期 YYYY-MM-DD（含，按配置的时区；默认不限）")
    p.add_argument("--until", help="截止日期 YYYY-MM-DD（不含；默认不限）")
    p.add_argument("--clear", action="store_true", help="导出个人信息明文（需同时给出 --actor 和 --reason，并记入审计日志）")
    p.add_argument("--actor", help="明文导出的责任人（记入审计日志）")
    p.add_argument("--reason", help="明文导出的理由（记入审计日志）")
    add_service_options(p)
    p.add_argument("--quiet", action="store_true", help="不在标准错误上显示进度")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        if args.clear and not ((args.actor or "").strip() and (args.reason or "").strip()):
            raise SentinelError("明文导出需要同时给出 --actor（责任人）和 --reason（理由），二者都会记入审计日志")
        from store import open_existing_store

        settings = service_settings(args)
        since = _day(args.since, settings.timezone, datetime(1970, 1, 1, tzinfo=timezone.utc))
        until = _day(args.until, settings.timezone, datetime(9999, 1, 1, tzinfo=timezone.utc))
        store = open_existing_store(settings)
        try:
            source = SOURCES[args.what]
            args.out.parent.mkdir(parents=True, exist_ok=True)
            n = write(source(store, since, until, args.clear), args.what, args.format, args.out, not args.quiet)
            if args.clear:
                store.audit(AuditEvent(args.actor.strip(), "export.clear", args.what,
                                       {"rows": n, "format": args.format, "reason": args.reason.strip()[:200],
                                        "since": args.since, "until": args.until, "via": "cli"}))
        finally:
            store.close()
    except SentinelError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"错误：无法写入 {args.out}：{e}", file=sys.stderr)
        return 2
    masked = "个人信息为明文（已记入审计日志）" if args.clear else "个人信息已遮盖"
    print(f"已导出 {n} 条{SHEETS[args.what]}到 {args.out}（{masked}）")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
