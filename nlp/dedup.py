"""Near-duplicate clusters over a recent window (spam floods, one claim spreading across channels).

Signatures are MinHash over character 3-grams of the normalised text with punctuation and spaces
removed, computed for the whole batch with numpy. Locality-sensitive hashing (8 bands x 4 rows,
Jaccard ~0.5) finds a candidate cluster; the estimate against the cluster's first member decides.
Each cluster keeps its members inside the window (by post time), so the size, the number of distinct
authors and channels are those of the last `window_hours`.

Cluster keys are stable: ``dup-`` + a hash of the first member's signature; after a restart `warm` reuses
the keys stored in earlier analyses.
"""
from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Sequence

import numpy as np

from nlp.hashing import P, mix
from nlp.segment import is_alnum, is_han

N_PERM = 32
BANDS = 8
ROWS = N_PERM // BANDS
MIN_CHARS = 8  # shorter texts (好的, 支持) are not clustered
_rng = np.random.default_rng(20240601)
_A = (_rng.integers(1, 2**63, N_PERM, dtype=np.uint64) | np.uint64(1)).astype(np.uint64)
_B = _rng.integers(0, 2**63, N_PERM, dtype=np.uint64).astype(np.uint64)
del _rng


def signatures(codes: np.ndarray, doc_of_pos: np.ndarray, n_docs: int) -> tuple[np.ndarray, np.ndarray]:
    """MinHash signatures (n_docs x N_PERM, uint32) and a mask of documents long enough to cluster."""
    keep = np.nonzero(is_han(codes) | is_alnum(codes))[0]
    c = codes[keep].astype(np.uint64)
    d = doc_of_pos[keep]
    counts = np.bincount(d, minlength=n_docs)
    ok_docs = counts >= MIN_CHARS
    sig = np.full((n_docs, N_PERM), np.iinfo(np.uint32).max, dtype=np.uint32)
    if len(c) < 3:
        return sig, ok_docs & False
    same = (d[2:] == d[:-2])
    sh = ((c[:-2] * P + c[1:-1]) * P + c[2:])[same]
    sd = d[2:][same]
    sel = ok_docs[sd]
    sh, sd = mix(sh[sel]), sd[sel]
    if len(sh) == 0:
        return sig, ok_docs & False
    starts = np.nonzero(np.r_[True, sd[1:] != sd[:-1]])[0]
    docs = sd[starts]
    for k in range(N_PERM):
        v = ((sh * _A[k] + _B[k]) >> np.uint64(32)).astype(np.uint32)
        sig[docs, k] = np.minimum.reduceat(v, starts)
    return sig, ok_docs


def band_keys(sig: np.ndarray) -> np.ndarray:
    """One 64-bit key per band per document (n_docs x BANDS)."""
    s = sig.astype(np.uint64).reshape(len(sig), BANDS, ROWS)
    h = np.zeros((len(sig), BANDS), dtype=np.uint64)
    for j in range(ROWS):
        h = h * P + s[:, :, j] + np.uint64(1)
    return mix(h + np.arange(BANDS, dtype=np.uint64))


class WindowMembers:
    """The posts of one group (a near-duplicate cluster, a claim) inside the time window, with counts
    per author and channel; plain containers (this runs once per post)."""

    __slots__ = ("members", "posts", "authors", "channels")

    def __init__(self) -> None:
        self.members: deque = deque()  # (ts, post_key, author, channel), oldest first
        self.posts: set = set()
        self.authors: dict[str, int] = {}
        self.channels: dict[str, int] = {}

    def add(self, ts: float, post_key: tuple, author: str, channel: str) -> bool:
        """False when the post is already a member."""
        if post_key in self.posts:
            return False
        self.members.append((ts, post_key, author, channel))
        self.posts.add(post_key)
        self.authors[author] = self.authors.get(author, 0) + 1
        self.channels[channel] = self.channels.get(channel, 0) + 1
        return True

    def expire(self, cutoff: float) -> None:
        members = self.members
        while members and members[0][0] < cutoff:
            _, pk, a, ch = members.popleft()
            self.posts.discard(pk)
            for counter, k in ((self.authors, a), (self.channels, ch)):
                counter[k] -= 1
                if counter[k] <= 0:
                    del counter[k]


class _Cluster(WindowMembers):
    __slots__ = ("key", "sig")

    def __init__(self, key: str, sig: np.ndarray) -> None:
        super().__init__()
        self.key = key
        self.sig = sig


