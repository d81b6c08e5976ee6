"""Manage the read-only API's clients (/api/v1/) from the command line; every change is audited.

    python -m dashboard.apitokens [--config FILE] [--data-dir DIR] add NAME --scopes posts:read,cases:read
    python -m dashboard.apitokens [--config FILE] [--data-dir DIR] list
    python -m dashboard.apitokens [--config FILE] [--data-dir DIR] revoke NAME

`add` prints the token once, as the last word of its output: only its SHA-256 is stored, so a lost
token is revoked and a new one added. Scopes: posts:read (posts with their analysis, personal data
masked), cases:read (rumour, flood and surge cases), pii:read (personal data in clear; every request
that uses it is written to the audit log). Clients send `Authorization: Bearer TOKEN`.
"""
from __future__ import annotations

import argparse
import hashlib
import secrets
import sys
from typing import TextIO

from core.cli import ChineseArgumentParser
from core.domain import AuditEvent, utcnow
from core.errors import SentinelError
from dashboard.users import open_configured_store
from store.base import ApiToken

SCOPES = {"posts:read": "读取帖子及分析结果（个人信息已遮盖）", "cases:read": "读取事件（谣言、刷屏、负面激增）",
          "alerts:read": "读取预警（级别、话题、确认和认领情况）", "decisions:read": "读取审核决定（通过、删除及理由）",
          "pii:read": "个人信息明文（手机号、身份证号、作者名等；每次使用都记入审计日志）"}
TOKEN_PREFIX = "sst_"  # Union Sentinel token: easy to spot in a leaked config


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def parse_scopes(raw: str) -> list[str]:
    scopes = sorted({s.strip() for s in raw.split(",") if s.strip()})
    unknown = [s for s in scopes if s not in SCOPES]
    if not scopes or unknown:
        what = f"不认识的权限：{'、'.join(unknown)}；" if unknown else "至少给出一个权限；"
        raise SentinelError(f"{what}可选：{'、'.join(SCOPES)}（逗号分隔，如 --scopes posts:read,cases:read）")
    return scopes


def build_parser() -> argparse.ArgumentParser:
    scope_help = "；".join(f"{k}：{v}" for k, v in SCOPES.items())
    p = ChineseArgumentParser(prog="python -m dashboard.apitokens",
                              description="管理只读 API（/api/v1/）的客户端令牌。每次新增、吊销都记入审计日志。",
                              epilog="示例：\n  python -m dashboard.apitokens add 人事处数据平台 --scopes posts:read,cases:read\n"
                                     "  python -m dashboard.apitokens list\n  python -m dashboard.apitokens revoke 人事处数据平台")
    p.add_argument("--data-dir", metavar="DIR", help="数据目录，数据库为其中的 sentinel.db（默认 $SENTINEL_DATA_DIR 或 ./data）")
    p.add_argument("--config", metavar="FILE", help="与 scheduler.py 相同的 YAML 配置文件（用其中的数据目录和存储后端）")
    sub = p.add_subparsers(dest="command", required=True, metavar="命令", parser_class=ChineseArgumentParser)
    add = sub.add_parser("add", help="新增客户端并打印一次令牌（输出的最后一个词）")
    add.add_argument("name", metavar="NAME", help="客户端名称（唯一），如 人事处数据平台")
    add.add_argument("--scopes", required=True, help=f"权限，逗号分隔。{scope_help}")
    sub.add_parser("list", help="列出客户端（不显示令牌）")
    rev = sub.add_parser("revoke", help="吊销客户端的令牌，立即生效")
    rev.add_argument("name", metavar="NAME", help="客户端名称")
    return p


def run(args: argparse.Namespace, out: TextIO) -> int:
    scopes = parse_scopes(args.scopes) if args.command == "add" else []
    name = (getattr(args, "name", "") or "").strip()
    if args.command in ("add", "revoke") and not (0 < len(name) <= 64) :
        raise SentinelError("客户端名称不能为空，最长 64 个字符")
    store = open_configured_store(args.data_dir, args.config)
    try:
        now = utcnow()
        if args.command == "add":
            token = new_token()
            try:
                store.add_api_token(ApiToken(name, scopes, now, "system"), token_hash(token),
                                    AuditEvent("system", "api_token.add", name, {"scopes": scopes, "via": "cli"}, now))
            except ValueError as e:
                raise SentinelError(f"{e}；换一个名称，或先 revoke 旧的") from None
            print(f"已新增 API 客户端“{name}”，权限：{'、'.join(scopes)}。", file=out)
            print("令牌只显示这一次，请立即保存；丢失后吊销并重新新增。请求时带上请求头 Authorization: Bearer <令牌>。", file=out)
            print(f"令牌：{token}", file=out)
            return 0
        if args.command == "list":
            tokens = store.api_tokens()
            if not tokens:
                print("还没有 API 客户端。新增：python -m dashboard.apitokens add 名称 --scopes posts:read", file=out)
            for t in tokens:
                state = "有效" if t.active else f"已吊销（{t.revoked_at:%Y-%m-%d %H:%M} UTC）"
                used = f"{t.last_used_at:%Y-%m-%d %H:%M} UTC" if t.last_used_at else "从未使用"
                print(f"{t.name}\t{','.join(t.scopes)}\t{state}\t最近使用：{used}", file=out)
            return 0
        if not store.revoke_api_token(name, AuditEvent("system", "api_token.revoke", name, {"via": "cli"}, now)):
            raise SentinelError(f"没有名为“{name}”的有效客户端（python -m dashboard.apitokens list 查看）")
        print(f"已吊销“{name}”的令牌，使用它的请求将被拒绝（401）。", file=out)
        return 0
    finally:
        store.close()


def main(argv: list[str] | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, out or sys.stdout)
    except SentinelError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
