"""`python -m store.bench --backend sqlite --n 200000 --json`: how fast a store backend indexes,
aggregates and searches.

    python -m store.bench --backend sqlite --n 200000 --json
    python -m store.bench --backend opensearch --hosts http://127.0.0.1:9200 --n 200000 --json

Writes `--n` synthetic posts (a year over four channels, Zipf-like words from jieba's dictionary)
through the store contract exactly as the pipeline does: `ingest` then `save_analyses` with the NLP
step's tokens, in batches of `--batch`. The tokens are computed before the clock starts: they are the
NLP step's work, not the store's. Then it times the aggregations the dashboard and reports read
(daily counts, word cloud, sentiment series, topics, a week's report statistics) and full-text searches
for words of every frequency. Prints one JSON object with `--json`:

    {"backend", "n", "index_docs_per_s", "agg_p95_ms", "search_p95_ms", "agg_p50_ms", "search_p50_ms"}

A backend that lacks one of the aggregations (a store contract method raising NotPortedError) times
the others and lists it under "not_implemented"; `agg_p95_ms` is null if it has none.

SQLite runs in a temporary data directory (or `--data-dir`, which must not hold a store yet). A cluster
backend writes under a fresh `--index-prefix` (default `bench-<random>-`) and removes those indices at
the end unless `--keep` is given. Run it on an otherwise idle machine; `taskset -c 0` pins it to one core.
"""
from __future__ import annotations

import argparse
import json
import random
import secrets
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Callable

from core.cli import ChineseArgumentParser
from core.errors import SentinelError

BACKENDS = ("sqlite", "elasticsearch", "opensearch")


def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(
        prog="python -m store.bench",
        description="存储后端基准测试：按流水线的方式写入合成帖子及分析结果，再测看板/报告用到的聚合查询和全文检索的耗时。",
        epilog="示例：python -m store.bench --backend sqlite --n 200000 --json；"
               "python -m store.bench --backend opensearch --hosts http://127.0.0.1:9200 --n 200000 --json",
    )
    p.add_argument("--backend", choices=BACKENDS, default="sqlite", help="存储后端，默认 sqlite")
    p.add_argument("--hosts", default="", help="集群地址，逗号分隔（elasticsearch/opensearch 必填），如 http://127.0.0.1:9200")
    p.add_argument("--n", type=int, default=200_000, help="写入的帖子数，默认 200000")
    p.add_argument("--batch", type=int, default=1000, help="每批写入条数，默认 1000（与服务的 batch_size 相当）")
    p.add_argument("--queries", type=int, default=100, help="每种聚合和检索各重复多少次，默认 100")
    p.add_argument("--data-dir", help="sqlite：在此目录建库（须为空目录）；默认用临时目录，结束后删除")
    p.add_argument("--index-prefix", help="集群：索引名前缀，默认 bench-<随机>-")
    p.add_argument("--keep", action="store_true", help="集群：结束后保留基准测试写入的索引")
    p.add_argument("--seed", type=int, default=7, help="随机种子，默认 7")
    p.add_argument("--json", action="store_true", help="只输出一个 JSON 对象")
    return p


def open_bench_store(args: argparse.Namespace, data_dir: Path) -> Any:
    from core.config import load_settings
    from store import open_store

    block: dict[str, Any] = {"backend": args.backend}
    if args.backend != "sqlite":
        hosts = [h.strip() for h in args.hosts.split(",") if h.strip()]
        if not hosts:
            raise SentinelError(f"--backend {args.backend} 需要 --hosts，例如 --hosts http://127.0.0.1:9200")
        block.update(hosts=hosts, index_prefix=args.index_prefix or f"bench-{secrets.token_hex(3)}-")
    elif (data_dir / "sentinel.db").exists():
        raise SentinelError(f"数据目录 {data_dir} 里已有数据库：基准测试需要一个空目录（或去掉 --data-dir 用临时目录）")
    settings = load_settings(None, overrides={"data_dir": str(data_dir), "store": block})
    from nlp.tokenizer import search_tokens

    return open_store(settings, tokenize=search_tokens)


def synthetic(n: int, batch: int, seed: int, end: datetime) -> Any:
    """Batches of (posts, analyses), a year up to `end`; tokens from jieba, as the NLP step gives them."""
    import jieba

    from core.domain import Analysis, Sentiment
    from dashboard.bench import TOPICS, synthetic_post, vocabulary

    rng = random.Random(seed)
    vocab, cum = vocabulary()
    start = end - timedelta(days=365)
    step = (end - start) / max(n, 1)
    for i in range(0, n, batch):
        posts, analyses = [], []
        for j in range(i, min(n, i + batch)):
            post, keywords = synthetic_post(rng, j, start + step * j, vocab, cum)
            posts.append(post)
            s = rng.random()
            sentiment = Sentiment.NEG if s < 0.35 else Sentiment.POS if s < 0.65 else Sentiment.NEU
            analyses.append(Analysis(normalized=post.text, tokens=jieba.lcut(post.text), sentiment=sentiment,
                                     polarity=-0.5 if sentiment is Sentiment.NEG else 0.3, spam=rng.random() ** 6,
                                     rumour=rng.random() ** 6, grievance=rng.random() ** 4, keywords=keywords,
                                     topic=rng.choice(TOPICS), model_version="bench"))
        yield posts, analyses


