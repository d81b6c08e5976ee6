"""Fast batch word segmentation with jieba's dictionary (plus the union user dictionary).

jieba's accurate mode without HMM picks, for each run of Chinese characters, the segmentation with the
highest product of word probabilities (a max-probability path over the dictionary DAG). `Segmenter`
computes the same path for a whole batch at once with numpy: dictionary look-ups are hashed spans
(`nlp.hashing`), the dynamic programme advances one character offset at a time across all runs in
parallel, and back-tracking is vectorised too. Runs of ASCII letters/digits are one token each, other
non-space characters (punctuation, emoji) are single tokens, whitespace is dropped.

Tokens agree with `jieba.lcut(text, HMM=False)` on Chinese runs except for rare ties.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from nlp.hashing import P, HashTable, SpanHasher, hash_strings, prefix_hashes

USER_MIN_FREQ = 500.0  # user words without a frequency get at least this (domain words win ties)
CHUNK = 128  # longer Chinese runs are cut into chunks (bounds the DP loop; at most 256)
_NEG = -1e30


def jieba_dict_path() -> Path:
    import jieba

    return Path(os.path.dirname(jieba.__file__)) / "dict.txt"


def is_han(codes: np.ndarray) -> np.ndarray:
    return (
        ((codes >= 0x4E00) & (codes <= 0x9FFF))
        | ((codes >= 0x3400) & (codes <= 0x4DBF))
        | ((codes >= 0xF900) & (codes <= 0xFAFF))
    )


def is_alnum(codes: np.ndarray) -> np.ndarray:
    return (
        ((codes >= 48) & (codes <= 57)) | ((codes >= 97) & (codes <= 122)) | ((codes >= 65) & (codes <= 90))
    )


def is_space(codes: np.ndarray) -> np.ndarray:
    return (codes <= 32) | (codes == 0x3000) | (codes == 0xA0)


@dataclass
class Tokens:
    """Token spans of a batch: global [start, end) into the batch string, sorted, with doc index."""

    start: np.ndarray
    end: np.ndarray
    doc: np.ndarray


def read_dictionary(path: Path) -> dict[str, float]:
    """`word freq [tag]` lines (jieba's format); words with no frequency get 0 (= suggest one)."""
    words: dict[str, float] = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            parts = line.split()
            freq = float(parts[1]) if len(parts) > 1 and parts[1].replace(".", "", 1).isdigit() else 0.0
            words[parts[0]] = freq
    return words


class Segmenter:
    """Max-probability segmentation over a frozen dictionary (sorted hash table)."""

    version = "segment.v1"

    def __init__(self, words: dict[str, float]) -> None:
        han_words = {w: f for w, f in words.items() if w and all(_han_char(ch) for ch in w)}
        total = sum(f for f in han_words.values() if f > 0)
        self.logtotal = math.log(total)
        self.unk = -self.logtotal  # jieba: log(1) - log(total) for an unknown single character
        self.words = han_words
        self.maxlen = min(16, max(len(w) for w in han_words))
        wl = [w for w in han_words if len(w) <= self.maxlen]
        ph, _ = prefix_hashes(wl)
        wh = hash_strings(wl)
        freqs = np.array([han_words[w] for w in wl], dtype=np.float64)
        lp = np.where(freqs > 0, np.log(np.maximum(freqs, 1.0)) - self.logtotal, _NEG)
        keys = np.concatenate([wh, ph])
        vals = np.concatenate([lp, np.full(len(ph), _NEG)])
        # one entry per key; a real word wins over "prefix only" for the same hash
        order = np.lexsort((-vals, keys))
        keys, vals = keys[order], vals[order]
        first = np.ones(len(keys), dtype=bool)
        first[1:] = keys[1:] != keys[:-1]
        self._table = HashTable(keys[first], vals[first].astype(np.float32))
        self._single_found, self._single_vals = self._table.single_chars()  # Han is in the BMP

    @classmethod
    def from_files(cls, main_dict: Path, user_dicts: list[Path]) -> "Segmenter":
        words = read_dictionary(main_dict)
        user: dict[str, float] = {}
        for p in user_dicts:
            user.update(read_dictionary(p))
        logtotal = math.log(sum(f for f in words.values() if f > 0))
        for w, f in user.items():
            words[w] = f if f > 0 else max(suggest_freq(words, logtotal, w), USER_MIN_FREQ)
        return cls(words)

    def suggest_freq(self, word: str) -> float:
        """A frequency just high enough that `word` is kept whole (like jieba.suggest_freq)."""
        return suggest_freq(self.words, self.logtotal, word)

    # ------------------------------------------------------------------ batch segmentation
    def segment(self, codes: np.ndarray, hasher: SpanHasher, doc_starts: np.ndarray) -> Tokens:
        han = is_han(codes)
        alnum = is_alnum(codes)
        other = ~(han | alnum | is_space(codes))
        parts_s = [np.nonzero(other)[0]]
        parts_e = [parts_s[0] + 1]
        a_s, a_e = _runs(alnum)
        parts_s.append(a_s)
        parts_e.append(a_e)
        h_s, h_e = self._segment_han(han, hasher, codes)
        parts_s.append(h_s)
        parts_e.append(h_e)
        # tokens never overlap, so each start is unique: put them in text order by position (linear)
        end_at = np.zeros(len(codes) + 1, dtype=np.int64)
        for st, en in zip(parts_s, parts_e):
            end_at[st] = en
        start = np.flatnonzero(end_at)
        end = end_at[start]
        doc = np.searchsorted(doc_starts, start, side="right") - 1
        return Tokens(start, end, doc)

    def _segment_han(self, han: np.ndarray, hasher: SpanHasher, codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        pos = np.nonzero(han)[0]
        if len(pos) == 0:
            return pos, pos
        n = len(pos)
        # chunk id per Han position: a new chunk where the run breaks or every CHUNK characters
        brk = np.ones(n, dtype=bool)
        brk[1:] = pos[1:] != pos[:-1] + 1
        run_first = np.maximum.accumulate(np.where(brk, np.arange(n), 0))
        off_run = np.arange(n) - run_first
        new_chunk = brk | (off_run % CHUNK == 0)
        chunk = np.cumsum(new_chunk) - 1
        chunk_first = np.maximum.accumulate(np.where(new_chunk, np.arange(n), 0))
        off = np.arange(n) - chunk_first  # offset within chunk
        w, longest = self._lookup(pos, chunk, hasher, codes)
        back = self._viterbi(w, off, chunk, longest)
        return self._backtrack(back, pos, chunk, chunk_first)

    def _lookup(self, pos: np.ndarray, chunk: np.ndarray, hasher: SpanHasher,
                codes: np.ndarray) -> tuple[np.ndarray, int]:
        """w[r * maxlen + l - 1]: log-probability of the word of length l starting at Han rank r
        (flat), and the longest word length found in the batch."""
        n = len(pos)
        ml = self.maxlen
        w = np.full(n * ml, _NEG, dtype=np.float32)
        table = self._table
        c = codes.take(pos)  # length 1: a table indexed by the character, no hashing
        found = self._single_found.take(c)
        active = np.flatnonzero(found)
        vals = self._single_vals.take(c.take(active))
        w[active * ml] = vals
        unit = c.astype(np.uint64) + np.uint64(1)  # the hash of each character (as `SpanHasher` gives)
        h = unit.take(active)  # hash of the span starting at each active rank, grown one character a round
        longest = 1
        for ln in range(2, ml + 1):
            endr = active + (ln - 1)
            ok = endr < n
            ok[ok] = chunk.take(endr[ok]) == chunk.take(active[ok])
            active, endr, h = active[ok], endr[ok], h[ok]
            if len(active) == 0:
                break
            h = h * P + unit.take(endr)
            found, vals = table.lookup(h)
            active, vals, h = active[found], vals[found], h[found]
            w[active * ml + (ln - 1)] = vals
            if (vals > _NEG / 2).any():
                longest = ln
        col = w[0::ml]
        w[0::ml] = np.where(col < _NEG / 2, np.float32(self.unk), col)
        return w, longest

    def _viterbi(self, w: np.ndarray, off: np.ndarray, chunk: np.ndarray, longest: int) -> np.ndarray:
        """Back-pointers: the length of the best last word ending at each Han rank.

        Ranks are visited by offset within their chunk (all chunks advance together); for the ranks
        at offset j, `pos` lists them contiguously, so each step works on slices, not gathers."""
        n = len(off)
        ml = self.maxlen
        # slot(before rank r) = r + chunk[r]; slot(after r) = slot + 1 (chunk starts stay 0)
        best = np.zeros(n + int(chunk[-1]) + 2)
        order = np.argsort(off.astype(np.uint8), kind="stable")  # off < CHUNK <= 256: a radix sort
        offs = off[order]
        bounds = np.searchsorted(offs, np.arange(int(offs[-1]) + 2)).tolist()
        slot_o = order + chunk[order]  # the slot before each rank, in visiting order
        wrow_o = order * ml  # where each rank's word scores start in `w`
        back_o = np.ones(n, dtype=np.int64)
        steps = np.arange(bounds[1] - bounds[0] if len(bounds) > 1 else 0)  # offset 0 has the most ranks
        # columns from the longest word down: on ties argmax keeps the longer word
        rev = np.arange(longest)[::-1]
        for j in range(len(bounds) - 1):
            a, b = bounds[j], bounds[j + 1]
            m = min(longest, j + 1)
            r = rev[longest - m :]  # word length - 1, longest first
            # a word of length l + 1 ending at rank e starts at rank e - l: slot(e) - l, w[(e - l) * ml + l]
            vals = best.take(slot_o[a:b, None] - r) + w.take(wrow_o[a:b, None] - r * (ml - 1))
            k = vals.argmax(axis=1)
            best[slot_o[a:b] + 1] = vals.ravel().take(steps[: b - a] * m + k)  # the max (faster than .max)
            back_o[a:b] = m - k
        back = np.empty(n, dtype=np.int64)
        back[order] = back_o
        return back

    @staticmethod
    def _backtrack(
        back: np.ndarray, pos: np.ndarray, chunk: np.ndarray, chunk_first: np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        last = np.nonzero(np.r_[chunk[1:] != chunk[:-1], True])[0]
        cur = last
        floor = chunk_first[last]
        starts = []
        ends = []
        while len(cur):
            ln = back[cur]
            s = cur - ln + 1
            starts.append(s)
            ends.append(cur)
            alive = s > floor
            cur = s[alive] - 1
            floor = floor[alive]
        s_r = np.concatenate(starts)
        e_r = np.concatenate(ends)
        return pos[s_r], pos[e_r] + 1


def suggest_freq(words: dict[str, float], logtotal: float, word: str) -> float:
    """The frequency at which `word` beats its best split into other dictionary words."""
    n = len(word)
    best = [0.0] + [-math.inf] * n
    for k in range(n):
        for i in range(k + 1, n + 1):
            frag = word[k:i]
            if frag == word:
                continue
            f = words.get(frag, 0.0)
            if f > 0 or i == k + 1:
                lp = math.log(f) - logtotal if f > 0 else -logtotal
                best[i] = max(best[i], best[k] + lp)
    return max(math.exp(best[n] + logtotal) + 1.0, words.get(word, 0.0), 1.0)


def _han_char(ch: str) -> bool:
    o = ord(ch)
    return 0x4E00 <= o <= 0x9FFF or 0x3400 <= o <= 0x4DBF or 0xF900 <= o <= 0xFAFF


def _runs(mask: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """[start, end) of each run of True in `mask`."""
    if not mask.any():
        e = np.zeros(0, dtype=np.int64)
        return e, e
    m = np.concatenate([[False], mask, [False]]).astype(np.int8)
    d = np.diff(m)
    return np.nonzero(d == 1)[0], np.nonzero(d == -1)[0]
