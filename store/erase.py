"""Erase one author's posts on request (the right to erasure), wherever they live.

    python -m store.erase --author u123 [--channel weibo] --reason "本人申请删除（工单 2026-031）" [--actor 张老师]

Removes the posts with their earlier versions, analyses, search index entries, flags and decisions,
case links, alert post lists, and every quotation of them in alert and case texts; alerts left with
no post are not sent any more; dead letters and pushed events that carry them go too; archived
reports that quote them are written again. Their counts stay in the aggregates (reports keep their
numbers) and the same posts fetched again from the platform are ignored. The audit log records who
erased which author on which channel, how many rows and why — never the content. Safe while the
service runs.
"""
from __future__ import annotations

import argparse
import getpass
import sys

from core.cli import ChineseArgumentParser, add_service_options, service_settings
from core.domain import AuditEvent, utcnow
from core.errors import SentinelError

TABLES_ZH = {"posts": "帖子", "post_versions": "历史版本", "analyses": "分析结果", "posts_fts": "搜索索引",
             "flags": "审核标记", "decisions": "审核决定", "case_posts": "事件关联", "cases": "事件标题",
             "alerts": "预警文字", "deliveries": "待发通知", "quarantine": "隔离记录", "writebacks": "平台操作",
             "leads": "提案线索", "removal_requests": "删除申请", "dead_letters": "死信", "inbound": "推送事件"}


def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(
        prog="python -m store.erase",
        description="按本人申请抹除某位作者的全部帖子：帖子、历史版本、分析结果、搜索索引、审核标记、事件与预警中的摘录、"
                    "未发出的通知、死信，并重新生成引用了这些帖子的归档报告。统计数字保留（已并入汇总表）。"
                    "审计日志记录谁、抹除了哪位作者、多少行、理由，不记录内容。服务运行时也可以执行。",
        epilog="示例：python -m store.erase --author u123 --channel weibo --reason \"本人申请删除（工单 2026-031）\"")
    p.add_argument("--author", required=True, help="作者标识（帖子的 author 字段，即平台上的用户 ID）")
    p.add_argument("--channel", help="只抹除该渠道（如 weibo、qq）的帖子；不给出则抹除所有渠道")
    p.add_argument("--reason", required=True, help="理由（记入审计日志，请写申请来源或工单号，不要写帖子内容）")
    p.add_argument("--actor", help="执行人（记入审计日志；默认当前系统用户名）")
    add_service_options(p)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    author, reason = (args.author or "").strip(), (args.reason or "").strip()
    channel = (args.channel or "").strip() or None
    try:
        if not author or not reason:
            raise SentinelError("--author 和 --reason 都不能为空")
        from dashboard.report import rewrite_archived
        from store import open_existing_store

        settings = service_settings(args)
        store = open_existing_store(settings)
        try:
            actor = (args.actor or "").strip() or getpass.getuser()
            where = f"渠道 {channel}" if channel else "所有渠道"
            print(f"正在抹除作者 {author} 在{where}的帖子……", file=sys.stderr, flush=True)
            audit = AuditEvent(actor, "privacy.erase", f"author:{author}",
                               {"reason": reason[:500], "via": "cli"}, utcnow())
            result = store.erase_author(author, channel, audit)
            print(f"数据库已处理：{result.posts} 条帖子。正在检查归档报告……", file=sys.stderr, flush=True)
            rewritten = rewrite_archived(store, settings.data_dir, settings.timezone, result.sources) \
                if result.posts else []
            if rewritten:
                store.audit(AuditEvent(actor, "privacy.erase_reports", f"author:{author}",
                                       {"reports": sorted(p.name for p in rewritten), "via": "cli"}, utcnow()))
        finally:
            store.close()
    except SentinelError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 2
    if not result.posts:
        print(f"没有找到作者 {author} 在{where}的帖子；已在审计日志中记录这次申请。")
        return 0
    rows = "，".join(f"{TABLES_ZH.get(t, t)} {n}" for t, n in sorted(result.rows.items()) if n)
    reports = f"；重新生成归档报告 {len(rewritten) // 2} 份" if rewritten else ""
    print(f"已抹除作者 {author} 在{where}的 {result.posts} 条帖子（{rows}）{reports}。审计日志已记录执行人 {actor} 和理由。")
    return 0


if __name__ == "__main__":
    sys.exit(main())
