"""`python -m core.bench [--posts 50000] --json`: the whole service pipeline, end to end, on one core.

Measure it pinned to one CPU:  taskset -c 0 python -m core.bench --json

Realistic traffic from the demo generator (`collectors/demo_data`, the one `scheduler.py --demo`
replays; more than 30 days for more posts: ordinary talk, adverts, leaks and one incident per
30-day cycle), shifted by whole days so the newest post is not in the future, is written as `.jsonl`
files into the inbox of a fresh data directory. Then the real service (`core.service.Sentinel`, built
from default settings and the default rules, no notifiers) runs its jobs as the scheduler would —
collect, process (analysis, then rules), deliver — until every post is stored, analysed and seen by
the rules, and the housekeeping jobs (maintain, retention) once. Posts per second are the posts over
the wall time of all of that; the seconds per stage are each job's own time (`Sentinel.stage_seconds`).
The same is given in CPU time of the process (`posts_per_cpu_s`, `stages_cpu_s`): on an idle core both
agree; on a machine other processes share, wall time counts their turns too, CPU time does not.
Building the demo traffic and loading the models are not timed. The counts printed (flags, alerts,
cases, dead letters) are the pipeline's results: equal counts across versions mean equal behaviour on
this traffic.
"""
from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from core.cli import ChineseArgumentParser
from nlp.bench import _progress, pin_one_core

STAGES = {  # bench stage -> the service's jobs (Sentinel._job names) it adds up
    "collect": ("collect",),
    "analyze": ("analyze",),
    "rules": ("rules",),
    "deliver": ("deliver", "writeback", "reportmail"),
    "housekeeping": ("maintain", "reports", "retention"),
}
FILE_LINES = 10_000  # posts per inbox file


def demo_records(n: int, seed: int, now: datetime, days: float | None = None) -> list[dict[str, Any]]:
    """`n` posts of demo traffic, oldest first, moved by whole days so the newest is before `now`;
    with `days`, squeezed into the last `days` days (denser traffic: fuller rule windows)."""
    import contextlib
    import io

    from collectors.demo_data import clock
    from collectors.demo_data.generate import assign_ids, build, record

    span = max(clock.DAYS, math.ceil(n / 75 * 1.1))  # days of demo traffic: about 80 posts a day
    with contextlib.redirect_stderr(io.StringIO()):  # the generator's own progress lines
        backlog, live, _ = build(seed, span)
    drafts = backlog + live
    assign_ids(drafts)
    if len(drafts) < n:
        raise SystemExit(f"演示数据只生成了 {len(drafts)} 条，少于 --posts {n}")
    records = [record(d) for d in drafts[:n]]
    newest = datetime.fromisoformat(records[-1]["created_at"])
    oldest = datetime.fromisoformat(records[0]["created_at"])
    scale = min(1.0, timedelta(days=days) / (newest - oldest)) if days and newest > oldest else 1.0
    shift = timedelta(days=math.floor((now - newest) / timedelta(days=1)))
    for r in records:
        r.pop("scenario", None)  # ground truth of the generator, not data
        at = datetime.fromisoformat(r["created_at"])
        r["created_at"] = (newest - (newest - at) * scale + shift).isoformat()
    return records


def write_inbox(inbox: Path, records: list[dict[str, Any]]) -> int:
    """The records as `.jsonl` files, written under a temporary name, renamed, and aged past the
    collector's settle time. Returns the number of files."""
    inbox.mkdir(parents=True, exist_ok=True)
    past = time.time() - 3600
    files = 0
    for i in range(0, len(records), FILE_LINES):
        part = inbox / f"bench-{i // FILE_LINES:05d}.jsonl.part"
        part.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records[i : i + FILE_LINES]),
                        encoding="utf-8")
        os.utime(part, (past + files, past + files))  # oldest first, in order
        part.rename(part.with_suffix(""))
        files += 1
    return files


def warm_up(records: list[dict[str, Any]]) -> None:
    """First-use costs (dictionaries, models, jieba) out of the timing: the service pays them once
    at its first batch, not per post. A throwaway analyzer, so the service's windows start empty."""
    from collectors.records import post_from_record
    from nlp.analyzer import Analyzer
    from nlp.tokenizer import search_tokens, search_tokens_many

    posts = [post_from_record(dict(r)) for r in records]
    Analyzer.load().pipe(posts)
    search_tokens_many([p.text for p in posts])
    for p in posts:
        search_tokens(p.text)


