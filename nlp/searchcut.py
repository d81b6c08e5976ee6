"""jieba's search-mode cut for a whole batch of texts, token for token the same as jieba's own.

`nlp.tokenizer.search_tokens` cuts one text with `jieba.Tokenizer.cut_for_search` (HMM on): per block
of Chinese characters, jieba builds the dictionary DAG, picks the most probable route from right to
left (pure Python, the costly part), merges runs of single characters with its HMM and adds the
dictionary 2- and 3-grams of long words. `SearchCut.many` does the same for a batch: the DAG look-ups
and the route of every block of only Chinese characters run at once with numpy, over jieba's own
dictionary and total, in float64 with the same operations in the same order (log(freq) − log(total) +
the rest of the route) and the same tie-break (the longest word), so the route is jieba's. The HMM,
the n-grams and every other block (Chinese mixed with letters, digits or `+#&._%-`, punctuation,
other scripts) go through jieba's own code. Words are found by 64-bit hashes; each word the route
picks is checked against the dictionary, and a text where one is not is cut by jieba instead.
"""
from __future__ import annotations

import functools
import math
import re
from typing import Any, Sequence

import numpy as np

from nlp.hashing import P, HashTable, codes_of, hash_strings

HMM_CACHE = 50_000  # runs of single characters whose HMM cut is kept
_PURE = re.compile("[\u4e00-\u9fd5]+")  # jieba's Chinese characters: a block made only of them is batched


