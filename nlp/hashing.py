"""Vectorised string hashing over a whole batch.

A batch is one string: the normalised texts joined by NUL. `SpanHasher` hashes any span of it in O(1)
with numpy (polynomial hash mod 2**64, prefix sums with the modular inverse), so character n-grams,
tokens and dictionary look-ups for thousands of documents cost a few array operations, not a Python
loop per document. Hash values are stable across processes and machines (no Python `hash()`).
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

P_INT = 0x100000001B3  # FNV-64 prime, odd, so it has an inverse mod 2**64
Q_INT = pow(P_INT, -1, 2**64)
P = np.uint64(P_INT)
Q = np.uint64(Q_INT)
_MIX = np.uint64(0x9E3779B97F4A7C15)
_S1 = np.uint64(31)
_S2 = np.uint64(27)


def codes_of(text: str) -> np.ndarray:
    """Unicode code points of `text` as int64 (no surrogates: the normaliser drops them)."""
    return np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.int64)


class SpanHasher:
    """Hash of text[a:b] for arrays of (a, b); equal to the rolling hash h = h*P + (code+1)."""

    def __init__(self, codes: np.ndarray) -> None:
        n = len(codes)
        c = codes.astype(np.uint64) + np.uint64(1)
        pw = np.empty(n + 1, dtype=np.uint64)
        pw[0] = 1
        pw[1:] = P
        np.cumprod(pw, out=pw)
        qw = np.empty(n + 1, dtype=np.uint64)
        qw[0] = 1
        qw[1:] = Q
        np.cumprod(qw, out=qw)
        g = np.zeros(n + 1, dtype=np.uint64)
        np.cumsum(c * qw[1:], out=g[1:])
        self._pw = pw
        self._g = g

    def __call__(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        return (self._g[b] - self._g[a]) * self._pw[b]


def hash_strings(words: Sequence[str]) -> np.ndarray:
    """Rolling hash of each string (same values as `SpanHasher` gives for the same text)."""
    if not words:
        return np.zeros(0, dtype=np.uint64)
    lens = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    ends = np.cumsum(lens)
    starts = ends - lens
    hasher = SpanHasher(codes_of("".join(words)))
    return hasher(starts, ends)


def prefix_hashes(words: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """Hashes of every prefix of every word, with the prefix length: (hashes, lengths)."""
    lens = np.fromiter((len(w) for w in words), dtype=np.int64, count=len(words))
    ends = np.cumsum(lens)
    starts = ends - lens
    hasher = SpanHasher(codes_of("".join(words)))
    out_h = []
    out_l = []
    for k in range(1, int(lens.max()) + 1 if len(lens) else 1):
        m = lens >= k
        out_h.append(hasher(starts[m], starts[m] + k))
        out_l.append(np.full(int(m.sum()), k, dtype=np.int64))
    return np.concatenate(out_h), np.concatenate(out_l)


def mix(h: np.ndarray, salt: int = 0) -> np.ndarray:
    """A well-spread 64-bit value from a hash (splitmix-style), with a namespace salt."""
    x = h ^ np.uint64(salt & 0xFFFFFFFFFFFFFFFF)
    x = (x ^ (x >> _S1)) * _MIX
    return x ^ (x >> _S2)


def bucket(h: np.ndarray, bits: int, salt: int = 0) -> np.ndarray:
    """Feature index in [0, 2**bits) for hashes `h` in namespace `salt`."""
    return (mix(h, salt) >> np.uint64(64 - bits)).astype(np.int64)


class HashTable:
    """A read-only open-addressing table (linear probing) from uint64 keys to float32 values,
    queried for whole arrays of keys at once: a few gathers instead of a binary search each."""

    def __init__(self, keys: np.ndarray, vals: np.ndarray, load: float = 0.5) -> None:
        size = 1 << max(4, int(np.ceil(np.log2(max(len(keys), 1) / load))))
        self.mask = size - 1
        self.keys = np.zeros(size, dtype=np.uint64)
        self.vals = np.zeros(size, dtype=np.float32)
        self.used = np.zeros(size, dtype=bool)
        slot = (mix(keys) & np.uint64(self.mask)).astype(np.int64)
        pending = np.arange(len(keys))
        while len(pending):
            s = slot[pending]
            free = ~self.used[s]
            cand, cs = pending[free], s[free]
            uniq, first = np.unique(cs, return_index=True)
            win = cand[first]
            self.used[uniq] = True
            self.keys[uniq] = keys[win]
            self.vals[uniq] = vals[win]
            placed = np.zeros(len(keys), dtype=bool)
            placed[win] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self.mask

    def lookup(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, values) for each key in `h` (values are 0 where not found)."""
        n = len(h)
        found = np.zeros(n, dtype=bool)
        vals = np.zeros(n, dtype=np.float32)
        idx = (mix(h) & np.uint64(self.mask)).astype(np.int64)
        active = np.arange(n)
        keys, used, mask = self.keys, self.used, self.mask
        while len(active):
            ia = idx.take(active)
            u = used.take(ia)
            hit = u & (keys.take(ia) == h.take(active))
            ha = active[hit]
            found[ha] = True
            vals[ha] = self.vals.take(ia[hit])
            cont = u & ~hit
            active = active[cont]
            idx[active] = (ia[cont] + 1) & mask
        return found, vals
