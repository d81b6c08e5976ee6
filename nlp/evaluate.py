"""`python -m nlp.evaluate --task {sentiment,spam,rumour,grievance,abuse} --data FILE.csv --json`

Scores a labelled CSV (`text,label`) with the current models and prints the metrics. Spam, rumour,
grievance (诉求) and abuse labels are 1/0 (precision, recall and f1 are those of class 1; a score >= 0.5
counts as 1). Sentiment
labels are pos/neu/neg (3-class accuracy and macro-F1; precision/recall/f1 are macro averages) or 1/0
for binary sets (polarity > 0 counts as 1). Each text is scored on its own: the recent-window
signals (near-duplicate floods, spread) are off, since rows of a test file are not a live stream.
"""
from __future__ import annotations

import argparse
import csv
import io
import json
import sys
from datetime import datetime, timezone
from pathlib import Path

from core.cli import ChineseArgumentParser
from core.errors import SentinelError
from nlp.metrics import TASKS

KEYS = ("task", "n", "accuracy", "macro_f1", "precision", "recall", "f1")


def read_labelled(path: Path, task: str) -> tuple[list[str], list, bool]:
    """(texts, labels, binary) from a `text,label` CSV; raises SentinelError with the line on errors."""
    try:
        raw = path.read_bytes().decode("utf-8-sig")
    except OSError as e:
        raise SentinelError(f"无法读取 {path}：{e}") from e
    except UnicodeDecodeError:
        raise SentinelError(f"{path} 不是 UTF-8 编码，请另存为 UTF-8 后重试") from None
    reader = csv.DictReader(io.StringIO(raw, newline=""))
    if not reader.fieldnames or "text" not in reader.fieldnames or "label" not in reader.fieldnames:
        raise SentinelError(f"{path}：需要表头 text,label（当前表头：{reader.fieldnames}）")
    texts, labels = [], []
    for i, row in enumerate(reader, start=2):
        lab = (row.get("label") or "").strip().lower()
        text = row.get("text") or ""
        if task == "sentiment":
            if lab not in ("pos", "neu", "neg", "0", "1"):
                raise SentinelError(f"{path} 第 {i} 行：情感标签“{lab}”无效，应为 pos/neu/neg 或 1/0")
        elif lab not in ("0", "1"):
            raise SentinelError(f"{path} 第 {i} 行：标签“{lab}”无效，应为 1 或 0")
        texts.append(text)
        labels.append(lab)
    if not texts:
        raise SentinelError(f"{path} 没有数据行")
    binary = False
    if task == "sentiment":
        kinds = {("num" if lab in ("0", "1") else "word") for lab in labels}
        if len(kinds) > 1:
            raise SentinelError(f"{path}：情感标签不能混用 pos/neu/neg 与 1/0")
        binary = kinds == {"num"}
        if binary:
            labels = ["pos" if lab == "1" else "neg" for lab in labels]
    else:
        labels = [int(lab) for lab in labels]
    return texts, labels, binary


def evaluate(task: str, path: Path, data_dir: Path | None = None, threshold: float = 0.5,
             with_calibration: bool = False) -> dict:
    from core.domain import Post
    from nlp.analyzer import Analyzer
    from nlp.metrics import calibration, score_task

    if with_calibration and task == "sentiment":
        raise SentinelError("--calibration 只适用于打分的任务（spam、rumour、grievance、abuse）；情感是类别，没有单一分数")
    texts, labels, binary = read_labelled(path, task)
    analyzer = Analyzer.load(data_dir, use_window=False)
    epoch = datetime(2000, 1, 1, tzinfo=timezone.utc)
    posts = [Post("evaluate", str(i), f"u{i}", t, epoch) for i, t in enumerate(texts)]
    results = analyzer.pipe(posts, batch_size=2000)
    m = score_task(task, labels, results, binary=binary, threshold=threshold)
    out = {k: m[k] for k in KEYS}
    out["model_version"] = analyzer.model_version
    if with_calibration:
        out["calibration"] = calibration(labels, [float(getattr(a, task)) for a in results])
    return out


def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(prog="python -m nlp.evaluate", description="用带标注的 CSV（text,label）评估当前模型。")
    p.add_argument("--task", required=True, choices=TASKS,
                   help="评估哪一项：sentiment 情感、spam 垃圾广告、rumour 谣言、grievance 诉求、abuse 辱骂攻击")
    p.add_argument("--data", required=True, type=Path, help="CSV 文件，列 text,label")
    p.add_argument("--data-dir", type=Path, help="服务数据目录（使用其中 models/ 下较新的模型）")
    p.add_argument("--threshold", type=float, default=0.5, help="二分类任务判为 1 的分数阈值（默认 0.5）")
    p.add_argument("--calibration", action="store_true",
                   help="另给出分数的校准情况（仅 spam、rumour、grievance、abuse）：Brier 分数、期望校准误差 ECE，"
                        "以及每个分数段（0.0–0.1 … 0.9–1.0）的帖子数、平均分和实际为 1 的比例，用于设定规则阈值")
    p.add_argument("--json", action="store_true", help="输出一个 JSON 对象（加 --calibration 时多一个 calibration 键）")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        out = evaluate(args.task, args.data, args.data_dir, args.threshold, args.calibration)
    except SentinelError as e:
        print(f"错误：{e}", file=sys.stderr)
        return 2
    if args.json:
        keys = KEYS + (("calibration",) if args.calibration else ())
        print(json.dumps({k: out[k] for k in keys}, ensure_ascii=False))
    else:
        print(f"任务 {out['task']}，样本 {out['n']} 条，模型 {out['model_version']}")
        print(f"准确率 {out['accuracy']:.4f}  宏F1 {out['macro_f1']:.4f}  "
              f"精确率 {out['precision']:.4f}  召回率 {out['recall']:.4f}  F1 {out['f1']:.4f}")
        if args.calibration:
            c = out["calibration"]
            print(f"校准：Brier 分数 {c['brier']:.4f}  期望校准误差 ECE {c['ece']:.4f}")
            print("分数段        帖子数  平均分  实际为 1 的比例")
            for b in c["bins"]:
                print(f"{b['lo']:.1f}–{b['hi']:.1f}   {b['n']:>8}  {b['mean_score']:.3f}   {b['positive_rate']:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