class SearchCut:
    """Batched `cut_for_search` over one `jieba.Tokenizer` (its dictionary must not change afterwards)."""

    def __init__(self, tk: Any) -> None:
        import jieba
        from jieba import finalseg

        self.tk = tk
        self.freq: dict[str, int] = tk.FREQ
        self.re_han, self.re_skip = jieba.re_han_default, jieba.re_skip_default
        # the HMM's cut of a run of single characters depends on the run alone: runs recur (names,
        # slang, set phrases), so each is cut once while it is in this cache
        self.hmm_cut = functools.lru_cache(maxsize=HMM_CACHE)(lambda buf: tuple(finalseg.cut(buf)))
        self.logtotal = math.log(tk.total)
        keys = [w for w in self.freq if _PURE.fullmatch(w)]  # words and prefixes (frequency 0)
        words = [w for w in keys if self.freq[w]]
        where = {w: i for i, w in enumerate(words)}
        # exactly jieba's value of a word: log(freq) - logtotal, computed by Python as jieba does
        self.logp = np.array([math.log(self.freq[w]) - self.logtotal for w in words], dtype=np.float64)
        hashes = hash_strings(keys)
        self.ok = len(np.unique(hashes)) == len(keys) and len(words) < 2**24
        self.table = HashTable(hashes, np.array([where.get(w, -1) for w in keys], dtype=np.float32))
        self.maxlen = max((len(w) for w in keys), default=1)
        # every single character: its look-up must say what the dictionary says
        chars = np.arange(0x4E00, 0x9FD6, dtype=np.int64)
        found, vals = self.table.lookup(chars.astype(np.uint64) + np.uint64(1))
        expect = np.array([chr(c) in self.freq for c in chars.tolist()])
        self.ok = self.ok and bool((found == expect).all())

    # ------------------------------------------------------------------ the batch
    def many(self, texts: Sequence[str]) -> list[list[str]]:
        """`list(tk.cut_for_search(text))` for each text."""
        plans = [self._plan(t) for t in texts]
        blocks = [b for plan in plans for kind, b in plan if kind == "fast"]
        routes = iter(self._routes(blocks) if blocks and self.ok else [None] * len(blocks))
        out = []
        for text, plan in zip(texts, plans):
            words: list[str] | None = []
            for kind, piece in plan:
                if kind == "fast":
                    lens = next(routes)
                    got = self._dag_words(piece, lens) if lens is not None else None
                    if got is None:  # not batched, or a picked word failed the dictionary check
                        words = None
                        continue
                    if words is not None:
                        words.extend(got)
                elif words is not None:
                    words.extend(piece)
            out.append(self._search(words) if words is not None else list(self.tk.cut_for_search(text)))
        return out

    def _plan(self, text: str) -> list[tuple[str, Any]]:
        """jieba.Tokenizer.cut's blocks: ("fast", block) for the batched ones, ("words", [...]) else."""
        plan: list[tuple[str, Any]] = []
        for blk in self.re_han.split(text):
            if not blk:
                continue
            if self.re_han.match(blk):
                if _PURE.fullmatch(blk):
                    plan.append(("fast", blk))
                else:
                    plan.append(("words", list(self.tk.cut(blk))))
            else:
                words = []
                for x in self.re_skip.split(blk):
                    if self.re_skip.match(x):
                        words.append(x)
                    else:
                        words.extend(x)
                plan.append(("words", words))
        return plan

    def _dag_words(self, blk: str, lens: list[int]) -> list[str] | None:
        """jieba's `__cut_DAG` over a route: runs of single characters go through the HMM."""
        freq, out, buf, x = self.freq, [], "", 0
        for n in lens:
            if n == 1:
                buf += blk[x]
            else:
                word = blk[x : x + n]
                if not freq.get(word):  # a hash collision: let jieba cut this text
                    return None
                if buf:
                    self._flush(buf, out)
                    buf = ""
                out.append(word)
            x += n
        if buf:
            self._flush(buf, out)
        return out

    def _flush(self, buf: str, out: list[str]) -> None:
        if len(buf) == 1:
            out.append(buf)
        elif not self.freq.get(buf):
            out.extend(self.hmm_cut(buf))
        else:
            out.extend(buf)

    def _search(self, words: list[str]) -> list[str]:
        """cut_for_search's 2- and 3-grams before each long word."""
        freq, out = self.freq, []
        for w in words:
            if len(w) > 2:
                out.extend(g for g in (w[i : i + 2] for i in range(len(w) - 1)) if freq.get(g))
                if len(w) > 3:
                    out.extend(g for g in (w[i : i + 3] for i in range(len(w) - 2)) if freq.get(g))
            out.append(w)
        return out

    # ------------------------------------------------------------------ the route, vectorised
    def _routes(self, blocks: list[str]) -> list[list[int]]:
        """For each block, the word lengths of jieba's most probable route, left to right."""
        lens = np.fromiter((len(b) for b in blocks), dtype=np.int64, count=len(blocks))
        starts = np.cumsum(lens + 1) - (lens + 1)
        ends = starts + lens
        codes = codes_of("\x00".join(blocks) + "\x00")
        n = len(codes)
        pos = np.flatnonzero(codes != 0)
        end_of = np.repeat(ends, lens)  # the block end of each position in `pos`
        cand = self._candidates(codes, pos, end_of, n)
        route = np.zeros(n + 1, dtype=np.float64)  # 0 at each block's end (the separators)
        best = np.ones(n, dtype=np.int64)
        dist = end_of - 1 - pos  # characters after this one in its block
        order = np.argsort(dist, kind="stable")
        pos_o, dist_o = pos[order], dist[order]
        bounds = np.searchsorted(dist_o, np.arange(int(dist_o[-1]) + 2)).tolist()
        for d in range(len(bounds) - 1):
            rs = pos_o[bounds[d] : bounds[d + 1]]
            span = np.arange(min(self.maxlen, d + 1), 0, -1)  # longest first: ties go to the longest
            vals = cand[rs[:, None], span - 1] + route[rs[:, None] + span]
            k = vals.argmax(axis=1)
            route[rs] = vals[np.arange(len(rs)), k]
            best[rs] = span[k]
        out_pos, out_len = [], []
        cur, stop = starts[lens > 0], ends[lens > 0]
        while len(cur):
            step = best[cur]
            out_pos.append(cur)
            out_len.append(step)
            cur = cur + step
            alive = cur < stop
            cur, stop = cur[alive], stop[alive]
        p = np.concatenate(out_pos)
        order = np.argsort(p, kind="stable")
        p, ln = p[order], np.concatenate(out_len)[order]
        cuts = np.searchsorted(p, starts).tolist() + [len(p)]
        ln_list = ln.tolist()
        return [ln_list[cuts[i] : cuts[i + 1]] for i in range(len(blocks))]

    def _candidates(self, codes: np.ndarray, pos: np.ndarray, end_of: np.ndarray, n: int) -> np.ndarray:
        """cand[p, l - 1]: jieba's value of the word of length l at p (−inf: not in its DAG)."""
        cand = np.full((n, self.maxlen), -np.inf, dtype=np.float64)
        unit = codes.astype(np.uint64) + np.uint64(1)
        active, h, end = pos, unit[pos], end_of
        for ln in range(1, self.maxlen + 1):
            if ln > 1:
                last = active + (ln - 1)
                fits = last < end
                active, h, end, last = active[fits], h[fits], end[fits], last[fits]
                h = h * P + unit[last]
            found, vals = self.table.lookup(h)
            active, h, end, vals = active[found], h[found], end[found], vals[found]
            if not len(active):
                break
            idx = vals.astype(np.int64)
            word = idx >= 0
            cand[active[word], ln - 1] = self.logp[idx[word]]
        none = ~np.isfinite(cand[pos]).any(axis=1)  # no word starts here: the character alone, log(1) - logtotal
        cand[pos[none], 0] = 0.0 - self.logtotal
        return cand
