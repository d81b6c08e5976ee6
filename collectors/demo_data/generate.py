"""Generate the synthetic demo sample (合成演示数据) replayed by `scheduler.py --demo`.

Run from the repository root:  python -m collectors.demo_data.generate [--out PATH] [--seed N]
The output is byte-identical for the same seed and phrase files.
"""
from __future__ import annotations

import argparse
import json
import sys
from collections import Counter
from pathlib import Path
from typing import Any

from . import clock
from .context import Context
from .daily import DailyWriter, write_day
from .leaks import write_leaks
from .live import write_live
from .model import CHANNELS, SCENARIOS, Draft
from .rumours import write_rumours
from .spam import FLOOD_DAY, write_background, write_flood
from .surge import DAY as SURGE_DAY, write_surge

from core.cli import ChineseArgumentParser

DEFAULT_SEED = 20260101
DEFAULT_OUT = Path(__file__).with_name("sample.jsonl")
ID_FORMAT = {"wechat": "wx-c-{:06d}", "weibo": "wb-c-{:06d}", "qq": "qq-m-{:06d}"}
# Invisible characters are written as \u escapes so the file stays readable and diff-safe.
ESCAPED = {"\u200b": "\\u200b", "\u200c": "\\u200c", "\u200d": "\\u200d", "\ufeff": "\\ufeff",
           "\u2028": "\\u2028", "\u2029": "\\u2029"}
DESCRIPTIONS = {
    "normal_pos": "日常正面评价（点赞、感谢）",
    "normal_neg": "日常负面意见（吐槽、抱怨）",
    "normal_neu": "日常中性内容（通知、回复、信息）",
    "question": "提问、咨询",
    "suggestion": "建议、提案（含建言献策板块的提案）",
    "spam_flood": "垃圾广告：第12天下午的集中刷屏，以及其他日子零星出现的广告；使用谐音、零宽字符、繁体、拆字、中文数字、变形网址等规避手法",
    "rumour": "谣言及其扩散（转发、复述、担忧的回复）",
    "rumour_refute": "教职工辟谣及看到官方说明后的反应",
    "official_clarification": "工会官方澄清（引用官网通知）",
    "pay_reform_surge": "绩效工资分配改革征求意见稿发布后的负面舆情激增",
    "pii_leak": "泄露个人信息（手机号、身份证号、银行卡号、邮箱、QQ号）",
    "live": "实时演示部分：按顺序逐条注入的新帖（日常内容夹杂少量广告和负面帖）",
}


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def build(seed: int) -> tuple[list[Draft], list[Draft], dict[str, Any]]:
    """All backlog drafts (sorted), all live drafts (in order), and scenario details."""
    ctx = Context.create(seed)
    end = clock.at(clock.DAYS)
    writer = DailyWriter(ctx, end)
    for day in range(clock.DAYS):
        write_day(writer, day)
        progress(f"[1/4] 日常内容：第 {day + 1}/{clock.DAYS} 天，累计 {len(ctx.posts)} 条")
    details: dict[str, Any] = {"rumour": write_rumours(ctx), "spam_flood": write_flood(ctx)}
    details["pay_reform_surge"] = write_surge(ctx)
    details["spam_background"] = write_background(ctx, skip_days=(FLOOD_DAY,))
    details["pii_leak"] = write_leaks(ctx, skip_days=(FLOOD_DAY, 18, 19, SURGE_DAY, SURGE_DAY + 1))
    progress(f"[2/4] 场景内容已生成，累计 {len(ctx.posts)} 条")
    backlog = [d for d in ctx.posts if d.at < end]
    order = {id(d): i for i, d in enumerate(ctx.posts)}
    backlog.sort(key=lambda d: (d.at, order[id(d)]))
    live = write_live(ctx, writer, end)
    progress(f"[3/4] 实时部分 {len(live)} 条")
    return backlog, live, details


