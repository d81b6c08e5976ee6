"""`python -m dashboard.bench --posts 1000000 --json`: how fast each dashboard page answers on a large store.

Builds a synthetic store in a temporary directory, or reuses one given with `--data-dir` (built there
once): a year of posts over four channels, with analyses and Zipf-like keywords from jieba's
dictionary, about 3% flagged and mostly decided minutes to hours later, a rumour case every 5,000
posts (often answered) and alerts, all through the store's own methods, so the dashboard's rollups
are filled as ingestion fills them. Then it requests every page as the role that reads it, several times, and prints p50/p95 in milliseconds per
page. Pages are served by the real app through Flask's test client on one thread: the numbers are
the app's and the store's, not the network's. Building a million posts takes several minutes (a
progress bar shows it).
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from core.cli import ChineseArgumentParser

CHANNELS = ("weibo", "wechat", "qq", "board")
TOPICS = ("薪酬待遇", "职称评审", "食堂餐饮", "停车交通", "住房保障", "工会活动", None)
WORDS = ("绩效", "食堂", "停车", "职称", "房补", "工会", "体检", "报销", "课时费", "班车", "宿舍", "评审")
YEAR = "days=custom&from=2000-01-01&to=2100-01-01"  # a custom range: clamped to the last 366 days
PAGES: tuple[tuple[str, str], ...] = (
    ("officer", "/overview"), ("officer", "/overview?days=90"), ("officer", "/overview?days=7&channel=weibo"),
    ("officer", f"/overview?{YEAR}"), ("officer", "/api/sentiment"), ("officer", "/api/sentiment?bucket=day&days=90"),
    ("officer", "/api/overview/trends?days=90"), ("officer", f"/api/overview/trends?{YEAR}"),
    ("officer", "/api/overview/words?days=90"), ("officer", f"/api/overview/words?{YEAR}"),
    ("officer", "/api/overview/words?days=30&channel=qq"), ("officer", "/api/overview/moderation?days=90"),
    ("officer", "/overview/posts?days=90&topic=职称评审"), ("officer", "/overview/posts?days=90&word=绩效"),
    ("officer", "/overview/posts?days=90&channel=qq&sentiment=neg"),
    ("officer", "/overview/posts?days=90&word=没有这个词"),  # looks at its whole window of posts, finds none
    ("officer", "/alerts"), ("officer", "/cases"),
    ("officer", "/leads"), ("officer", "/reports?period=weekly"), ("moderator", "/queue"),
    ("moderator", "/queue?status=removed"), ("moderator", "/queue?rule=rumour_post&channel=qq"),
    ("moderator", "/posts/1"), ("moderator", "/posts/1/author"), ("moderator", "/search?q=绩效"),
    ("moderator", "/search?q=绩效&page=50"), ("moderator", "/rules"),
    ("leader", "/inbox"), ("admin", "/admin/status"), ("anon", "/healthz"), ("anon", "/metrics"),
)
BATCH = 5000
VOCABULARY = 20_000  # keywords drawn from jieba's most frequent words, Zipf-like, as real posts' keywords are


def vocabulary(n: int = VOCABULARY) -> tuple[list[str], list[float]]:
    """jieba's `n` most frequent words of two to four characters and Zipf cumulative weights for them."""
    import os

    import jieba

    words: list[tuple[int, str]] = []
    with open(os.path.join(os.path.dirname(jieba.__file__), "dict.txt"), encoding="utf-8") as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 2 and 2 <= len(parts[0]) <= 4 and parts[0].isalpha():
                words.append((int(parts[1]), parts[0]))
    words.sort(key=lambda fw: (-fw[0], fw[1]))
    cum, total = [], 0.0
    for rank in range(min(n, len(words))):
        total += 1.0 / (rank + 10)
        cum.append(total)
    return [w for _, w in words[:n]], cum


def synthetic_post(rng: random.Random, j: int, at: datetime, vocab: list[str], cum: list[float]) -> tuple[Any, list[str]]:
    """Post number `j` of a synthetic store (two topic words and three Zipf-drawn words) and its keywords."""
    from core.domain import Post

    w1, w2 = rng.choice(WORDS), rng.choice(WORDS)
    extra = rng.choices(vocab, cum_weights=cum, k=3)
    text = f"关于{w1}和{w2}的第{j}条意见：{'、'.join(extra)}，希望学校重视"
    post = Post(channel=rng.choice(CHANNELS), source_id=f"b{j}", author=f"u{rng.randrange(20000)}", text=text,
                created_at=at, thread="教职工群")
    return post, list(dict.fromkeys([w1, w2, *extra]))


