"""Per-post keywords (TF-IDF over the post's tokens with jieba's IDF table), the coarse topic, and
hot topics over a window of analyses for the dashboard."""
from __future__ import annotations

import os
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np

from core.domain import Analysis, Sentiment
from nlp.hashing import HashTable, hash_strings
from nlp.lexicon import STOPWORDS



def jieba_idf_path() -> Path:
    import jieba

    return Path(os.path.dirname(jieba.__file__)) / "analyse" / "idf.txt"


class KeywordExtractor:
    """IDF weights for TF-IDF keywords (jieba's table, like jieba.analyse.extract_tags) looked up by
    token hash for a whole batch; the selection itself is `components.top_per_doc`."""

    version = "keywords.v1"

    def __init__(self, idf: dict[str, float], extra_stopwords: Iterable[str] = ()) -> None:
        self.idf = idf
        vals = sorted(idf.values())
        self.median = vals[len(vals) // 2] if vals else 10.0
        self.stop = STOPWORDS | frozenset(extra_stopwords)
        words = list(idf) + sorted(self.stop)
        vals = np.array([idf[w] for w in idf] + [0.0] * len(self.stop), dtype=np.float32)
        self._table = HashTable(hash_strings(words), vals)

    def idf_of(self, hashes: np.ndarray) -> np.ndarray:
        """IDF for token hashes (`nlp.hashing`); stop words 0, unknown words the median IDF."""
        found, vals = self._table.lookup(hashes)
        return np.where(found, vals, np.float32(self.median)).astype(np.float32)

    @classmethod
    def from_file(cls, path: Path) -> "KeywordExtractor":
        idf: dict[str, float] = {}
        with open(path, encoding="utf-8") as f:
            for line in f:
                parts = line.split()
                if len(parts) == 2:
                    idf[parts[0]] = float(parts[1])
        return cls(idf)


def topic_of(topic_hits: Sequence[str]) -> str | None:
    """The most mentioned topic (first mentioned wins ties), or None."""
    if not topic_hits:
        return None
    if len(topic_hits) == 1:
        return topic_hits[0]
    counts = Counter(topic_hits)
    best = max(counts.values())
    for t in topic_hits:
        if counts[t] == best:
            return t
    return None


@dataclass
class HotTopic:
    """One hot topic in a window: a topic label (or a keyword when no topic applies)."""

    label: str
    posts: int
    negative: int
    keywords: list[str] = field(default_factory=list)
    post_ids: list[int] = field(default_factory=list)

    @property
    def negative_share(self) -> float:
        return self.negative / self.posts if self.posts else 0.0


def hot_topics(pairs: Iterable[tuple[object, Analysis]], limit: int = 10, min_posts: int = 2) -> list[HotTopic]:
    """Group a window of analysed posts by topic (posts without a topic by their first keyword);
    biggest groups first, each with its top keywords. Spam (spam >= 0.5) is left out."""
    groups: dict[str, list[tuple[object, Analysis]]] = defaultdict(list)
    for post, a in pairs:
        if a.spam >= 0.5:
            continue
        label = a.topic or (a.keywords[0] if a.keywords else None)
        if label:
            groups[label].append((post, a))
    out = []
    for label, members in groups.items():
        if len(members) < min_posts:
            continue
        kw = Counter(w for _, a in members for w in a.keywords if w != label)
        ids = [pid for pid in (getattr(p, "id", None) for p, _ in members) if pid is not None]
        out.append(HotTopic(
            label=label,
            posts=len(members),
            negative=sum(1 for _, a in members if a.sentiment == Sentiment.NEG),
            keywords=[w for w, _ in kw.most_common(5)],
            post_ids=ids[:50],
        ))
    out.sort(key=lambda h: (-h.posts, -h.negative, h.label))
    return out[:limit]
