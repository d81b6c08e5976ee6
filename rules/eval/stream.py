"""Build a replay stream for `python -m rules.backtest` from the hand-written comment files here.

    python -m rules.eval.stream --out /tmp/stream.jsonl            # 8 ordinary days + the three events
    python -m rules.eval.stream --ordinary-only --out /tmp/ord.jsonl

Eight days of `ordinary.txt` (75 comments a day, 08:00-22:00, four channels, 150 staff); on day 6 a
housing-subsidy rumour (`rumour_wave.txt`, 14 posts over 3 h from 10:00) and an advert flood
(`spam_flood.txt`, 25 bot posts in 20 min from 15:00); on day 8 staff complaining about a published
pay scheme (`surge.txt`, 45 posts over 3 h from 09:00). Seeded: the same file every time.
"""
from __future__ import annotations

import json
import random
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

HERE = Path(__file__).resolve().parent
CST = timezone(timedelta(hours=8))
T0 = datetime(2026, 10, 12, tzinfo=CST)
CHANNELS = ["wechat", "weibo", "qq", "board"]
RUMOUR_START = T0 + timedelta(days=5, hours=10)
SPAM_START = T0 + timedelta(days=5, hours=15)
SURGE_START = T0 + timedelta(days=7, hours=9)


def _lines(name: str) -> list[str]:
    return [line.strip() for line in (HERE / name).read_text(encoding="utf-8").splitlines() if line.strip()]


def build(ordinary_only: bool = False, seed: int = 11) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    records = [{"channel": rng.choice(CHANNELS), "source_id": f"o{i}", "author": f"staff{rng.randrange(150)}",
                "text": text,
                "created_at": (T0 + timedelta(days=i // 75, hours=8, minutes=rng.randrange(14 * 60))).isoformat()}
               for i, text in enumerate(_lines("ordinary.txt"))]

    def event(prefix: str, name: str, start: datetime, minutes: float, author: Callable[[int], str],
              channels: list[str]) -> None:
        texts = _lines(name)
        for i, text in enumerate(texts):
            when = start + timedelta(minutes=i * minutes / len(texts) + rng.random())
            records.append({"channel": channels[i % len(channels)], "source_id": f"{prefix}{i}",
                            "author": author(i), "text": text, "created_at": when.isoformat()})

    if not ordinary_only:
        event("r", "rumour_wave.txt", RUMOUR_START, 180, lambda i: f"rr{i}", CHANNELS)
        event("s", "spam_flood.txt", SPAM_START, 20, lambda i: f"bot{i}", ["qq", "wechat"])
        event("p", "surge.txt", SURGE_START, 180, lambda i: f"pp{i}", CHANNELS)
    records.sort(key=lambda r: r["created_at"])
    return records


def main(argv: list[str] | None = None) -> int:
    from core.cli import ChineseArgumentParser

    p = ChineseArgumentParser(prog="python -m rules.eval.stream",
                              description="用本目录的手写评论生成回放用的帖子流（JSONL，收件箱格式）。")
    p.add_argument("--out", required=True, metavar="FILE", help="输出文件")
    p.add_argument("--ordinary-only", action="store_true", help="只要 8 天的日常评论（不加谣言、广告和集中投诉）")
    args = p.parse_args(argv)
    records = build(args.ordinary_only)
    with open(args.out, "w", encoding="utf-8") as f:
        for r in records:
            f.write(json.dumps(r, ensure_ascii=False) + "\n")
    print(f"已写入 {len(records)} 条帖子：{args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