def build(data_dir: Path, n: int, seed: int, progress: bool) -> None:
    from core.config import load_settings
    from core.domain import (Alert, Analysis, AuditEvent, Case, CaseKind, CaseResponse, Flag, Level, Role,
                             Sentiment, User)
    from dashboard.accounts import hash_password
    from nlp.tokenizer import search_tokens, search_tokens_many
    from store.base import RuleResults
    from store.sqlite import SqliteStore

    settings = load_settings(None, overrides={"data_dir": str(data_dir)})
    if settings.db_path.exists():
        raise SystemExit(f"数据目录 {data_dir} 里已有数据库，但不是本版本基准测试按这些参数建的：请换一个空目录")
    store = SqliteStore(settings.db_path, tokenize=search_tokens, timezone=settings.timezone, tokenize_many=search_tokens_many)
    store.migrate()
    rng = random.Random(seed)
    for role in ("admin", "officer", "moderator", "leader"):
        if store.get_user(role) is None:
            store.add_user(User(username=role, role=Role(role), password_hash=hash_password(f"bench-{role}")))
    end = datetime.now(timezone.utc)
    start = end - timedelta(days=365)
    step = (end - start) / max(n, 1)
    vocab, cum = vocabulary()
    t0 = time.perf_counter()
    for i in range(0, n, BATCH):
        posts, keywords = [], []
        for j in range(i, min(n, i + BATCH)):
            post, kws = synthetic_post(rng, j, start + step * j, vocab, cum)
            posts.append(post)
            keywords.append(kws)
        store.ingest("bench", posts, None)
        saved = {sp.source_id: sp for sp, _ in store.posts_page(posts[0].created_at, None, len(posts))}
        pairs = []
        for p, kws in zip(posts, keywords):
            stored = saved[p.source_id]
            s = rng.random()
            sentiment = Sentiment.NEG if s < 0.35 else Sentiment.POS if s < 0.65 else Sentiment.NEU
            pairs.append((stored, Analysis(normalized=p.text, tokens=p.text.split(), sentiment=sentiment,
                                           polarity=-0.5 if sentiment is Sentiment.NEG else 0.3, spam=rng.random() ** 6,
                                           rumour=rng.random() ** 6, grievance=rng.random() ** 4, keywords=kws,
                                           topic=rng.choice(TOPICS), model_version="bench")))
        store.save_analyses(pairs)  # as the pipeline saves them: the dashboard's rollups follow
        flags = [Flag(post_id=sp.id, rule="rumour_post", reason="基准测试", created_at=sp.created_at)
                 for sp, _ in pairs if rng.random() < 0.03]
        alerts = [Alert(rule="negative_surge", level=rng.choice(list(Level)), title="负面情绪集中（基准）", body="基准",
                        dedupe_key=f"bench-{i}", post_ids=[pairs[0][0].id], created_at=pairs[0][0].created_at)]
        first = pairs[0][0]
        case = Case(kind=CaseKind.RUMOUR, key=f"bench-{i}", title=f"传言（基准 {i}）", created_at=first.created_at,
                    post_ids=[sp.id for sp, _ in pairs[:rng.randrange(2, 40)]])  # type: ignore[misc]
        store.commit_rule_results(RuleResults(flags=flags, alerts=alerts, cases=[case]))
        _moderate(store, rng, flags, end)
        if case.id and rng.random() < 0.6:
            at = case.created_at + timedelta(minutes=rng.expovariate(1 / 180))
            store.add_case_response(CaseResponse(case_id=case.id, username="leader", where="教职工群", text="已澄清（基准）",
                                                 created_at=min(at, end)), AuditEvent("leader", "case.respond"))
        if progress:
            done = min(n, i + BATCH)
            rate = done / max(time.perf_counter() - t0, 1e-9)
            print(f"\r建库 {done}/{n}（{rate:,.0f} 条/秒）", end="", file=sys.stderr, flush=True)
    if progress:
        print("", file=sys.stderr)
    store.close()


