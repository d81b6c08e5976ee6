"""The debunk registry matcher (辟谣库): new posts that repeat a clarified claim.

An entry matches a post when enough of the claim's content words appear in it (IDF-weighted), or
enough of the claim's character bigrams do (robust to different word cuts), or one of the entry's
extra keywords appears together with some of the claim. The best-scoring active entry wins.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

from core.domain import Debunk
from nlp.lexicon import STOPWORDS

_CONTENT = re.compile(r"^(?:[\u3400-\u9fff]{2,}|[a-z0-9]{2,}|QQ)$")
_COMPACT = re.compile(r"[^\u3400-\u9fff0-9a-zA-Z]+")


@dataclass
class _Entry:
    debunk: Debunk
    terms: dict[str, float]  # content term -> weight
    total: float
    bigrams: frozenset[str]
    keywords: tuple[str, ...]


@dataclass
class DebunkMatch:
    debunk: Debunk
    score: float
    matched: list[str]


def _bigrams(text: str) -> frozenset[str]:
    s = _COMPACT.sub("", text)
    return frozenset(s[i : i + 2] for i in range(len(s) - 1))


class DebunkMatcher:
    """Built from the registry entries; `match` is cheap when no entry shares a word with the post."""

    version = "debunk.v1"

    def __init__(
        self,
        entries: Sequence[Debunk],
        analyse: Callable[[list[str]], list[tuple[str, list[str]]]],
        idf: Callable[[str], float],
        term_threshold: float = 0.5,
        bigram_threshold: float = 0.6,
    ) -> None:
        """`analyse(texts)` returns (normalised text, tokens) per text, as the pipeline does."""
        self.term_threshold = term_threshold
        self.bigram_threshold = bigram_threshold
        active = [d for d in entries if d.active and d.claim.strip()]
        self._entries: list[_Entry] = []
        self._index: dict[str, list[int]] = {}
        if not active:
            return
        claims = analyse([d.claim for d in active])
        kws = analyse([" ".join(d.keywords) for d in active])
        for d, (norm, toks), (kw_norm, _) in zip(active, claims, kws):
            terms = {t: idf(t) for t in toks if _CONTENT.match(t) and t not in STOPWORDS}
            keywords = tuple(k for k in kw_norm.split() if k)
            entry = _Entry(d, terms, sum(terms.values()) or 1.0, _bigrams(norm), keywords)
            idx = len(self._entries)
            self._entries.append(entry)
            for t in list(terms) + list(keywords):
                self._index.setdefault(t, []).append(idx)
            for bg in list(entry.bigrams)[:64]:
                self._index.setdefault("\x01" + bg, []).append(idx)

    def __bool__(self) -> bool:
        return bool(self._entries)

    def match(self, text: str, tokens: Sequence[str]) -> DebunkMatch | None:
        if not self._entries:
            return None
        index = self._index
        cands: set[int] = set()
        for t in set(tokens):
            hit = index.get(t)
            if hit:
                cands.update(hit)
        if not cands:
            return None
        tokset = set(tokens)
        grams = _bigrams(text)
        best: DebunkMatch | None = None
        for i in cands:
            e = self._entries[i]
            matched = [t for t in e.terms if t in tokset]
            term_score = sum(e.terms[t] for t in matched) / e.total
            bigram_score = len(e.bigrams & grams) / len(e.bigrams) if e.bigrams else 0.0
            kw_hit = [k for k in e.keywords if k in text]
            ok = (
                (term_score >= self.term_threshold and len(matched) >= 2)
                or bigram_score >= self.bigram_threshold
                or (kw_hit and (term_score >= 0.3 or bigram_score >= 0.3))
            )
            if not ok:
                continue
            score = max(term_score, bigram_score)
            if best is None or score > best.score:
                best = DebunkMatch(e.debunk, round(score, 3), (kw_hit + matched)[:4])
        return best
