"""Manage dashboard accounts from the command line (every change is audited).

    python -m dashboard.users add NAME --role ROLE [PROFILE] [--data-dir DIR] [--password-stdin]
    python -m dashboard.users edit NAME [--role ROLE] [--active | --inactive] [PROFILE] [--data-dir DIR]
    python -m dashboard.users passwd NAME [--data-dir DIR] [--password-stdin]
    python -m dashboard.users list [--data-dir DIR]

PROFILE: contact routes and subscriptions, validated as on the 用户 page (dashboard.accounts):
    [--email E] [--wecom-userid U] [--dingtalk-userid U] [--feishu-userid U]
    [--topics 住房保障,薪酬待遇] [--channels weibo,qq] [--min-level yellow|orange|red]
`edit` changes only the options given; an empty value ("") clears a route, or subscribes to every
topic / channel. Help, usage and errors are in Chinese.
"""
from __future__ import annotations

import argparse
import getpass
import sys
from typing import Any, TextIO

from core.cli import ChineseArgumentParser
from core.config import load_settings
from core.domain import CHANNEL_LABELS_ZH, Level, Role, User
from core.errors import SentinelError
from dashboard.accounts import (KNOWN_TOPICS, MIN_PASSWORD, PROFILE_FIELDS, AccountError, clean_profile, create_user,
                                edit_user, field_labels, parse_role, reset_password)
from store import Store, open_store

ROLE_HELP = "；".join(f"{r.value}={r.label_zh}" for r in Role)
LEVEL_HELP = "、".join(f"{lv.value}={lv.label_zh}" for lv in Level)
CHANNEL_HELP = "、".join(f"{cid}={label}" for cid, label in CHANNEL_LABELS_ZH.items())
LIST_COLUMNS = ("用户名", "角色", "状态", "电子邮箱", "企业微信", "钉钉", "飞书", "关注话题", "关注渠道", "最低级别", "订阅报告",
                "审核渠道")
NONE = "-"  # no address on that route
ALL = "全部"  # no topic / channel chosen: every one

def _data_dir_parser(default: object) -> argparse.ArgumentParser:
    parser = ChineseArgumentParser(add_help=False)
    parser.add_argument("--data-dir", metavar="DIR", default=default,
                        help="数据目录，数据库为其中的 sentinel.db（默认 $SENTINEL_DATA_DIR 或 ./data）")
    parser.add_argument("--config", metavar="FILE", default=default,
                        help="与 scheduler.py 相同的 YAML 配置文件（用其中的数据目录和存储后端）")
    return parser


def _add_profile_options(parser: argparse.ArgumentParser, editing: bool) -> None:
    """The contact routes and subscriptions; default None = not given (edit leaves the field alone)."""
    clear = "；传空字符串 \"\" 清除" if editing else ""
    routes = parser.add_argument_group(
        "联系方式（个人信息：只有管理员和本人能看到；预警按这些方式通知本人）")
    routes.add_argument("--email", metavar="E", help=f"电子邮箱，如 zhang.san@univ.edu.cn{clear}")
    routes.add_argument("--wecom-userid", metavar="U", dest="wecom_userid",
                        help=f"企业微信 UserID（通讯录里的账号，不是姓名）{clear}")
    routes.add_argument("--dingtalk-userid", metavar="U", dest="dingtalk_userid", help=f"钉钉 userid{clear}")
    routes.add_argument("--feishu-userid", metavar="U", dest="feishu_userid", help=f"飞书 user_id{clear}")
    subs = parser.add_argument_group("订阅（收到哪些预警）")
    subs.add_argument("--topics", metavar="TOPICS",
                      help=f"关注的话题，逗号分隔，如 住房保障,薪酬待遇；不设或传空字符串 \"\" 表示全部话题。可选：{'、'.join(KNOWN_TOPICS)}")
    subs.add_argument("--channels", metavar="CHANNELS",
                      help=f"关注的渠道 id，逗号分隔，如 weibo,qq；不设或传空字符串 \"\" 表示全部渠道。可选：{CHANNEL_HELP}")
    subs.add_argument("--min-level", dest="min_level", choices=[lv.value for lv in Level],
                      help=f"最低预警级别：只通知这一级及以上（{LEVEL_HELP}；默认 yellow，即全部级别）")
    subs.add_argument("--reports", metavar="KINDS",
                      help="邮件订阅的舆情报告，逗号分隔：daily（日报）、weekly（周报）、monthly（月报）；"
                           "传空字符串 \"\" 表示不订阅。只发给能看报告的角色（工会干部、管理员），需要电子邮箱")
    scope = parser.add_argument_group("权限范围（只有管理员能设置）")
    scope.add_argument("--review-channels", metavar="CHANNELS", dest="review_channels",
                       help=f"审核员只审核这些渠道的帖子，逗号分隔；不设或传空字符串 \"\" 表示全部渠道。可选：{CHANNEL_HELP}")


