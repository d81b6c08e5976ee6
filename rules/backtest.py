"""Try rules on history before turning them on: replay posts through nlp and the rules, send nothing.

    python -m rules.backtest --input posts.jsonl [--rules FILE] [--config FILE] [--json]

The input is the inbox's post format (one JSON record a line, or a CSV with the same columns). Posts
are replayed in time order through the same boundary, analysis and rule engine as the service, in a
throw-away store; no notifier is called. With `--json`, one JSON object a line per alert:

    {"rule": "rumour_spread", "level": "orange", "ts": "2026-03-02T10:15:00+08:00",
     "post_ids": ["c17", "c18", …], "case_id": "claim-…" | null}

`ts` is the stream time of the post that made the alert fire, `post_ids` the posts' `source_id`
values, `case_id` the key of the case the alert belongs to. Without `--json`, a table in Chinese.
Records that can't be read are counted and listed on stderr, as dead letters would be. The last
lines on stderr say what the replay would leave for moderators: the review queue (its share of the
posts and the rules that filled it), the posts removed automatically, and the cases with the largest.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterator, TextIO

from collectors.boundary import Boundary
from collectors.records import post_from_record
from core.cli import ChineseArgumentParser
from core.config import load_settings
from core.domain import Post
from core.errors import RecordError, SentinelError
from core.logs import setup_logging
from core.timefmt import format_local
from rules.engine import RuleEngine
from rules.loader import load_rules

BATCH = 1000


def build_parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(
        prog="python -m rules.backtest",
        description="规则回测：按时间顺序把历史帖子回放一遍（分析 + 规则），列出会触发的预警，不发送任何通知。",
        epilog="示例：python -m rules.backtest --input history.jsonl --rules my_rules.yaml --json > alerts.jsonl",
    )
    p.add_argument("--input", required=True, metavar="FILE", help="帖子文件：收件箱格式的 JSONL（或同样列名的 CSV）")
    p.add_argument("--rules", metavar="FILE", help="要试的规则文件（默认：配置里的规则，或内置的 rules/default.yaml）")
    p.add_argument("--config", metavar="FILE", help="与 scheduler.py 相同的配置文件（时区、时间范围、通知方式名称）")
    p.add_argument("--json", action="store_true", help="每条预警输出一行 JSON（rule、level、ts、post_ids、case_id）")
    p.add_argument("--quiet", action="store_true", help="不在标准错误上显示进度")
    return p


def read_records(path: Path) -> Iterator[tuple[str, Any]]:
    """(where, record or the error) for each non-blank record of a JSONL or CSV file."""
    text = path.read_text(encoding="utf-8-sig")
    if path.suffix.lower() == ".csv":
        reader = csv.DictReader(io.StringIO(text))
        for i, row in enumerate(reader, start=2):
            yield f"{path.name}:{i}", {k: v for k, v in row.items() if k and v not in ("", None)}
        return
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            yield f"{path.name}:{i}", json.loads(line)
        except (ValueError, RecursionError) as exc:
            yield f"{path.name}:{i}", RecordError(f"不是合法的 JSON：{exc}")


def load_posts(path: Path, err: TextIO) -> tuple[list[Post], list[tuple[str, str]]]:
    posts: list[Post] = []
    bad: list[tuple[str, str]] = []
    for where, record in read_records(path):
        if isinstance(record, Exception):
            bad.append((where, str(record)))
            continue
        if isinstance(record, dict) and set(record) == {"_meta"}:  # the demo sample's header line
            continue
        try:
            post = post_from_record(record)
        except RecordError as exc:
            bad.append((where, str(exc)))
            continue
        post.raw["_source"] = where
        posts.append(post)
    posts.sort(key=lambda p: p.created_at)
    return posts, bad


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    from nlp import Analyzer  # heavy: after the arguments are checked
    from store.sqlite import SqliteStore
    from nlp.tokenizer import search_tokens, search_tokens_many

    settings = load_settings(args.config)
    rules_file = Path(args.rules) if args.rules else settings.rules_file
    notifier_names = [n["name"] for n in settings.notifiers]
    engine = RuleEngine(load_rules(rules_file, notifier_names), notifier_names, timezone=settings.timezone)
    path = Path(args.input)
    if not path.is_file():
        raise SentinelError(f"找不到输入文件 {path}")
    posts, bad = load_posts(path, err)
    if not posts:
        raise SentinelError(f"{path} 里没有可用的帖子（{len(bad)} 条无法读取）")
    newest = posts[-1].created_at
    boundary = Boundary(earliest=settings.earliest, future_skew=timedelta(0), clock=lambda: newest)
    analyzer = Analyzer.load(data_dir=settings.data_dir if settings.data_dir.is_dir() else None,
                               official_domains=settings.official_domains)
    progress = _Progress(err, len(posts), quiet=args.quiet)
    with tempfile.TemporaryDirectory(prefix="sentinel-backtest-") as tmp:
        store = SqliteStore(Path(tmp) / "backtest.db", tokenize=search_tokens, tokenize_many=search_tokens_many)
        store.migrate()
        try:
            for i in range(0, len(posts), BATCH):
                admitted, refused = boundary.admit(posts[i : i + BATCH], "backtest")
                store.ingest("backtest", admitted, None, refused)
                bad += [(d.source, d.error) for d in refused]
            done = 0
            while True:
                todo = store.posts_to_analyze(BATCH)
                if todo:
                    store.save_analyses(list(zip(todo, analyzer.pipe(todo))))
                ruled = engine.process(store, BATCH)
                done += len(todo)
                progress.show(done)
                if not todo and not ruled:
                    break
            rows = _alert_rows(store, settings.timezone)
            summary = _summary(store, len(posts) - len(bad))
        finally:
            store.close()
    progress.finish()
    for where, error in bad[:20]:
        print(f"无法读取 {where}：{error}", file=err)
    if len(bad) > 20:
        print(f"……另有 {len(bad) - 20} 条无法读取", file=err)
    if args.json:
        for row in rows:
            print(json.dumps({k: row[k] for k in ("rule", "level", "ts", "post_ids", "case_id")}, ensure_ascii=False),
                  file=out)
    else:
        _table(rows, out)
    print(f"回放完成：{len(posts)} 条帖子（{len(bad)} 条无法读取），触发预警 {len(rows)} 条；未发送任何通知。", file=err)
    print(summary, file=err)
    return 0


def _summary(store: Any, stored: int) -> str:
    """How much work the replay would leave for moderators: the review queue and the cases."""
    queued = store.queue_count()
    removed = sum(1 for d in store.decisions() if d.auto_rule is not None)
    cases = store.cases(status=None, limit=1_000_000)
    by_rule = "、".join(f"{rule} {n}" for rule, n in store.queue_rules()[:6])
    line = (f"审核队列：{queued} 条（占帖子的 {queued / max(stored, 1):.1%}"
            f"{'；按规则：' + by_rule if by_rule else ''}）；自动删除 {removed} 条；事件 {len(cases)} 个")
    if cases:
        biggest = max(cases, key=lambda c: len(c.post_ids))
        line += f"，最大的 {len(biggest.post_ids)} 条（{biggest.kind.value}：{biggest.title[:40]}）"
    return line


def _alert_rows(store: Any, tz: str) -> list[dict[str, Any]]:
    alerts = sorted(store.alerts(limit=1_000_000), key=lambda a: (a.created_at, a.id or 0))
    ids = sorted({pid for a in alerts for pid in a.post_ids})
    source = {pid: p.source_id for pid, p in store.posts_by_ids(ids).items()}
    cases: dict[int, str] = {}
    rows = []
    for a in alerts:
        if a.case_id is not None and a.case_id not in cases:
            case = store.get_case(a.case_id)
            cases[a.case_id] = case.key if case else str(a.case_id)
        rows.append({
            "rule": a.rule, "level": a.level.value, "ts": _iso(a.created_at, tz),
            "post_ids": [source[p] for p in a.post_ids if p in source],
            "case_id": cases.get(a.case_id) if a.case_id is not None else None,
            "title": a.title,
        })
    return rows


def _iso(at: datetime, tz: str) -> str:
    from zoneinfo import ZoneInfo

    try:
        return at.astimezone(ZoneInfo(tz)).isoformat()
    except (OverflowError, ValueError):
        return at.isoformat()


def _table(rows: list[dict[str, Any]], out: TextIO) -> None:
    if not rows:
        print("没有触发任何预警。", file=out)
        return
    for r in rows:
        level = {"yellow": "黄", "orange": "橙", "red": "红"}.get(r["level"], r["level"])
        ts = datetime.fromisoformat(r["ts"])
        print(f"{format_local(ts, ts.tzinfo or 'UTC')}  {level}色  {r['rule']}  {r['title']}（{len(r['post_ids'])} 条帖子）",
              file=out)


class _Progress:
    def __init__(self, out: TextIO, total: int, quiet: bool) -> None:
        self.out, self.total, self.quiet = out, total, quiet
        self.tty = out.isatty()
        self.started = time.monotonic()
        self.last = 0.0

    def show(self, done: int) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        if now - self.last < (0.2 if self.tty else 5.0) and done < self.total:
            return
        self.last = now
        rate = done / max(now - self.started, 1e-6)
        line = f"已回放 {done}/{self.total} 条（{done * 100 // max(self.total, 1)}%，{rate:.0f} 条/秒）"
        if self.tty:
            self.out.write("\r" + line.ljust(60))
            self.out.flush()
        else:
            print(line, file=self.out)

    def finish(self) -> None:
        if self.tty and not self.quiet:
            self.out.write("\n")


def main(argv: list[str] | None = None, out: TextIO | None = None, err: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    setup_logging("ERROR")
    try:
        return run(args, out or sys.stdout, err or sys.stderr)
    except SentinelError as exc:
        print(f"错误：{exc}", file=err or sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