@dataclass(slots=True)
class ClusterInfo:
    key: str | None
    size: int = 1
    authors: int = 1
    channels: int = 1
    author_posts: int = 1  # posts by this post's author in the cluster
    similarity: float = 1.0

    def extra(self) -> dict:
        return {"cluster": self.key, "cluster_size": self.size, "cluster_authors": self.authors,
                "cluster_channels": self.channels, "cluster_author_posts": self.author_posts}


class NearDupIndex:
    """The recent-window state. Most posts are unique: they stay light-weight singletons until a
    second member arrives. Not thread-safe: one analyzer runs one batch at a time."""

    version = "neardup.v1"

    def __init__(self, window_hours: float = 24.0, threshold: float = 0.5, max_clusters: int = 200_000) -> None:
        self.window = window_hours * 3600.0
        self.threshold = threshold
        self.max_clusters = max_clusters
        self._bands: dict[int, tuple[str, float]] = {}
        self._clusters: OrderedDict[str, _Cluster] = OrderedDict()
        self._singles: OrderedDict[str, tuple] = OrderedDict()  # key -> (sig, ts, post key, author, channel)
        self._latest = float("-inf")

    def __len__(self) -> int:
        return len(self._clusters) + len(self._singles)

    def add_batch(
        self,
        sig: np.ndarray,
        ok: np.ndarray,
        texts: Sequence[str],
        posts: Sequence,
        keys: Sequence[str | None] | None = None,
    ) -> list[ClusterInfo]:
        """Insert documents in order; return each one's cluster as of its insertion."""
        bk = band_keys(sig)
        bands = bk.tolist()
        fresh = np.bitwise_xor.reduce(bk, axis=1).tolist()  # content key for a new cluster
        okl = ok.tolist()
        clusters, singles, band_map = self._clusters, self._singles, self._bands
        seen = band_map.keys()
        latest, window = self._latest, self.window
        out: list[ClusterInfo] = []
        for i, post in enumerate(posts):
            if not okl[i]:
                out.append(ClusterInfo(None))
                continue
            ts = post.created_at.timestamp()
            if ts > latest:
                latest = self._latest = ts
            cutoff = latest - window
            row = bands[i]
            if seen.isdisjoint(row):  # no band seen in the window: a new text (most posts)
                key, sim = None, 0.0
            else:
                key, sim = self._find(sig[i], row, cutoff)
            if key is None:
                key = (keys[i] if keys else None) or f"dup-{fresh[i]:016x}"
                sim = 1.0
                if key not in clusters and key not in singles:  # a new singleton: the common case
                    singles[key] = (sig[i], ts, post.key, post.author, post.channel)
                    band_map.update(dict.fromkeys(row, (key, ts)))
                    out.append(ClusterInfo(key))
                    continue
            cl = clusters.get(key) or self._promote(key)
            clusters.move_to_end(key)
            cl.expire(cutoff)
            cl.add(ts, post.key, post.author, post.channel)
            band_map.update(dict.fromkeys(row, (key, ts)))
            out.append(ClusterInfo(key, len(cl.members), len(cl.authors), len(cl.channels),
                                   cl.authors.get(post.author, 1), round(sim, 3)))
        self._gc()
        return out

    def _promote(self, key: str) -> _Cluster:
        """A singleton gets its second member: make it a full cluster."""
        sig, ts, post_key, author, channel = self._singles.pop(key)
        cl = self._clusters[key] = _Cluster(key, sig)
        cl.add(ts, post_key, author, channel)
        return cl

    def _find(self, sig: np.ndarray, bands: list[int], cutoff: float) -> tuple[str | None, float]:
        tried = None
        for b in bands:
            hit = self._bands.get(b)
            if hit is None or hit[1] < cutoff or hit[0] == tried:
                continue
            tried = hit[0]
            cl = self._clusters.get(tried)
            if cl is not None:
                other = cl.sig
            else:
                single = self._singles.get(tried)
                if single is None:
                    continue
                other = single[0]
            sim = float(np.count_nonzero(other == sig)) / N_PERM
            if sim >= self.threshold:
                return tried, sim
        return None, 0.0

    def _gc(self) -> None:
        cutoff = self._latest - self.window
        singles = self._singles
        while singles:
            key, single = next(iter(singles.items()))
            if single[1] >= cutoff and len(singles) <= self.max_clusters:
                break
            del singles[key]
        while self._clusters:
            key, cl = next(iter(self._clusters.items()))
            cl.expire(cutoff)
            if cl.members and len(self._clusters) <= self.max_clusters:
                break
            del self._clusters[key]
        if len(self._bands) > 8 * BANDS * max(len(self), 1000):
            live = lambda k: k in self._clusters or k in singles  # noqa: E731
            self._bands = {b: v for b, v in self._bands.items() if v[1] >= cutoff and live(v[0])}