def build_parser() -> argparse.ArgumentParser:
    # --data-dir is accepted before or after the command; SUPPRESS keeps an earlier value.
    common = _data_dir_parser(argparse.SUPPRESS)
    p = ChineseArgumentParser(
        prog="python -m dashboard.users",
        description="管理看板账号：新增用户、修改用户（角色、启用状态、联系方式、订阅）、重置密码、列出用户。"
                    "所有修改都会写入审计日志（只记录改了哪些项，不记录联系方式的内容）。",
        epilog="示例：python -m dashboard.users add zhangsan --role leader --wecom-userid ZhangSan --topics 住房保障\n"
               "      python -m dashboard.users edit zhangsan --email zhang.san@univ.edu.cn --min-level orange\n"
               "      python -m dashboard.users edit zhangsan --topics \"\"        # 改为关注全部话题\n"
               "      python -m dashboard.users edit zhangsan --inactive           # 停用，并让其登录立即失效\n"
               "      echo '新密码123456' | python -m dashboard.users passwd zhangsan --password-stdin\n"
               "每个命令的选项：python -m dashboard.users 命令 --help",
        parents=[_data_dir_parser(None)],
    )
    sub = p.add_subparsers(dest="command", metavar="命令", required=True,
                         help="要执行的操作（python -m dashboard.users 命令 --help 查看该命令的选项）")
    add = sub.add_parser("add", parents=[common], help="新增用户",
                         description="新增一个看板用户，可同时设置联系方式和订阅；随后提示输入密码。")
    add.add_argument("name", metavar="NAME", help="用户名（2–32 位字母、数字或 _ . -）")
    add.add_argument("--role", required=True, choices=[r.value for r in Role], help=f"角色（必填）：{ROLE_HELP}")
    add.add_argument("--password-stdin", action="store_true",
                     help=f"从标准输入读取密码（第一行），不交互提示；密码至少 {MIN_PASSWORD} 位")
    _add_profile_options(add, editing=False)
    edit = sub.add_parser("edit", parents=[common], help="修改用户的角色、启用状态、联系方式或订阅",
                          description="修改一个用户：只改给出的选项，其余保持不变。联系方式传空字符串 \"\" 即清除；"
                                      "话题或渠道传空字符串即改为全部。")
    edit.add_argument("name", metavar="NAME", help="用户名")
    edit.add_argument("--role", choices=[r.value for r in Role], help=f"新角色：{ROLE_HELP}")
    state = edit.add_mutually_exclusive_group()
    state.add_argument("--active", dest="active", action="store_const", const=True, default=None,
                       help="启用账号")
    state.add_argument("--inactive", dest="active", action="store_const", const=False,
                       help="停用账号（其所有登录立即失效；最后一位启用的管理员不能停用）")
    _add_profile_options(edit, editing=True)
    pw = sub.add_parser("passwd", parents=[common], help="重置用户密码", description="重置一个用户的密码。")
    pw.add_argument("name", metavar="NAME", help="用户名")
    pw.add_argument("--password-stdin", action="store_true", help="从标准输入读取新密码（第一行）")
    sub.add_parser("list", parents=[common], help="列出所有用户及其联系方式和订阅",
                   description="列出所有用户：角色、状态、联系方式（- 表示未填）、关注的话题和渠道（全部 表示不限）、"
                               "最低预警级别。各列以制表符分隔，第一行为表头。")
    return p


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


def profile_args(args: argparse.Namespace) -> dict[str, Any]:
    """The profile options given on the command line (those left out are absent)."""
    return {f: getattr(args, f) for f in PROFILE_FIELDS if getattr(args, f, None) is not None}


def list_row(u: User) -> str:
    """One line of `list`: tab-separated, in the order of LIST_COLUMNS."""
    cells = [u.username, f"{u.role.value}（{u.role.label_zh}）", "启用" if u.active else "停用",
             u.email or NONE, u.wecom_userid or NONE, u.dingtalk_userid or NONE, u.feishu_userid or NONE,
             ",".join(u.topics) or ALL, ",".join(u.channels) or ALL, f"{u.min_level.value}（{u.min_level.label_zh}）",
             ",".join(u.reports) or NONE, ",".join(u.review_channels) or ALL]
    return "\t".join(cells)


def run(args: argparse.Namespace, stdin: TextIO, out: TextIO) -> int:
    # Checked before the store is opened or a password asked for: a typo fails at once.
    profile = clean_profile(profile_args(args)) if args.command in ("add", "edit") else {}
    if args.command == "edit" and not profile and args.role is None and args.active is None:
        raise AccountError("没有给出要修改的内容：请至少给出一个选项，如 --email、--topics、--role、--inactive"
                           "（python -m dashboard.users edit --help 查看全部）")
    store = open_configured_store(args.data_dir, getattr(args, "config", None))
    try:
        if args.command == "list":
            users = store.users()
            if not users:
                print("还没有用户。新增：python -m dashboard.users add 用户名 --role admin", file=out)
                return 0
            print("\t".join(LIST_COLUMNS), file=out)
            for u in users:
                print(list_row(u), file=out)
            return 0
        if args.command == "add":
            role = parse_role(args.role)
            password = read_password(args.password_stdin, stdin)
            create_user(store, args.name, role, password, actor="system", via="cli", profile=profile)
            extra = f"，已设置{field_labels(profile)}" if profile else ""
            print(f"已创建用户 {args.name}（{role.label_zh}）{extra}。", file=out)
            return 0
        if args.command == "edit":
            role = parse_role(args.role) if args.role is not None else None
            changed = edit_user(store, args.name, actor="system", via="cli", role=role, active=args.active,
                                profile=profile)
            if changed:
                print(f"已修改 {args.name}：{field_labels(changed)}。", file=out)
                if args.active is False and "active" in changed:
                    print(f"{args.name} 已停用，其所有已登录的会话已随之失效。", file=out)
            else:
                print(f"{args.name} 没有变化：给出的值与现有的相同。", file=out)
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