def assign_ids(posts: list[Draft]) -> None:
    counters = Counter[str]()
    for draft in posts:
        counters[draft.channel] += 1
        number = counters[draft.channel]
        if draft.channel == "board":
            draft.source_id = ("bd-p-{:06d}" if draft.proposal else "bd-c-{:06d}").format(number)
        else:
            draft.source_id = ID_FORMAT[draft.channel].format(number)


def record(draft: Draft) -> dict[str, Any]:
    out: dict[str, Any] = {"channel": draft.channel, "source_id": draft.source_id,
                           "author": draft.author.id, "author_name": draft.author.name,
                           "text": draft.text, "created_at": clock.iso(draft.at), "thread": draft.thread}
    if draft.url:
        out["url"] = draft.url
    if draft.parent is not None:
        out["reply_to"] = draft.parent.source_id
    out["scenario"] = draft.scenario
    return out


def dumps(obj: dict[str, Any]) -> str:
    line = json.dumps(obj, ensure_ascii=False)
    for char, escape in ESCAPED.items():
        line = line.replace(char, escape)
    return line


def scenario_meta(posts: list[Draft], details: dict[str, Any]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    for name in SCENARIOS:
        chosen = [d for d in posts if d.scenario == name]
        entry: dict[str, Any] = {"description_zh": DESCRIPTIONS[name], "count": len(chosen)}
        if chosen:
            entry["start"], entry["end"] = clock.iso(chosen[0].at), clock.iso(chosen[-1].at)
            entry["channels"] = dict(sorted(Counter(d.channel for d in chosen).items()))
        meta[name] = entry
    meta["spam_flood"]["burst"] = details["spam_flood"]
    meta["spam_flood"]["background"] = details["spam_background"]
    meta["rumour"]["episodes"] = details["rumour"]
    meta["pay_reform_surge"].update({k: v for k, v in details["pay_reform_surge"].items()
                                     if k in ("day", "thread", "article_published")})
    meta["pii_leak"]["kinds"] = details["pii_leak"]["kinds"]
    return meta


def header(posts: list[Draft], live_from: int, seed: int, details: dict[str, Any]) -> dict[str, Any]:
    return {"_meta": {
        "synthetic": True,
        "description_zh": "合成演示数据：由程序根据手写短语随机组合生成，非真实教职工言论；"
                          "人名、账号、手机号、身份证号、银行卡号等均为虚构。",
        "base_time": clock.iso(clock.BASE_TIME),
        "days": clock.DAYS,
        "live_from": live_from,
        "live_from_note_zh": "live_from 是帖子（不含本行）从 0 开始的序号：其前为 30 天存量，其后为实时注入部分",
        "quiet_days": clock.quiet_days(),
        "seed": seed,
        "generator": "python -m collectors.demo_data.generate",
        "counts": {"posts": len(posts), "backlog": live_from, "live": len(posts) - live_from,
                   "channels": {c: sum(1 for d in posts if d.channel == c) for c in CHANNELS}},
        "scenarios": scenario_meta(posts, details),
    }}


def write_sample(out: Path, seed: int) -> dict[str, Any]:
    backlog, live, details = build(seed)
    posts = backlog + live
    assign_ids(posts)
    head = header(posts, len(backlog), seed, details)
    lines = [dumps(head)] + [dumps(record(d)) for d in posts]
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    progress(f"[4/4] 已写入 {out}：{len(posts)} 条帖子（存量 {len(backlog)}，实时 {len(live)}）")
    return head


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = ChineseArgumentParser(
        prog="python -m collectors.demo_data.generate",
        description="生成演示用的合成数据 sample.jsonl（合成数据，非真实教职工言论）。"
                    "同一随机种子和短语文件下，输出逐字节一致。")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT,
                        help=f"输出文件路径（默认：{DEFAULT_OUT.name}，与本脚本同目录）")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED,
                        help=f"随机种子（默认：{DEFAULT_SEED}；提交到仓库的样本用默认值生成）")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        write_sample(args.out, args.seed)
    except OSError as exc:
        print(f"写入失败：{exc}。请检查 --out 指定的目录是否存在且可写。", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