def index(store: Any, args: argparse.Namespace, end: datetime, progress: bool) -> float:
    """Write every batch; returns docs per second of store time (ingest + save_analyses)."""
    spent, done = 0.0, 0
    for posts, analyses in synthetic(args.n, args.batch, args.seed, end):
        t0 = time.perf_counter()
        store.ingest("bench", posts, None)
        stored = store.posts_to_analyze(len(posts) * 2)
        by_key = {(p.channel, p.source_id): p for p in stored}
        store.save_analyses([(by_key[(p.channel, p.source_id)], a) for p, a in zip(posts, analyses)])
        spent += time.perf_counter() - t0
        done += len(posts)
        if progress:
            print(f"\r写入 {done}/{args.n}（{done / max(spent, 1e-9):,.0f} 条/秒）", end="", file=sys.stderr, flush=True)
    if progress:
        print("", file=sys.stderr)
    return done / max(spent, 1e-9)


def timed(calls: list[Callable[[], Any]], repeat: int, rng: random.Random) -> list[float]:
    """Milliseconds of `repeat` calls drawn from `calls` (each at least once, one warm-up each first)."""
    for call in calls:
        call()
    order = (calls * (repeat // len(calls) + 1))[:max(repeat, len(calls))]
    rng.shuffle(order)
    out = []
    for call in order:
        t0 = time.perf_counter()
        call()
        out.append((time.perf_counter() - t0) * 1000)
    return out


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20, method="inclusive")[18] if len(values) > 1 else values[0]


def measure(store: Any, args: argparse.Namespace, end: datetime) -> dict[str, Any]:
    from dashboard.bench import vocabulary

    rng = random.Random(args.seed + 1)
    last = end.date()
    aggs: list[Callable[[], Any]] = [
        lambda: store.daily_counts(last - timedelta(days=29), last),
        lambda: store.daily_counts(last - timedelta(days=364), last, channel="qq"),
        lambda: store.top_words(last - timedelta(days=29), last),
        lambda: store.sentiment_series(end - timedelta(days=90), end, bucket="day"),
        lambda: store.topic_counts(end - timedelta(days=30)),
        lambda: store.period_stats(end - timedelta(days=7), end),
        lambda: store.channel_counts(),
    ]
    vocab, cum = vocabulary()
    words = rng.choices(vocab, cum_weights=cum, k=max(20, args.queries // 5))
    searches: list[Callable[[], Any]] = [lambda w=w: store.search(w, limit=50) for w in words]
    aggs, missing = implemented(aggs)
    out: dict[str, Any] = {"agg_p95_ms": None, "agg_p50_ms": None}
    if aggs:
        agg_ms = timed(aggs, args.queries, rng)
        out.update(agg_p95_ms=round(p95(agg_ms), 2), agg_p50_ms=round(statistics.median(agg_ms), 2))
    search_ms = timed(searches, args.queries, rng)
    out.update(search_p95_ms=round(p95(search_ms), 2), search_p50_ms=round(statistics.median(search_ms), 2))
    if missing:
        out["not_implemented"] = missing  # the backend lacks these: they were not timed
    return out


def implemented(calls: list[Callable[[], Any]]) -> tuple[list[Callable[[], Any]], list[str]]:
    """The calls the backend implements, and the store methods it does not yet (store/search)."""
    from store.search import NotPortedError

    ok, missing = [], []
    for call in calls:
        try:
            call()
        except NotPortedError as exc:
            missing.append(exc.method)
        else:
            ok.append(call)
    return ok, sorted(set(missing))


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    if args.n < 1 or args.batch < 1 or args.queries < 1:
        print("错误：--n、--batch、--queries 都须为正整数", file=sys.stderr)
        return 2
    tmp = None
    if args.data_dir:
        data_dir = Path(args.data_dir)
    else:
        tmp = tempfile.TemporaryDirectory(prefix="store-bench-")
        data_dir = Path(tmp.name)
    end = datetime.now(timezone.utc).replace(microsecond=0)
    store = None
    try:
        store = open_bench_store(args, data_dir)
        rate = index(store, args, end, progress=not args.json)
        result = {"backend": args.backend, "n": args.n, "index_docs_per_s": round(rate, 1), **measure(store, args, end)}
    except SentinelError as exc:
        print(f"错误：{exc}", file=sys.stderr)
        return 2
    finally:
        if store is not None:
            if args.backend != "sqlite" and not args.keep:
                store.drop_indices()
            store.close()
        if tmp is not None:
            tmp.cleanup()
    if args.json:
        print(json.dumps(result, ensure_ascii=False))
    else:
        aggs = (f"聚合 p50 {result['agg_p50_ms']} ms / p95 {result['agg_p95_ms']} ms" if result["agg_p95_ms"] is not None
                else "聚合：该后端尚未实现，未测")
        print(f"后端 {result['backend']}，{result['n']:,} 条：写入 {result['index_docs_per_s']:,.0f} 条/秒；{aggs}；"
              f"检索 p50 {result['search_p50_ms']} ms / p95 {result['search_p95_ms']} ms")
        if result.get("not_implemented"):
            print(f"（该后端未实现，未计时：{'、'.join(result['not_implemented'])}）")
    return 0


if __name__ == "__main__":
    sys.exit(main())