def _moderate(store: Any, rng: random.Random, flags: list, end: datetime) -> None:
    """Moderators decide most flags, minutes to hours after them (about one in ten stays pending)."""
    from core.domain import Action, AuditEvent, Decision, ReasonCode

    for f in flags:
        if rng.random() < 0.1:
            continue
        at = min(f.created_at + timedelta(minutes=rng.expovariate(1 / 90)), end)
        remove = rng.random() < 0.3
        store.decide(Decision(post_id=f.post_id, moderator="moderator", action=Action.REMOVE if remove else Action.APPROVE,
                              reason_code=ReasonCode.SPAM if remove else ReasonCode.OK, created_at=at),
                     AuditEvent("moderator", "decision.remove" if remove else "decision.approve", f"post:{f.post_id}"))


def _login(client: Any, role: str) -> None:
    import re

    page = client.get("/login").get_data(as_text=True)
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)  # type: ignore[union-attr]
    resp = client.post("/login", data={"username": role, "password": f"bench-{role}", "csrf_token": token})
    if resp.status_code != 302:
        raise SystemExit(f"基准测试账号 {role} 登录失败（{resp.status_code}）")


def run_pages(data_dir: Path, repeat: int, progress: bool) -> dict[str, dict[str, float]]:
    from core.config import load_settings
    from dashboard import create_app
    from nlp.tokenizer import search_tokens, search_tokens_many
    from store.sqlite import SqliteStore

    settings = load_settings(None, overrides={"data_dir": str(data_dir)})
    store = SqliteStore(settings.db_path, tokenize=search_tokens, timezone=settings.timezone, tokenize_many=search_tokens_many)
    store.migrate()  # a kept store may have been built by an older version
    app = create_app(store, settings, status=lambda: {"model_version": "bench", "last_run": {}}, secret_key="b" * 40)
    clients: dict[str, Any] = {}
    out: dict[str, dict[str, float]] = {}
    try:
        for role, path in PAGES:
            if role not in clients:
                clients[role] = app.test_client()
                if role != "anon":
                    _login(clients[role], role)
            c = clients[role]
            c.get(path)  # warm
            times = []
            for _ in range(repeat):
                t = time.perf_counter()
                resp = c.get(path)
                times.append((time.perf_counter() - t) * 1000)
                if resp.status_code >= 400:
                    raise SystemExit(f"{path} 返回 {resp.status_code}")
            times.sort()
            out[path] = {"p50_ms": round(statistics.median(times), 1),
                         "p95_ms": round(times[min(len(times) - 1, int(round(0.95 * (len(times) - 1))))], 1)}
            if progress:
                print(f"{path:<28} p50 {out[path]['p50_ms']:8.1f} ms   p95 {out[path]['p95_ms']:8.1f} ms", file=sys.stderr)
    finally:
        store.close()
    return out


def parser() -> argparse.ArgumentParser:
    p = ChineseArgumentParser(prog="python -m dashboard.bench", description="看板各页面在大数据量下的响应时间（p50/p95，毫秒）。")
    p.add_argument("--posts", type=int, default=100000, help="合成帖子数（默认 100000；验收用 1000000）")
    p.add_argument("--data-dir", type=Path, help="在此目录建库并保留（已有同规模的库则直接复用）；默认用临时目录")
    p.add_argument("--repeat", type=int, default=20, help="每个页面请求次数（默认 20）")
    p.add_argument("--seed", type=int, default=7, help="随机种子（默认 7）")
    p.add_argument("--json", action="store_true", help="输出一个 JSON 对象")
    p.add_argument("--quiet", action="store_true", help="不在标准错误上显示进度")
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    tmp = None
    data_dir = args.data_dir
    if data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="sentinel-bench-")
        data_dir = Path(tmp.name)
    marker = data_dir / f".bench-v2-{args.posts}-{args.seed}"  # v2: keywords, decisions, cases
    try:
        if not marker.exists():
            build(data_dir, args.posts, args.seed, not args.quiet)
            marker.touch()
        pages = run_pages(data_dir, args.repeat, not args.quiet)
    finally:
        if tmp is not None:
            tmp.cleanup()
    result = {"posts": args.posts, "repeat": args.repeat, "pages": pages,
              "worst_p95_ms": max(v["p95_ms"] for v in pages.values())}
    print(json.dumps(result, ensure_ascii=False) if args.json else
          f"{args.posts} 条帖子：最慢页面 p95 {result['worst_p95_ms']} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
