"""Claim-level clusters: posts that make the same claim, however they word it.

A rumour spreads as paraphrases ("绩效工资要砍三成" → "绩效工资统一下调30%" → "绩效打七折"), not as
copies, so near-duplicate clusters (`nlp.dedup`) miss it. Here a rumour-ish post is reduced to its
**claim terms**: content words with cue words (听说, 速转, 千真万确…), stop words and time fillers
removed, synonyms mapped to one form (砍/下调/降/打折 → 降; 取消/不发/停发/没了 → 取消; 绩效工资 → 绩效)
and numbers normalised (三成 = 30% = 百分之三十 = 打七折 as a cut → ``30%``). A post joins the
recent claim whose terms it shares most (IDF-weighted overlap over the smaller side, at least two
shared terms, one of them a subject rather than a verb or a number); otherwise it starts a claim.

Each claim keeps its members inside the window (48 h by default, by post time), so ``claim_size``,
``claim_authors`` and ``claim_channels`` count the last two days.

Claims are bounded, so a case stays one incident:
- **A centroid, not a chain.** A post is compared with the claim's profile: the first post's terms
  plus the terms a good share of its members use (`PROFILE_SHARE`), and it must share a subject with
  the FIRST post. A post that matches only the latest paraphrase, or only what a few members drifted
  to, starts a claim of its own.
- **A lifetime.** A claim takes new posts for `LIFETIME_HOURS` after its first post; the same claim
  told again later, or after every post left the window, is a new claim (a new episode, a new case).

Keys: ``claim-`` + a hash of the first member's terms and time, so an episode keeps its key and a
later episode of the same claim gets a new one; after a restart `Analyzer.warm` re-inserts stored
posts under the keys their analyses carry.
"""
from __future__ import annotations

import hashlib
import math
import re
from collections import Counter, OrderedDict
from itertools import accumulate, chain
from dataclasses import dataclass
from typing import Callable, Iterable, Sequence

from nlp.dedup import WindowMembers
from nlp.lexicon import CUE_GROUPS, STOPWORDS

WINDOW_HOURS = 48.0
THRESHOLD = 0.5  # weighted overlap needed to join a claim
STRONG_THRESHOLD = 0.34  # ... when the shared terms name a subject AND what happens to it (周转房 + 收回)
MIN_SHARED = 2
PROFILE_SHARE = 0.3  # a term joins a claim's profile once this share of its members (and ≥ 2) used it
LIFETIME_HOURS = 72.0  # a claim takes new posts this long after its first one
MIN_TERMS = 2  # a post with fewer claim terms makes no checkable claim
PREDICATE_WEIGHT = 6.0
TOKEN_CACHE = 200_000  # tokens whose claim-term weight is remembered
_UNKNOWN = object()
NUMBER_WEIGHT = 6.0

# synonyms → one form; a tuple gives several terms (降薪 = 降 + 工资)
_SYNONYMS: dict[str, tuple[str, ...]] = {}


def _syn(canon: str | tuple[str, ...], words: str) -> None:
    terms = (canon,) if isinstance(canon, str) else canon
    for w in words.split():
        _SYNONYMS[w] = terms


_syn("降", "砍 砍掉 砍了 下调 下降 降 降低 调低 减少 缩减 削减 缩水 打折 打个折 少发 扣发 扣钱 减半 腰斩 大降 大砍")
_syn(("降", "工资"), "降薪 减薪 降工资 减工资 扣工资")
_syn("取消", "取消 不发 不发了 不再发 不再发放 停发 暂停发放 暂停 没了 没有了 泡汤 作废 叫停 全部取消 一律取消 "
            "要停 就停 全停 也停 停掉 停止发放 说停就停")
_syn("涨", "涨 上涨 涨价 提价 翻倍 暴涨 上调 提高 加收 要交 补缴 追缴")
_syn("收回", "收回 回收 收走 交回 要交回 腾退 腾房 搬走 搬离 清房 收房 不续 不再续")
_syn("裁员", "裁员 裁掉 裁人 下岗 辞退 解聘 末位淘汰 优化掉 不续聘 开除")
_syn(("收回", "裁员"), "清退")  # 清退周转房 / 清退临时工: both readings
_syn("关闭", "关闭 关门 停办 停运 停开 倒闭 撤销 撤掉 拆掉 拆除")
_syn("合并", "合并 并入 撤并 整合")
_syn("外包", "外包 承包 承包给 包给")
_syn("绩效", "绩效 绩效工资 奖励性绩效 绩效奖")
_syn("工资", "工资 薪水 薪资 薪酬 月薪 基本工资")
_syn("年终奖", "年终奖 年终奖金 年终绩效 年底奖金")
_syn("周转房", "周转房 青年公寓 人才公寓 教师公寓")
_syn("课时费", "课时费 课酬 课时津贴")
_syn("公积金", "公积金 住房公积金")
_syn("房补", "房补 住房补贴 住房补助 购房补贴 租房补贴 房贴")
_syn("停车费", "停车费 停车收费")

