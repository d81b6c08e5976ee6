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


def hash_codes(codes: np.ndarray) -> np.ndarray:
    """Hash of each one-character string with these code points (as `SpanHasher` gives)."""
    return codes.astype(np.uint64) + np.uint64(1)


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
    queried for whole arrays of keys at once: a few gathers instead of a binary search each.

    The home slot is the top bits of key * a 64-bit odd constant (Fibonacci hashing: two array
    operations); empty slots hold a key value that is not in the table. Most queries settle in the
    first round; the few still probing after `ROUNDS` rounds (long probe chains) are answered by a
    binary search in a sorted copy of the keys, so a query costs a fixed number of array passes. Both
    give the same answer: the sorted copy holds, per key, the value that probing finds."""

    ROUNDS = 5

    def __init__(self, keys: np.ndarray, vals: np.ndarray, load: float = 0.5) -> None:
        bits = max(4, int(np.ceil(np.log2(max(len(keys), 1) / load))))
        size = 1 << bits
        self.mask = size - 1
        self._shift = np.uint64(64 - bits)
        keys = np.asarray(keys, dtype=np.uint64)
        self.empty = np.uint64(0)  # the marker of an empty slot: a value that is not a key
        while (keys == self.empty).any():
            self.empty += np.uint64(1)
        self.keys = np.full(size, self.empty, dtype=np.uint64)
        self.vals = np.zeros(size, dtype=np.float32)
        used = np.zeros(size, dtype=bool)
        slot = self._home(keys)
        pending = np.arange(len(keys))
        while len(pending):
            s = slot[pending]
            free = ~used[s]
            cand, cs = pending[free], s[free]
            uniq, first = np.unique(cs, return_index=True)
            win = cand[first]
            used[uniq] = True
            self.keys[uniq] = keys[win]
            self.vals[uniq] = vals[win]
            placed = np.zeros(len(keys), dtype=bool)
            placed[win] = True
            pending = pending[~placed[pending]]
            slot[pending] = (slot[pending] + 1) & self.mask
        self._sorted_keys = np.unique(self.keys[used])
        self._sorted_vals = self._probe(self._sorted_keys, rounds=None)[1]

    def _home(self, h: np.ndarray) -> np.ndarray:
        return ((h * _MIX) >> self._shift).view(np.int64)

    def lookup(self, h: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(found mask, values) for each key in `h` (values are 0 where not found)."""
        return self._probe(h, self.ROUNDS)

    def _probe(self, h: np.ndarray, rounds: int | None) -> tuple[np.ndarray, np.ndarray]:
        keys, tvals, mask, empty = self.keys, self.vals, self.mask, self.empty
        idx = self._home(h)
        k = keys.take(idx)
        found = k == h
        vals = np.where(found, tvals.take(idx), np.float32(0.0))
        active = np.flatnonzero(~found & (k != empty))
        if (h == empty).any():  # such a query "matched" an empty slot: it is in no table
            miss = h == empty
            found[miss] = False
            vals[miss] = 0.0
            active = active[h.take(active) != empty]
        ia = (idx.take(active) + 1) & mask
        done = 1
        while len(active):
            if rounds is not None and done >= rounds:
                self._search(h, active, found, vals)
                break
            k = keys.take(ia)
            q = h.take(active)
            hit = k == q
            ha = active[hit]
            found[ha] = True
            vals[ha] = tvals.take(ia[hit])
            cont = ~hit & (k != empty)
            active = active[cont]
            ia = (ia[cont] + 1) & mask
            done += 1
        return found, vals

    def single_chars(self, limit: int = 0x10000) -> tuple[np.ndarray, np.ndarray]:
        """`lookup` of every one-character string below code point `limit`, as two arrays indexed
        by code point (found, value): the first round of a dictionary scan without hashing."""
        return self.lookup(hash_codes(np.arange(limit, dtype=np.int64)))

    def _search(self, h: np.ndarray, active: np.ndarray, found: np.ndarray, vals: np.ndarray) -> None:
        """Binary search for the keys `h[active]` still probing."""
        sk = self._sorted_keys
        if not len(sk):
            return
        q = h.take(active)
        pos = np.minimum(np.searchsorted(sk, q), len(sk) - 1)
        hit = sk.take(pos) == q
        found[active[hit]] = True
        vals[active[hit]] = self._sorted_vals.take(pos[hit])
