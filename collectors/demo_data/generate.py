"""Generate the synthetic demo sample (合成演示数据) replayed by `scheduler.py --demo`.

Run from the repository root:  python -m collectors.demo_data.generate [--out PATH] [--seed N] [--days N]
The output is byte-identical for the same seed, days and phrase files.

More than 30 days (`--days 365`, for long replays): the first 30 days are the demo month; each later
30-day cycle is generated from its own seed, with ordinary talk, background adverts and personal-data
leaks every day and ONE incident per cycle, in turn: the two rumour episodes, the advert flood, the
pay-reform surge. Later cycles keep the first month's weekday rhythm (the calendar is not re-aligned).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
from collections import Counter
from datetime import timedelta
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


CYCLE_INCIDENTS = ("rumour", "spam_flood", "pay_reform_surge")  # one per later 30-day cycle, in turn


def month(ctx: Context, writer: DailyWriter, incidents: tuple[str, ...], label: str) -> dict[str, Any]:
    """One 30-day cycle into `ctx.posts` (cycle-relative times): ordinary talk, background adverts and
    leaks every day, and the given incidents. Returns the incidents' details."""
    for day in range(clock.DAYS):
        write_day(writer, day)
        progress(f"[1/4] {label}日常内容：第 {day + 1}/{clock.DAYS} 天，累计 {len(ctx.posts)} 条")
    details: dict[str, Any] = {}
    if "rumour" in incidents:
        details["rumour"] = write_rumours(ctx)
    if "spam_flood" in incidents:
        details["spam_flood"] = write_flood(ctx)
    if "pay_reform_surge" in incidents:
        details["pay_reform_surge"] = write_surge(ctx)
    details["spam_background"] = write_background(ctx, skip_days=(FLOOD_DAY,))
    details["pii_leak"] = write_leaks(ctx, skip_days=(FLOOD_DAY, 18, 19, SURGE_DAY, SURGE_DAY + 1))
    return details


def build(seed: int, days: int = clock.DAYS) -> tuple[list[Draft], list[Draft], dict[str, Any]]:
    """All backlog drafts (sorted), all live drafts (in order), and scenario details."""
    end = clock.at(days)
    cycles = math.ceil(days / clock.DAYS)
    earlier: list[Draft] = []  # drafts of the cycles before the last
    ctx = Context.create(seed)
    writer = DailyWriter(ctx, clock.at(clock.DAYS))
    details = month(ctx, writer, CYCLE_INCIDENTS, "")
    for k in range(1, cycles):
        earlier += ctx.posts
        ctx = Context.create(seed * 1000 + k)
        writer = DailyWriter(ctx, clock.at(clock.DAYS))
        incident = CYCLE_INCIDENTS[(k - 1) % len(CYCLE_INCIDENTS)]
        more = month(ctx, writer, (incident,), f"第 {k + 1}/{cycles} 个周期，")
        offset = timedelta(days=clock.DAYS * k)
        for draft in ctx.posts:
            draft.at += offset
        details.setdefault("cycles", []).append(
            {"cycle": k + 1, "offset_days": clock.DAYS * k, "incident": incident, "details": more})
    drafts = earlier + ctx.posts
    progress(f"[2/4] 场景内容已生成，累计 {len(drafts)} 条")
    backlog = [d for d in drafts if d.at < end]
    order = {id(d): i for i, d in enumerate(drafts)}
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


def header(posts: list[Draft], live_from: int, seed: int, details: dict[str, Any],
           days: int = clock.DAYS) -> dict[str, Any]:
    return {"_meta": {
        "synthetic": True,
        "description_zh": "合成演示数据：由程序根据手写短语随机组合生成，非真实教职工言论；"
                          "人名、账号、手机号、身份证号、银行卡号等均为虚构。",
        "base_time": clock.iso(clock.BASE_TIME),
        "days": days,
        "live_from": live_from,
        "live_from_note_zh": f"live_from 是帖子（不含本行）从 0 开始的序号：其前为 {days} 天存量，其后为实时注入部分",
        "quiet_days": clock.quiet_days(min(days, clock.DAYS)),
        "seed": seed,
        "generator": "python -m collectors.demo_data.generate",
        "counts": {"posts": len(posts), "backlog": live_from, "live": len(posts) - live_from,
                   "channels": {c: sum(1 for d in posts if d.channel == c) for c in CHANNELS}},
        "scenarios": scenario_meta(posts, details),
        **({"cycles": details["cycles"]} if "cycles" in details else {}),
    }}


def write_sample(out: Path, seed: int, days: int = clock.DAYS) -> dict[str, Any]:
    backlog, live, details = build(seed, days)
    posts = backlog + live
    assign_ids(posts)
    head = header(posts, len(backlog), seed, details, days)
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
    parser.add_argument("--days", type=int, default=clock.DAYS, metavar="N",
                        help=f"存量天数（默认 {clock.DAYS}）；超过 {clock.DAYS} 天时，之后每 {clock.DAYS} 天一个周期，"
                             "每个周期有日常内容和零星广告，并轮流加入一次谣言、广告刷屏或绩效改革舆情，"
                             "用于长时间回放（如 --days 365）")
    args = parser.parse_args(argv)
    if args.days < clock.DAYS:
        parser.error(f"argument --days: 至少 {clock.DAYS} 天")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        write_sample(args.out, args.seed, args.days)
    except OSError as exc:
        print(f"写入失败：{exc}。请检查 --out 指定的目录是否存在且可写。", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