PREDICATES = frozenset({"降", "取消", "涨", "收回", "裁员", "关闭", "合并", "外包"})

# numbers: 三成 / 30% / 百分之三十 → 30%; 打七折 (a cut) → 30%; 减半 / 一半 → 50%
_CN_NUM = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9,
           "十": 10}
_NUM = "[0-9]+(?:\\.[0-9]+)?|[一二两三四五六七八九十]+"
_NUMBER_RE = re.compile(
    f"(?P<pct>[0-9]+(?:\\.[0-9]+)?)\\s*%|百分之(?P<bai>{_NUM})|(?P<cheng>[0-9一二两三四五六七八九])成"
    f"|打(?P<zhe>[0-9一二三四五六七八九])折|(?P<half>减半|一半|腰斩)")
_NUMBER_HINT = re.compile("[%百成折半斩]")  # every _NUMBER_RE match holds one of these
_NUMBERISH = re.compile(f"^(?:{_NUM})(?:成|折|%|倍)?$|^[0-9a-z]{{1,2}}$")
_TAG_RE = re.compile(r"\[([^\[\]\x00]{1,8})\]")  # [流泪] [doge]: emoticon tags are not claim words
_SYN_RE = re.compile("|".join(sorted(map(re.escape, _SYNONYMS), key=len, reverse=True)))

# generic words that say nothing about WHICH claim: time fillers, people, places of talk, chat words
CLAIM_STOPWORDS = frozenset("""
    下个月 下月 本月 这个月 上个月 月底 月初 年底 年初 明年 今年 去年 年后 过年 下周 本周 下学期 这学期 马上 即将 很快
    开始 起 从 执行 直接 统一 全部 全都 所有 所有人 已经 真的 真 消息 消息来源 内部 说 说是 大家 我们 你们 他们 咱们 老师
    老师们 同事 同事们 学校 学院 单位 领导 工会 校工会 官微 准备 早做 打算 做好 转 转发 回复 知道 据 听 传 在传
    好几个 几个 群 群里 朋友 亲戚 同学 一下 赶紧 赶快 千万 一定 必须 肯定 估计 好像 可能 应该 到底 看来 原来 怎么
    为什么 什么 这次 这回 这个 那个 事情 这事 此事 东西 通知 文件 发文 签 已签 流程 部门 某 某某 人 人事处 财务处
""".split())


def _cue_words() -> frozenset[str]:
    return frozenset(w for g in CUE_GROUPS if g.score == "rumour" for w in g.phrases)


def _cn_int(s: str) -> float | None:
    if not s:
        return None
    if s[0].isdigit():
        try:
            return float(s)
        except ValueError:
            return None
    if s == "十":
        return 10.0
    if "十" in s:  # 三十 / 十五 / 三十五
        a, _, b = s.partition("十")
        return float((_CN_NUM.get(a, 1) if a else 1) * 10 + (_CN_NUM.get(b, 0) if b else 0))
    if len(s) == 1 and s in _CN_NUM:
        return float(_CN_NUM[s])
    return None


def _pct(m: re.Match[str]) -> str | None:
    g = m.lastgroup
    v: float | None
    if g == "pct":
        v = float(m.group("pct"))
    elif g == "bai":
        v = _cn_int(m.group("bai"))
    elif g == "cheng":
        c = _cn_int(m.group("cheng"))
        v = None if c is None else c * 10
    elif g == "zhe":
        z = _cn_int(m.group("zhe"))
        v = None if z is None else (10 - z) * 10
    else:
        v = 50.0
    if v is None or not 0 < v <= 100:
        return None
    return f"{v:g}%"


