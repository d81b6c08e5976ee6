"""Check a rule file without starting the service:

    python -m rules.check rules/default.yaml
    python -m rules.check --config sentinel.yaml      # the config's rule file and notifier names

Prints one line per rule; exits 1 with the error (file, rule, field) if the file is invalid.
"""
from __future__ import annotations

import sys

from core.cli import ChineseArgumentParser
from core.config import load_settings
from core.errors import SentinelError
from rules.loader import load_rules


def main(argv: list[str] | None = None) -> int:
    parser = ChineseArgumentParser(
        prog="python -m rules.check", description="检查规则文件：语法、字段、正则、模板占位符和通知方式名称。")
    parser.add_argument("file", nargs="?", help="规则文件（默认：配置里的 rules，或内置的 rules/default.yaml）")
    parser.add_argument("--config", help="配置文件：用它的 rules 路径和已配置的通知方式名称")
    parser.add_argument("--notifier", action="append", default=[], metavar="NAME",
                        help="允许预警引用的通知方式名称（可重复；有 --config 时自动读取）")
    args = parser.parse_args(argv)
    try:
        settings = load_settings(args.config)
        path = args.file or str(settings.rules_file)
        names = [*args.notifier, *(n["name"] for n in settings.notifiers)]
        rules = load_rules(path, names)
    except SentinelError as exc:
        print(exc, file=sys.stderr)
        return 1
    for r in rules:
        actions = "、".join(a for a in ("flag", "remove", "alert", "case") if getattr(r, a) is not None)
        state = "" if r.enabled else "（已停用）"
        print(f"  {r.label} {r.title}{state}：类型 {r.type}，动作 {actions}")
    print(f"规则文件有效：{path}，共 {len(rules)} 条规则")
    return 0


if __name__ == "__main__":
    sys.exit(main())