def run(data_dir: Path, n: int, seed: int, batch_size: int | None, progress: bool,
        days: float | None = None) -> dict[str, Any]:
    from core.config import load_settings
    from core.service import Sentinel

    overrides: dict[str, Any] = {"data_dir": str(data_dir)}
    if batch_size:
        overrides["batch_size"] = batch_size
    settings = load_settings(None, overrides=overrides, env={})
    if settings.db_path.exists():
        raise SystemExit(f"数据目录 {data_dir} 里已有数据库：基准测试需要一个空目录（或去掉 --data-dir 用临时目录）")
    t = time.perf_counter()
    records = demo_records(n, seed, datetime.now(timezone.utc), days)
    write_inbox(settings.inbox, records)
    prepared = time.perf_counter() - t
    t = time.perf_counter()
    warm_up(records[:200])
    service = Sentinel.build(settings)
    startup = time.perf_counter() - t
    service.stage_seconds.clear()
    service.stage_cpu_seconds.clear()
    try:
        started, cpu = time.perf_counter(), time.process_time()
        while True:
            got = service.collect()
            handled = service.process()
            service.deliver()
            if progress:
                c = service.store.counts()
                _progress(f"已收集 {c['posts']} 条，已分析", c["analyzed"], n)
            if not got and not handled:
                break
        service.maintain()
        service.retain()
        wall, cpu = time.perf_counter() - started, time.process_time() - cpu
        counts = service.store.counts()
        cases = len(service.store.cases(status=None, limit=100_000))
        unruled = len(service.store.posts_for_rules(1))
        print_ = fingerprint(service.store, counts["posts"])
    finally:
        service.close()
    if counts["posts"] != n or counts["analyzed"] != n or unruled:
        raise SystemExit(f"流水线没有处理完全部帖子：入库 {counts['posts']}，已分析 {counts['analyzed']}，"
                         f"共 {n} 条（死信 {counts['dead_letters']} 条）")
    stages = {stage: round(sum(service.stage_seconds.get(j, 0.0) for j in jobs), 3) for stage, jobs in STAGES.items()}
    stages_cpu = {stage: round(sum(service.stage_cpu_seconds.get(j, 0.0) for j in jobs), 3)
                  for stage, jobs in STAGES.items()}
    return {
        "posts": n, "seconds": round(wall, 3), "posts_per_s": round(n / wall, 1), "stages_s": stages,
        "other_s": round(wall - sum(stages.values()), 3),
        "cpu_seconds": round(cpu, 3), "posts_per_cpu_s": round(n / cpu, 1), "stages_cpu_s": stages_cpu,
        "counts": {"flagged": counts["flagged"], "alerts": counts["alerts"], "cases": cases,
                   "dead_letters": counts["dead_letters"]},
        "fingerprint": print_,
        "days": round((datetime.fromisoformat(records[-1]["created_at"])
                       - datetime.fromisoformat(records[0]["created_at"])) / timedelta(days=1), 1),
        "prepare_s": round(prepared, 1), "startup_s": round(startup, 1), "batch_size": settings.batch_size,
    }


def fingerprint(store: Any, n: int) -> str:
    """A digest of what the rules produced (flags with their reasons and states, alerts with their
    texts and posts, cases with their posts): equal digests on the same day mean equal behaviour."""
    import hashlib

    h = hashlib.sha256()
    items = store.queue_items(list(range(1, n + 1)))
    for pid in sorted(items):
        item = items[pid]
        h.update(repr((pid, item.status.value, sorted((f.rule, f.reason) for f in item.flags))).encode())
    for a in sorted(store.alerts(limit=10 * n + 100), key=lambda a: a.id or 0):
        h.update(repr((a.rule, a.level.value, a.title, a.body, a.dedupe_key, a.post_ids, a.kind)).encode())
    for c in sorted(store.cases(status=None, limit=10 * n + 100), key=lambda c: c.id or 0):
        h.update(repr((c.kind.value, c.key, c.title, sorted(c.post_ids))).encode())
    return h.hexdigest()[:16]


def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(
        prog="python -m core.bench",
        description="整条流水线的单核吞吐量基准：演示数据（合成）写入收件箱 → 收集入库 → 分析 → 规则 → 预警投递 → 例行维护，\n"
                    "在全新的 SQLite 数据目录上用真实的服务代码跑完，打印端到端的 条/秒 和各阶段耗时（秒）。\n"
                    "进程会绑定到一个 CPU；测量时请再用 taskset 固定到一个核，例如：\n"
                    "  taskset -c 0 python -m core.bench --json\n"
                    "生成演示数据和加载模型不计时。")
    p.add_argument("--posts", type=int, default=50000, help="帖子条数（默认 50000）")
    p.add_argument("--days", type=float, default=0,
                   help="把帖子压缩到最近这么多天里（默认 0 = 按演示数据原有的密度，约每天 80 条；"
                        "例如 --days 30 即每天约 1700 条，规则的时间窗口更满）")
    p.add_argument("--batch-size", type=int, default=0, help="每批处理条数（默认 0 = 配置默认值 1000）")
    p.add_argument("--data-dir", type=Path, help="在此（空）目录建库并保留，便于事后查看；默认用临时目录，结束后删除")
    p.add_argument("--seed", type=int, default=20260101, help="演示数据的随机种子（默认 20260101）")
    p.add_argument("--json", action="store_true", help="输出一个 JSON 对象")
    p.add_argument("--quiet", action="store_true", help="不在标准错误上显示进度和服务日志")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.posts < 1:
        raise SystemExit("--posts 至少为 1")
    cpu = pin_one_core()
    from core.logs import setup_logging

    setup_logging("ERROR" if args.quiet else "WARNING")
    logging.getLogger("sentinel").setLevel(logging.ERROR if args.quiet else logging.WARNING)
    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="sentinel-pipeline-bench-")
        data_dir = Path(tmp.name)
    try:
        if not args.quiet:
            print(f"[基准] {args.posts} 条演示数据，{cpu}，数据目录 {data_dir}", file=sys.stderr)
        result = run(data_dir, args.posts, args.seed, args.batch_size, not args.quiet, args.days)
    finally:
        if tmp is not None:
            tmp.cleanup()
    result["cpu"] = cpu
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        s = result["stages_s"]
        print(f"端到端 {result['posts_per_s']} 条/秒（{result['posts']} 条，{result['seconds']} 秒；"
              f"按 CPU 时间 {result['posts_per_cpu_s']} 条/秒）；"
              f"收集 {s['collect']} 秒，分析 {s['analyze']} 秒，规则 {s['rules']} 秒，投递 {s['deliver']} 秒，"
              f"维护 {s['housekeeping']} 秒；标记 {result['counts']['flagged']} 条，预警 {result['counts']['alerts']} 条，"
              f"事件 {result['counts']['cases']} 个")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