class TermExtractor:
    """Claim terms of a post with their weights (`idf(word)` for words, fixed for verbs/numbers)."""

    def __init__(self, idf: Callable[[str], float]) -> None:
        self.idf = idf
        self.skip = STOPWORDS | CLAIM_STOPWORDS | _cue_words()
        self._cache: dict[str, float] = {}
        self._tokens: dict[str, float | None] = {}  # token -> weight as a claim term (None: not one)

    def weight(self, term: str) -> float:
        if term in PREDICATES:
            return PREDICATE_WEIGHT
        if term.endswith("%"):
            return NUMBER_WEIGHT
        w = self._cache.get(term)
        if w is None:
            w = float(self.idf(term))
            if len(self._cache) < TOKEN_CACHE:
                self._cache[term] = w
        return w

    def __call__(self, text: str, tokens: Iterable[str]) -> dict[str, float]:
        terms: dict[str, float] = {}
        for m in _SYN_RE.finditer(text):
            for t in _SYNONYMS[m.group(0)]:
                terms[t] = self.weight(t)
        if _NUMBER_HINT.search(text):
            for m in _NUMBER_RE.finditer(text):
                p = _pct(m)
                if p is not None:
                    terms[p] = NUMBER_WEIGHT
                    if m.lastgroup in ("zhe", "half"):  # 打七折 / 减半 say "cut" too
                        terms["降"] = PREDICATE_WEIGHT
        tags: set[str] = set()
        if "[" in text:
            tags = {w for tag in _TAG_RE.findall(text) for w in (tag, tag[:2], tag[-2:])}
        known = self._tokens
        for tok in tokens:
            w = known.get(tok, _UNKNOWN)
            if w is _UNKNOWN:
                w = self._token_weight(tok)
                if len(known) < TOKEN_CACHE:
                    known[tok] = w
            if w is None or (tags and tok in tags):
                continue
            if tok not in terms:
                terms[tok] = w
        return terms

    def _token_weight(self, tok: str) -> float | None:
        """The weight of a token as a claim term, or None when it is none (too short, a stop or cue
        word, a synonym already mapped from the text, a bare number)."""
        if len(tok) < 2 or tok in self.skip or tok in _SYNONYMS or _NUMBERISH.match(tok):
            return None
        return self.weight(tok)


def claim_key(terms: Iterable[str], started: float | None = None) -> str:
    text = "\x1f".join(sorted(terms)) + ("" if started is None else f"\x1e{started:.0f}")
    h = hashlib.blake2b(text.encode("utf-8"), digest_size=8).hexdigest()
    return f"claim-{h}"


@dataclass(slots=True)
class ClaimInfo:
    key: str | None
    size: int = 1
    authors: int = 1
    channels: int = 1
    score: float = 1.0  # overlap with the claim it joined (1.0 for its first post)

    def extra(self) -> dict:
        return {"claim": self.key, "claim_size": self.size, "claim_authors": self.authors,
                "claim_channels": self.channels}


class _Claim(WindowMembers):
    __slots__ = ("key", "seed", "seed_weight", "subjects", "counts", "total", "started")

    def __init__(self, key: str, seed: dict[str, float], started: float) -> None:
        super().__init__()
        self.key = key
        self.seed = seed
        self.seed_weight = sum(seed.values())
        self.subjects = frozenset(t for t in seed if t not in PREDICATES and not t.endswith("%"))
        self.counts: dict[str, int] = {}  # how many members used each term (not decremented on expiry)
        self.total = 0  # members ever added
        self.started = started

    def profile_need(self) -> int:
        """Members that must use a non-seed term before it counts as part of the claim."""
        return max(2, math.ceil(PROFILE_SHARE * self.total))

    def profile_has(self, term: str) -> bool:
        return term in self.seed or self.counts.get(term, 0) >= self.profile_need()

    def add_terms(self, ts: float, post_key: tuple, author: str, channel: str, terms: Iterable[str]) -> None:
        if self.add(ts, post_key, author, channel):
            self.total += 1
            for t in terms:
                self.counts[t] = self.counts.get(t, 0) + 1

    def info(self, score: float) -> ClaimInfo:
        return ClaimInfo(self.key, len(self.members), len(self.authors), len(self.channels), round(score, 3))


