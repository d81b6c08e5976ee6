"""Every command's help, usage and errors are in Chinese (the guide: every user-facing string)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from core.cli import ChineseArgumentParser, argparse_message_zh

ROOT = Path(__file__).resolve().parents[2]
COMMANDS = [
    ["scheduler.py"],
    ["-m", "nlp.train"], ["-m", "nlp.evaluate"], ["-m", "nlp.bench"],
    ["-m", "rules.check"], ["-m", "rules.backtest"],
    ["-m", "collectors.backfill"], ["-m", "collectors.demo_data.generate"],
    ["-m", "store.migrate"], ["-m", "dashboard.users"], ["-m", "dashboard.apitokens"], ["-m", "dashboard.report"], ["-m", "dashboard.export"], ["-m", "dashboard.bench"],
    ["-m", "rules.eval.stream"], ["-m", "core.bench"], ["-m", "store.bench"], ["-m", "store.backup"], ["-m", "store.restore"], ["-m", "store.erase"],
]
ENGLISH = ("usage:", "options:", "positional arguments", "show this help", "optional arguments")


def run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: c[-1])
def test_help_and_errors_are_chinese(command):
    helped = run([*command, "--help"])
    assert helped.returncode == 0, helped.stderr
    assert helped.stdout.startswith("用法：") and "显示本帮助并退出" in helped.stdout
    assert not any(word in helped.stdout for word in ENGLISH), helped.stdout
    assert helped.stderr == ""  # no warnings on the way

    wrong = run([*command, "--no-such-option"])
    assert wrong.returncode == 2
    assert wrong.stderr.startswith("用法：") and "\n错误：" in wrong.stderr, wrong.stderr  # required ones may come first


def test_parents_share_the_options_heading_and_subcommands_are_chinese(capsys):
    common = ChineseArgumentParser(add_help=False)
    common.add_argument("--data-dir")
    parser = ChineseArgumentParser(prog="x", parents=[common])
    sub = parser.add_subparsers(dest="cmd", required=True)
    sub.add_parser("add", parents=[common], help="新增")
    text = parser.format_help()
    assert text.count("选项") == 1 and "--data-dir" in text.split("选项", 1)[1]
    with pytest.raises(SystemExit) as exit_:
        parser.parse_args(["add", "--help"])
    assert exit_.value.code == 0 and "显示本帮助并退出" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        parser.parse_args([])
    assert "错误：缺少必需的参数：cmd" in capsys.readouterr().err


@pytest.mark.parametrize("english, chinese", [
    ("the following arguments are required: NAME, --role", "缺少必需的参数：NAME, --role"),
    ("argument --level: invalid choice: 'x' (choose from 'a', 'b')", "参数 --level 的取值 'x' 无效，可选：'a', 'b'"),
    ("argument --port: invalid int value: 'abc'", "参数 --port 的取值 'abc' 无效"),
    ("argument --name: expected one argument", '参数 --name 需要一个值（空值请写 ""）'),
    ("something argparse says one day", "something argparse says one day"),
])
def test_argparse_messages_in_chinese(english, chinese):
    assert argparse_message_zh(english) == chinese
