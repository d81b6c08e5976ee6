"""The fixed CLI interfaces: `python -m nlp.evaluate ... --json` output shape, and errors in Chinese."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

KEYS = {"task", "n", "accuracy", "macro_f1", "precision", "recall", "f1"}


def write_csv(path: Path, rows: list[tuple[str, str]]) -> Path:
    with open(path, "w", encoding="utf-8", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)
    return path


def run(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nlp.evaluate", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=300)


def test_evaluate_spam_json_shape(tmp_path) -> None:
    data = write_csv(tmp_path / "spam.csv", [
        ("兼职刷单日结，加薇信abc12345，日赚300", "1"),
        ("在家就能做的兼职，每单佣金5到50元，当天结算，威信：xq8826", "1"),
        ("食堂的饭菜越来越难吃了", "0"),
        ("请问今年疗休养什么时候报名？", "0"),
    ])
    p = run("--task", "spam", "--data", str(data), "--json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert set(out) == KEYS
    assert out["task"] == "spam" and out["n"] == 4
    assert all(0.0 <= out[k] <= 1.0 for k in KEYS - {"task", "n"})
    assert out["recall"] == 1.0 and out["precision"] == 1.0


def test_evaluate_sentiment_three_class_and_binary(tmp_path) -> None:
    from nlp.evaluate import evaluate

    three = write_csv(tmp_path / "s3.csv", [("太开心了，谢谢工会", "pos"), ("请问几点开会？", "neu"),
                                              ("拖欠工资，太寒心了", "neg")])
    binary = write_csv(tmp_path / "s2.csv", [("太开心了，谢谢工会", "1"), ("拖欠工资，太寒心了", "0")])
    a = evaluate("sentiment", three)
    b = evaluate("sentiment", binary)
    assert a["n"] == 3 and b["n"] == 2
    assert b["accuracy"] == 1.0  # polarity > 0 counts as positive


def test_evaluate_bad_label_is_a_clear_error(tmp_path) -> None:
    bad = write_csv(tmp_path / "bad.csv", [("好", "pos"), ("坏", "maybe")])
    p = run("--task", "sentiment", "--data", str(bad), "--json")
    assert p.returncode == 2
    assert "第 3 行" in p.stderr and "pos/neu/neg" in p.stderr
    assert p.stdout == ""


def test_help_is_complete() -> None:
    for mod in ("nlp.evaluate", "nlp.train", "nlp.bench"):
        p = subprocess.run([sys.executable, "-m", mod, "--help"], cwd=REPO, capture_output=True, text=True,
                           timeout=120)
        assert p.returncode == 0 and "--json" in p.stdout, mod
