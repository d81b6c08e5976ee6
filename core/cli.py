"""Command-line parsers whose help, usage and errors are in Chinese.

Every command (`scheduler.py`, `python -m nlp.train`, `python -m dashboard.users` …) builds its parser
with `ChineseArgumentParser`: the same `argparse` API, with 用法/选项/位置参数 headings, line breaks of
descriptions and examples kept, and argparse's own error messages translated (exit status 2).
"""
from __future__ import annotations

import argparse
import re
import sys
from typing import Any, NoReturn

# argparse's own messages (Python 3.11 wording) in Chinese; the first pattern that matches wins.
_ARGPARSE_ZH: tuple[tuple[re.Pattern[str], str], ...] = tuple((re.compile(p, re.S), r) for p, r in (
    (r"^the following arguments are required: (.*)$", r"缺少必需的参数：\1"),
    (r"^one of the arguments (.*) is required$", r"参数 \1 必须给出其中一个"),
    (r"^unrecognized arguments: (.*)$", r"无法识别的参数：\1（用 --help 查看全部选项）"),
    (r"^ambiguous option: (.*) could match (.*)$", r"选项 \1 有歧义，可能是：\2"),
    (r"^argument (.+?): invalid choice: (.+) \(choose from (.*)\)$", r"参数 \1 的取值 \2 无效，可选：\3"),
    (r"^argument (.+?): expected one argument$", r'参数 \1 需要一个值（空值请写 ""）'),
    (r"^argument (.+?): not allowed with argument (.*)$", r"参数 \1 不能与 \2 同时使用"),
    (r"^argument (.+?): ignored explicit argument (.*)$", r"参数 \1 不接受取值 \2"),
    (r"^argument (.+?): invalid .* value: (.*)$", r"参数 \1 的取值 \2 无效"),
    (r"^argument (.+?): (.*)$", r"参数 \1：\2"),
))


def argparse_message_zh(message: str) -> str:
    """argparse's English error message in Chinese (unknown wording is kept as is)."""
    for pattern, replacement in _ARGPARSE_ZH:
        if pattern.match(message):
            return pattern.sub(replacement, message)
    return message


class ChineseHelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and examples; "用法：" instead of "usage:"."""

    def add_usage(self, usage: Any, actions: Any, groups: Any, prefix: str | None = None) -> None:
        super().add_usage(usage, actions, groups, "用法：" if prefix is None else prefix)


class ChineseArgumentParser(argparse.ArgumentParser):
    """An ArgumentParser with Chinese headings, help and errors (exit status 2, as argparse's).
    Sub-commands made with `add_subparsers().add_parser` are of this class too."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("formatter_class", ChineseHelpFormatter)
        add_help = kwargs.pop("add_help", True)
        parents = kwargs.pop("parents", [])
        super().__init__(*args, add_help=False, **kwargs)
        self._positionals.title = "位置参数"
        self._optionals.title = "选项"
        if add_help:
            self.add_argument("-h", "--help", action="help", default=argparse.SUPPRESS, help="显示本帮助并退出")
        for parent in parents:  # after the headings are renamed, so the parents' options join ours
            self._add_container_actions(parent)
            self._defaults.update(parent._defaults)

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"错误：{argparse_message_zh(message)}\n")


def add_service_options(parser: argparse.ArgumentParser) -> None:
    """--config and --data-dir, as scheduler.py takes them, for commands that use the service's store."""
    parser.add_argument("--config", metavar="FILE", help="与 scheduler.py 相同的 YAML 配置文件（数据目录、存储后端、时区）")
    parser.add_argument("--data-dir", metavar="DIR", help="数据目录（默认 $SENTINEL_DATA_DIR 或 ./data）")


def service_settings(args: argparse.Namespace):  # -> core.config.Settings
    """The settings scheduler.py would load with these --config / --data-dir."""
    from core.config import load_settings

    return load_settings(args.config, overrides={"data_dir": args.data_dir})
