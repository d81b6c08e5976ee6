"""`python -m nlp.bench [--n 20000] --json`: full analysis throughput on one core vs the naive pipeline.

Texts are realistic comments drawn (fixed seed) from the union seed set and, when the public corpora
are present, Weibo posts, SMS and food-delivery reviews, in equal parts. The full analysis
(normalise, tokenise, sentiment, spam, rumour, keywords, PII, near-duplicates, reasons) runs through
`Analyzer.pipe` in batches; the naive baseline runs `jieba.lcut` + `SnowNLP(text).sentiments` one
comment at a time on the same texts (or a random subset of them with `--baseline-n`), in the same run.
The process is pinned to one CPU and BLAS/OpenMP pools are limited to one thread.
"""
from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_v] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import random  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from datetime import datetime, timedelta, timezone  # noqa: E402
from pathlib import Path  # noqa: E402

from core.cli import ChineseArgumentParser
from nlp import data as D  # noqa: E402

POOLS = (
    ("union", ("seed:union_sentiment.csv", "seed:union_spam.csv", "seed:union_rumour.csv")),
    ("weibo", ("corpus:sentiment/weibo2018_train.csv", "corpus:rumour/ma2016_weibo.csv")),
    ("sms", ("corpus:spam/mudou_sms_train.csv",)),
    ("reviews", ("corpus:sentiment/waimai_10k.csv",)),
)


def pin_one_core() -> str:
    try:
        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[0]})
        return f"cpu{cpus[0]}"
    except (AttributeError, OSError):
        return "unpinned"


def load_texts(n: int, corpus_dir: Path, seed: int) -> tuple[list[str], dict[str, int]]:
    import csv
    import io

    pools: dict[str, list[str]] = {}
    for name, files in POOLS:
        texts: list[str] = []
        for f in files:
            kind, _, rel = f.partition(":")
            path = (D.SEED_DIR if kind == "seed" else corpus_dir) / rel
            if path.exists():
                reader = csv.DictReader(io.StringIO(path.read_text(encoding="utf-8-sig"), newline=""))
                texts.extend(r["text"] for r in reader if r.get("text"))
        if texts:
            pools[name] = sorted(set(texts))
    if not pools:
        raise SystemExit("找不到基准测试文本：nlp/seed/ 下的种子集缺失")
    rng = random.Random(seed)
    per = -(-n // len(pools))
    out: list[str] = []
    for name in sorted(pools):
        pool = pools[name]
        pick = rng.sample(pool, per) if per <= len(pool) else [rng.choice(pool) for _ in range(per)]
        out.extend(pick)
    rng.shuffle(out)
    return out[:n], {k: len(v) for k, v in pools.items()}


def run_full(texts: list[str], batch_size: int) -> tuple[float, str]:
    from core.domain import Post
    from nlp.analyzer import Analyzer

    an = Analyzer.load()
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    posts = [Post("bench", str(i), f"u{i % 997}", t, start + timedelta(seconds=i)) for i, t in enumerate(texts)]
    an.pipe(posts[: min(len(posts), 200)])  # warm-up: first-use costs (allocations) out of the timing
    an = Analyzer.load()  # fresh window for the timed run
    dt, done = 0.0, 0
    for i in range(0, len(posts), 5000):
        chunk = posts[i : i + 5000]
        t0 = time.perf_counter()
        res = an.pipe(chunk, batch_size=batch_size)
        dt += time.perf_counter() - t0
        done += len(res)
        _progress("完整分析", done, len(posts))
    assert done == len(posts)
    return len(posts) / dt, an.model_version


def run_baseline(texts: list[str]) -> float:
    import logging

    import jieba
    from snownlp import SnowNLP

    jieba.setLogLevel(logging.WARNING)
    jieba.initialize()
    _ = SnowNLP("预热").sentiments  # loads its model outside the timing
    dt = 0.0
    for i in range(0, len(texts), 500):
        t0 = time.perf_counter()
        for t in texts[i : i + 500]:
            jieba.lcut(t)
            _ = SnowNLP(t).sentiments
        dt += time.perf_counter() - t0
        _progress("朴素流程", min(i + 500, len(texts)), len(texts))
    return len(texts) / dt


def _progress(what: str, done: int, total: int) -> None:
    end = "\n" if done >= total else ""
    print(f"\r[基准] {what} {done}/{total}", end=end, file=sys.stderr, flush=True)


def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(prog="python -m nlp.bench",
                                description="单核吞吐量基准：完整分析 vs 朴素流程（jieba + SnowNLP 逐条）。")
    p.add_argument("--n", type=int, default=20000, help="文本条数（默认 20000）")
    p.add_argument("--baseline-n", type=int, default=0,
                   help="朴素流程计时所用的条数（默认 0 = 全部同一批文本；朴素流程约 200 条/秒，"
                        "20000 条约需 2 分钟；给正数则用其随机子集，更快）")
    p.add_argument("--batch-size", type=int, default=1000, help="Analyzer.pipe 的批大小（默认 1000）")
    p.add_argument("--corpus-dir", type=Path, default=D.DEFAULT_CORPUS_DIR, help="公开语料目录（可缺省）")
    p.add_argument("--seed", type=int, default=7, help="抽样随机种子（默认 7）")
    p.add_argument("--json", action="store_true", help="输出一个 JSON 对象")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    cpu = pin_one_core()
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
    except ImportError:
        pass
    texts, pools = load_texts(args.n, Path(args.corpus_dir), args.seed)
    print(f"[基准] {len(texts)} 条文本（来源：{pools}），平均 {sum(map(len, texts)) / len(texts):.0f} 字，{cpu}",
          file=sys.stderr)
    full, version = run_full(texts, args.batch_size)
    print(f"[基准] 完整分析：{full:.0f} 条/秒（模型 {version}）", file=sys.stderr)
    k = len(texts) if args.baseline_n <= 0 else min(args.baseline_n, len(texts))
    sub = random.Random(args.seed + 1).sample(texts, k)
    base = run_baseline(sub)
    print(f"[基准] 朴素流程：{base:.1f} 条/秒（{k} 条）", file=sys.stderr)
    out = {"docs_per_s": round(full, 1), "baseline_docs_per_s": round(base, 2), "speedup": round(full / base, 1)}
    if args.json:
        print(json.dumps(out))
    else:
        print(f"完整分析 {out['docs_per_s']} 条/秒，朴素流程 {out['baseline_docs_per_s']} 条/秒，"
              f"加速 {out['speedup']} 倍")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
