"""Manage dashboard accounts from the command line (every change is audited).

    python -m dashboard.users add NAME --role ROLE [--data-dir DIR] [--password-stdin]
    python -m dashboard.users passwd NAME [--data-dir DIR] [--password-stdin]
    python -m dashboard.users list [--data-dir DIR]
"""
from __future__ import annotations

import argparse
import getpass
import sys
from typing import TextIO

from core.domain import Role
from dashboard.accounts import MIN_PASSWORD, AccountError, create_user, parse_role, reset_password
from core.config import load_settings
from core.errors import SentinelError
from store import Store, open_store

ROLE_HELP = "；".join(f"{r.value}={r.label_zh}" for r in Role)


def _data_dir_parser(default: object) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--data-dir", metavar="DIR", default=default,
                        help="数据目录，数据库为其中的 sentinel.db（默认 $SENTINEL_DATA_DIR 或 ./data）")
    parser.add_argument("--config", metavar="FILE", default=default,
                        help="与 scheduler.py 相同的 YAML 配置文件（用其中的数据目录和存储后端）")
    return parser


def build_parser() -> argparse.ArgumentParser:
    # --data-dir is accepted before or after the command; SUPPRESS keeps an earlier value.
    common = _data_dir_parser(argparse.SUPPRESS)
    p = argparse.ArgumentParser(
        prog="python -m dashboard.users",
        description="管理看板账号：新增用户、重置密码、列出用户。所有修改都会写入审计日志。",
        epilog="示例：python -m dashboard.users add zhangsan --role moderator\n"
               "      echo '新密码123456' | python -m dashboard.users passwd zhangsan --password-stdin",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        parents=[_data_dir_parser(None)],
    )
    sub = p.add_subparsers(dest="command", metavar="命令", required=True)
    add = sub.add_parser("add", parents=[common], help="新增用户", description="新增一个看板用户。")
    add.add_argument("name", metavar="NAME", help="用户名（2–32 位字母、数字或 _ . -）")
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help=f"角色：{ROLE_HELP}")
    add.add_argument("--password-stdin", action="store_true",
                     help=f"从标准输入读取密码（第一行），不交互提示；密码至少 {MIN_PASSWORD} 位")
    pw = sub.add_parser("passwd", parents=[common], help="重置用户密码", description="重置一个用户的密码。")
    pw.add_argument("name", metavar="NAME", help="用户名")
    pw.add_argument("--password-stdin", action="store_true", help="从标准输入读取新密码（第一行）")
    sub.add_parser("list", parents=[common], help="列出所有用户", description="列出所有用户及其角色。")
    for parser in (p, add, pw, *sub.choices.values()):
        _chinese_headings(parser)
    return p


def _chinese_headings(parser: argparse.ArgumentParser) -> None:
    parser._positionals.title = "位置参数"
    parser._optionals.title = "选项"
    for action in parser._actions:
        if isinstance(action, argparse._HelpAction):
            action.help = "显示本帮助并退出"


def read_password(from_stdin: bool, stdin: TextIO) -> str:
    if from_stdin:
        line = stdin.readline().rstrip("\r\n")
        if not line:
            raise AccountError("标准输入里没有读到密码：请用 echo '密码' | … --password-stdin")
        return line
    first = getpass.getpass(f"输入密码（至少 {MIN_PASSWORD} 位，不回显）：")
    second = getpass.getpass("再输入一次：")
    if first != second:
        raise AccountError("两次输入的密码不一致，请重新运行命令")
    return first


def open_configured_store(data_dir: str | None, config: str | None = None) -> Store:
    """The store scheduler.py would open with the same --config / --data-dir."""
    settings = load_settings(config, overrides={"data_dir": data_dir})
    return open_store(settings)


def run(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    store = open_configured_store(args.data_dir, getattr(args, "config", None))
    try:
        if args.command == "list":
            users = store.users()
            if not users:
                print("还没有用户。新增：python -m dashboard.users add 用户名 --role admin", file=out)
            for u in users:
                print(f"{u.username}\t{u.role.value}（{u.role.label_zh}）\t{'启用' if u.active else '停用'}", file=out)
            return 0
        if args.command == "add":
            role = parse_role(args.role)
            password = read_password(args.password_stdin, stdin)
            create_user(store, args.name, role, password, actor="system", via="cli")
            print(f"已创建用户 {args.name}（{role.label_zh}）。", file=out)
            return 0
        password = read_password(args.password_stdin, stdin)
        reset_password(store, args.name, password, actor="system", via="cli")
        print(f"已重置 {args.name} 的密码；其所有已登录的会话已随之失效，需用新密码重新登录。", file=out)
        return 0
    finally:
        store.close()


def main(argv: list[str] | None = None, stdin: TextIO | None = None, out: TextIO | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run(args, stdin or sys.stdin, out or sys.stdout)
    except (AccountError, SentinelError) as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, EOFError):
        print("\n已取消，未做任何修改。", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