class ClaimIndex:
    """Recent claims and an inverted index term → claims. Not thread-safe (the analyzer's lock
    serialises batches)."""

    version = "claims.v1"

    def __init__(self, window_hours: float = WINDOW_HOURS, threshold: float = THRESHOLD,
                 strong_threshold: float = STRONG_THRESHOLD, max_claims: int = 50_000,
                 lifetime_hours: float = LIFETIME_HOURS) -> None:
        self.window = window_hours * 3600.0
        self.lifetime = lifetime_hours * 3600.0
        self.threshold = threshold
        self.strong_threshold = strong_threshold
        self.max_claims = max_claims
        self._claims: OrderedDict[str, _Claim] = OrderedDict()  # least recently touched first
        self._index: dict[str, set[str]] = {}
        self._latest = float("-inf")

    def __len__(self) -> int:
        return len(self._claims)

    def add(self, terms: dict[str, float], post, key: str | None = None, start: bool = True) -> ClaimInfo | None:
        """Insert one post (in time order) with its claim terms; `key` reuses a stored claim key
        (warm-up). Returns the claim as of this post, or None when it joins no claim and may not
        start one (`start=False`: a borderline post can repeat a claim but not found one)."""
        ts = post.created_at.timestamp()
        self._latest = max(self._latest, ts)
        cutoff = self._latest - self.window
        score = 1.0
        claim = None
        if key is None:
            claim, score = self._best(terms, cutoff, ts - self.lifetime)
            if claim is None:
                if not start:
                    return None
                key = claim_key(terms, ts)
                score = 1.0
        if claim is None:
            assert key is not None
            claim = self._claims.get(key)
            if claim is not None:
                claim.expire(cutoff)
            if claim is None or not claim.members:  # a stored key (warm-up) whose claim is not here
                claim = self._new(key, terms, ts)
        claim.add_terms(ts, post.key, post.author, post.channel, terms)
        for t in terms:
            self._index.setdefault(t, set()).add(claim.key)
        self._claims.move_to_end(claim.key)
        info = claim.info(score)
        self._gc(cutoff)
        return info

    def _new(self, key: str, terms: dict[str, float], started: float) -> _Claim:
        old = self._claims.pop(key, None)
        if old is not None:
            self._unindex(old)
        claim = self._claims[key] = _Claim(key, dict(terms), started)
        return claim

    def _best(self, terms: dict[str, float], cutoff: float, born_after: float) -> tuple[_Claim | None, float]:
        """The claim this post repeats best: among claims younger than their lifetime (started after
        `born_after`) with posts in the window, sharing a subject with the claim's first post."""
        index = self._index
        # claims indexed under at least MIN_SHARED of the post's terms (counted in C)
        cands = Counter(chain.from_iterable([index[t] for t in terms if t in index]))
        best, best_score = None, 0.0
        total = sum(terms.values()) or 1.0
        # the n shared terms of a claim weigh at most the n heaviest terms: claims that cannot reach the
        # lower threshold are skipped before their terms are compared
        heaviest = list(accumulate(sorted(terms.values(), reverse=True), initial=0.0))
        need_min = min(self.threshold, self.strong_threshold) * (1.0 - 1e-9)
        claims = self._claims
        for k, n in cands.items():
            if n < MIN_SHARED:
                continue
            claim = claims.get(k)
            if claim is None or claim.started < born_after:
                continue
            if heaviest[min(n, len(heaviest) - 1)] < need_min * min(total, claim.seed_weight or total):
                continue
            claim.expire(cutoff)
            if not claim.members:
                continue
            seed, counts, need_count = claim.seed, claim.counts, claim.profile_need()
            shared = [t for t in terms if t in seed or counts.get(t, 0) >= need_count]  # claim.profile_has
            if len(shared) < MIN_SHARED or claim.subjects.isdisjoint(shared):
                continue
            action = sum(1 for t in shared if t in PREDICATES or t.endswith("%"))
            if action == len(shared):  # "降 30%" alone: not which claim
                continue
            score = min(1.0, sum(terms[t] for t in shared) / min(total, claim.seed_weight or total))
            need = self.strong_threshold if action else self.threshold
            if score >= need and (score > best_score or (score == best_score and best and k < best.key)):
                best, best_score = claim, score
        return best, best_score

    def _unindex(self, claim: _Claim) -> None:
        for t in set(claim.seed) | set(claim.counts):
            keys = self._index.get(t)
            if keys is not None:
                keys.discard(claim.key)
                if not keys:
                    del self._index[t]

    def _gc(self, cutoff: float) -> None:
        claims = self._claims
        while claims:
            key, claim = next(iter(claims.items()))
            claim.expire(cutoff)
            if claim.members and len(claims) <= self.max_claims:
                break
            del claims[key]
            self._unindex(claim)


def terms_for(extract: TermExtractor, texts: Sequence[str], tokens: Sequence[Sequence[str]]) -> list[dict[str, float]]:
    return [extract(t, toks) for t, toks in zip(texts, tokens)]
