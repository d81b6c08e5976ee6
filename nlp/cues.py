"""Cue scanning: lexicon phrases, contact details, URLs and simple text statistics, per batch.

Lexicon phrases are found for the whole batch string (NUL-separated documents) with hashed look-ups
(`PhraseMatcher`); contact details, URLs and amounts with one regex whose branches all start with a
literal, so the scan runs in C. Python only touches the matches.
The result is a small dense matrix (one column per feature in `FEATURES`) that the linear models use
next to the hashed n-grams, and per-document hit lists that become reasons.
"""
from __future__ import annotations

import bisect
import re
from typing import Sequence

import numpy as np

from nlp.domains import host_of, is_official, lookalike
from nlp.hashing import P, HashTable, SpanHasher, hash_strings, prefix_hashes
from nlp.lexicon import CUE_GROUPS, EMOTICON_POLARITY, TLDS, TOPICS

# regex cues: code -> (score, label_zh). Their patterns are one alternation whose branches all start
# with a literal character (not a class: one class there makes the scan ~3x slower), so the regex engine
# jumps between candidate positions in C; the branch that matched is told by the first character (see
# `_classify`).
REGEX_CUES: dict[str, tuple[str, str]] = {
    "url": ("spam", "网址链接"),
    "wechat_id": ("spam", "微信号"),
    "qq_id": ("spam", "QQ号"),
    "phone": ("spam", "电话号码"),
    "money": ("spam", "金额/收益"),
    "official_url": ("rumour", "官方网址"),
    "lookalike_url": ("spam", "仿冒官方网址"),
    "doc_number": ("rumour", "文件编号"),
}
_TLD = TLDS
_REGEX = re.compile(
    r"https?://[^\s\x00]+|www\.[^\s\x00]+"  # url
    rf"|\.(?:{_TLD})(?![a-z])"  # url: a domain, its name is found backwards
    r"|微信(?:号)?[:：➡→=\s❤♥]*(?:[a-z][a-z0-9_\-]{5,19}(?![a-z0-9_\-])|1[3-9]\d{9}(?!\d))|wxid_[a-z0-9]+"
    r"|QQ(?:号|群)?[:：]?\s*[1-9]\d{4,10}(?!\d)"
    r"|1[3-9]\d{9}(?!\d)|0\d{2,3}-\d{7,8}(?!\d)|400-?\d{3}-?\d{4}(?!\d)|800-?\d{3}-?\d{4}(?!\d)"  # phone
    r"|元|块|万|日[入赚]\d+|月[入赚]\d+"  # money: the amount before a unit is found backwards
    r"|〔20\d\d〕\d{1,4}号|\[20\d\d[\]】)]\d{1,4}号|【20\d\d[\]】)]\d{1,4}号|\(20\d\d[\]】)]\d{1,4}号"  # 校发〔2026〕12号
    r"|听[^\s,，。!！?？:：;；\x00说听]{1,8}说"  # hearsay: 听财务处的人说, 听隔壁办公室说
)
_OFFICIAL_DOMAIN = re.compile(r"^(?:https?://)?[a-z0-9.\-]*\.(?:edu|gov)\.cn(?![a-z0-9\-])")
_DOMAIN_NAME = re.compile(r"[a-z0-9\-]+$")
_HOST_BEFORE = re.compile(r"[a-z0-9.\-]*$")
_HOST_GOES_ON = re.compile(r"\.[a-z0-9\-]+\.")  # after a TLD: more labels, then another dot
_NEXT_TLD = re.compile(rf"\.(?:{_TLD})(?![a-z0-9\-])")  # "rsc-xxdx.com.cn": .com is not where the host ends


def _url_code(host: str) -> str:
    """official_url (an edu.cn / gov.cn site), lookalike_url (a site dressed as one), or url."""
    if lookalike(host) is not None:
        return "lookalike_url"
    return "official_url" if is_official(host) else "url"

_AMOUNT = re.compile(r"\d+(?:\.\d+)?\s*$")


def _host_start(text: str, s: int) -> int:
    """Where the host name that runs up to position `s` begins (at most 60 characters back)."""
    lo = max(0, s - 60)
    found = _HOST_BEFORE.search(text, lo, s)
    assert found is not None  # the pattern matches the empty string
    return found.start()


def _classify(text: str, m: re.Match[str]) -> tuple[str, int] | None:
    """(code, start) of a `_REGEX` match, or None when the surroundings rule it out."""
    s = m.start()
    c = text[s]
    if c == "h":
        return _url_code(host_of(m.group(0))), s
    if c == "w" and text.startswith("www", s):
        b = _host_start(text, s)  # "cw.xxdx.edu.cn.awww.top": the host may begin before the "www"
        return _url_code(host_of(text[b:s] + m.group(0))), b
    if c == ".":
        if _HOST_GOES_ON.match(text, m.end()) or _NEXT_TLD.match(text, m.end()):
            return None  # "xxdx.edu.cn.kx8.top", "xxdx.com.cn": the host ends at a later dot
        if not _DOMAIN_NAME.search(text, max(0, s - 40), s):
            return None
        b = _host_start(text, s)
        return _url_code(text[b:s] + m.group(0)), b
    if c == "听":
        return "hearsay", s
    if c in "〔[【(":
        return "doc_number", s
    if c == "微" or c == "w":
        return "wechat_id", s
    if c == "Q":
        return "qq_id", s
    if c in "1048":
        return None if s and text[s - 1].isdigit() else ("phone", s)
    if c in "元块万":
        amount = _AMOUNT.search(text, max(0, s - 16), s)
        return ("money", amount.start()) if amount else None
    return "money", s


STAT_FEATURES = ("digit_ratio", "ascii_ratio", "length_log", "evasion_count", "repeat_ratio", "exclaim", "question",
                 "emo_score", "emo_last")
# emo_score: tanh of the summed emoticon polarity (lexicon.EMOTICON_POLARITY); emo_last: the polarity of
# the last polar emoticon (a post often closes on its attitude: "累死了，不过值了[哈哈]")
LEXICON_CODES = tuple(g.code for g in CUE_GROUPS)
# personal data the post gives (ID and card numbers as nlp.pii finds them), log-scaled counts; filled in by
# the `Cues` component, not by the scanner
PII_FEATURE_KINDS = ("id_card", "bank_card")
FEATURES: tuple[str, ...] = (LEXICON_CODES + tuple(REGEX_CUES) + STAT_FEATURES
                             + tuple(f"pii_{k}" for k in PII_FEATURE_KINDS))

CUE_LABELS: dict[str, str] = {g.code: g.label_zh for g in CUE_GROUPS} | {k: v[1] for k, v in REGEX_CUES.items()}
CUE_SCORES: dict[str, str] = {g.code: g.score for g in CUE_GROUPS} | {k: v[0] for k, v in REGEX_CUES.items()}


class PhraseMatcher:
    """Finds lexicon phrases in a batch with hashed look-ups (like the segmenter's dictionary):
    at each position the longest phrase wins, and matches do not overlap (leftmost first)."""

    def __init__(self, phrases: Sequence[str]) -> None:
        self.phrases = list(phrases)
        full = hash_strings(self.phrases)
        pre, _ = prefix_hashes(self.phrases)
        keys = np.concatenate([full, pre])
        vals = np.concatenate([np.arange(len(self.phrases), dtype=np.float32), np.full(len(pre), -1.0, np.float32)])
        order = np.lexsort((-vals, keys))  # a whole phrase wins over "prefix only" for the same key
        keys, vals = keys[order], vals[order]
        first = np.r_[True, keys[1:] != keys[:-1]]
        self.table = HashTable(keys[first], vals[first])
        self.maxlen = max(len(p) for p in self.phrases)
        self._single_found, self._single_vals = self.table.single_chars()  # BMP; others are hashed

    def find(self, codes: np.ndarray, hasher: SpanHasher) -> list[tuple[int, int, int]]:
        """(start, end, phrase id) of each match, in text order."""
        n = len(codes)
        active = np.flatnonzero(codes > 32)  # no phrase starts with a space or the NUL separator
        best_len = np.zeros(n, dtype=np.int64)
        best_id = np.zeros(n, dtype=np.int64)
        # length 1: a table indexed by the character (hashed only outside the BMP)
        c = codes.take(active)
        bmp = c < len(self._single_found)
        found = np.zeros(len(active), dtype=bool)
        v = np.zeros(len(active), dtype=np.float32)
        found[bmp] = self._single_found.take(c[bmp])
        v[bmp] = self._single_vals.take(c[bmp])
        if not bmp.all():
            far = np.flatnonzero(~bmp)
            found[far], v[far] = self.table.lookup(hasher(active[far], active[far] + 1))
        active, v = active[found], v[found]
        whole = v >= 0
        best_len[active[whole]] = 1
        best_id[active[whole]] = v[whole].astype(np.int64)
        unit = codes.astype(np.uint64) + np.uint64(1)  # the hash of each character (as `SpanHasher` gives)
        h = unit.take(active)  # hash of the span at each active start, grown one character a round
        for ln in range(2, self.maxlen + 1):
            end = active + ln
            ok = end <= n
            ok[ok] = codes.take(end[ok] - 1) != 0  # a phrase never spans two documents
            active, end, h = active[ok], end[ok], h[ok]
            if not len(active):
                break
            h = h * P + unit.take(end - 1)
            found, v = self.table.lookup(h)
            active, v, h = active[found], v[found], h[found]
            whole = v >= 0
            best_len[active[whole]] = ln
            best_id[active[whole]] = v[whole].astype(np.int64)
        starts = np.flatnonzero(best_len)
        lens = best_len[starts]
        # leftmost first, no overlaps. A match that overlaps neither its neighbours is kept as it is
        # (vectorised); the greedy pass runs over the others only (a match starting after every earlier
        # end is kept by the greedy pass whatever came before, so leaving such ones out changes nothing)
        ends = starts + lens
        reach = np.maximum.accumulate(ends)
        fresh = np.r_[True, starts[1:] >= reach[:-1]] if len(starts) else np.zeros(0, dtype=bool)
        alone = fresh & np.r_[fresh[1:], True]
        keep = alone.copy()
        last_end = -1
        rest = np.flatnonzero(~alone)
        for i, st, en in zip(rest.tolist(), starts[rest].tolist(), ends[rest].tolist()):
            if st >= last_end:
                keep[i] = True
                last_end = en
        kept = np.flatnonzero(keep)
        out = list(zip(starts[kept].tolist(), ends[kept].tolist(), best_id[starts[kept]].tolist()))
        return out


class CueHits:
    """What the scanner found in one document: (code, matched text) in order of appearance."""

    __slots__ = ("hits", "topics", "_by_code")

    def __init__(self, hits: list[tuple[str, str]] | None = None, topics: list[str] | None = None) -> None:
        self.hits: list[tuple[str, str]] = hits if hits is not None else []
        self.topics: list[str] = topics if topics is not None else []
        self._by_code: dict[str, list[str]] | None = None

    def __repr__(self) -> str:
        return f"CueHits(hits={self.hits!r}, topics={self.topics!r})"

    def _index(self) -> dict[str, list[str]]:
        """Distinct words per code, in order of appearance (built once, after the scan)."""
        if self._by_code is None:
            by: dict[str, list[str]] = {}
            for c, w in self.hits:
                words = by.setdefault(c, [])
                if w not in words:
                    words.append(w)
            self._by_code = by
        return self._by_code

    def words(self, code: str, limit: int = 3) -> list[str]:
        return self._index().get(code, [])[:limit]

    def has(self, code: str) -> bool:
        return code in self._index()


_ASCII_WORD = re.compile(r"[a-z0-9]+")


def _is_letter(codes: np.ndarray, i: int) -> bool:
    """Whether position i of the batch holds an ASCII letter (text is lower-cased by then)."""
    return 0 <= i < len(codes) and 97 <= int(codes[i]) <= 122


def repetition(codes: np.ndarray, doc_of_pos: np.ndarray, n: int, min_grams: int = 6) -> np.ndarray:
    """Per document: 1 - distinct/total character trigrams (spaces and punctuation left out).
    Natural text scores near 0 at any length; 顶顶顶顶顶顶 or 垃圾学校垃圾学校… near 1."""
    keep = np.nonzero((codes > 0x2F) & ~((codes >= 0x3A) & (codes <= 0x40)) & (codes != 0xFF0C) & (codes != 0x3002))[0]
    c = codes[keep].astype(np.int64)
    d = doc_of_pos[keep]
    out = np.zeros(n, dtype=np.float32)
    if len(c) < 3:
        return out
    same = d[2:] == d[:-2]
    tri = ((c[:-2] * 0x110000 + c[1:-1]) * 0x110000 + c[2:])[same] & 0xFFFFFFFFFF  # 40-bit trigram key
    dd = d[2:][same]
    total = np.bincount(dd, minlength=n)
    both = np.sort(dd * (1 << 40) + tri)  # document-major: distinct (doc, trigram) pairs are runs
    first = np.r_[True, both[1:] != both[:-1]] if len(both) else np.zeros(0, dtype=bool)
    distinct = np.bincount(both[first] >> 40, minlength=n)
    ok = total >= min_grams
    out[ok] = 1.0 - distinct[ok] / total[ok]
    return out


class CueScanner:
    """Scans a batch; returns the dense cue matrix and per-document hits."""

    version = "cues.v2"

    def __init__(self) -> None:
        self._phrase_codes: dict[str, list[str]] = {}
        for g in CUE_GROUPS:
            for w in g.phrases:
                self._phrase_codes.setdefault(w, []).append(g.code)
        for topic, words in TOPICS:
            for w in words:
                self._phrase_codes.setdefault(w, []).append("topic:" + topic)
        self._lex = PhraseMatcher(sorted(self._phrase_codes))
        self._col = {code: i for i, code in enumerate(FEATURES)}
        # per phrase id: (phrase, topics, ((cue code, dense column), ...), emoticon polarity or None)
        self._info: list[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...], float | None]] = []
        for w in self._lex.phrases:
            codes = self._phrase_codes[w]
            topics = tuple(c[6:] for c in codes if c.startswith("topic:"))
            counted = tuple((c, self._col[c]) for c in codes if not c.startswith("topic:"))
            self._info.append((w, topics, counted, EMOTICON_POLARITY.get(w)))
        # an all-ASCII insult is a word of its own: "sb" in "usb" is not one. The other groups match as before
        # ("vip" in "vipkid" too): a build with the rule for every group, and the insult columns in every head,
        # lost 0.2 on mudou dev (the two were not measured apart)
        whole = {w for g in CUE_GROUPS if g.score == "abuse" for w in g.phrases if _ASCII_WORD.fullmatch(w)}
        self._whole_word = frozenset(i for i, w in enumerate(self._lex.phrases) if w in whole)

    def scan(
        self, batch_text: str, doc_starts: np.ndarray, codes: np.ndarray, doc_of_pos: np.ndarray,
        evasions: Sequence[int], hasher: SpanHasher | None = None,
    ) -> tuple[np.ndarray, list[CueHits]]:
        n = len(doc_starts)
        dense = np.zeros((n, len(FEATURES)), dtype=np.float32)
        hits = [CueHits() for _ in range(n)]
        starts = doc_starts.tolist()
        emo_sum = np.zeros(n, dtype=np.float32)
        emo_last = np.zeros(n, dtype=np.float32)
        rows: list[int] = []  # (document, column) of each count, added to `dense` at the end
        cols: list[int] = []
        matches = self._lex.find(codes, hasher or SpanHasher(codes))
        if matches:
            info = self._info
            docs = doc_of_pos.take(np.fromiter((m[0] for m in matches), dtype=np.int64, count=len(matches)))
            whole_word = self._whole_word
            for (a, b, pid), i in zip(matches, docs.tolist()):
                if pid in whole_word and (_is_letter(codes, a - 1) or _is_letter(codes, b)):
                    continue
                w, topics, counted, pol = info[pid]
                d = hits[i]
                if pol is not None:
                    emo_sum[i] += pol
                    emo_last[i] = pol
                if topics:
                    d.topics.extend(topics)
                for code, j in counted:
                    d.hits.append((code, w))
                    rows.append(i)
                    cols.append(j)
        col = self._col
        for m in _REGEX.finditer(batch_text):
            found = _classify(batch_text, m)
            if found is None:
                continue
            code, s = found
            i = bisect.bisect_right(starts, s) - 1
            rows.append(i)
            cols.append(col[code])
            hits[i].hits.append((code, batch_text[s : m.end()]))
        if rows:
            np.add.at(dense, (np.asarray(rows), np.asarray(cols)), np.float32(1.0))
        self._stats(codes, doc_of_pos, n, evasions, dense)
        dense[:, self._col["emo_score"]] = np.tanh(0.8 * emo_sum)
        dense[:, self._col["emo_last"]] = emo_last
        return dense, hits

    def _stats(self, codes: np.ndarray, doc_of_pos: np.ndarray, n: int, evasions: Sequence[int],
               dense: np.ndarray) -> None:
        col = self._col
        for code in LEXICON_CODES + tuple(REGEX_CUES):  # counts -> log scale
            j = col[code]
            dense[:, j] = np.log1p(dense[:, j])
        real = codes != 0  # the NUL separators are not text
        lens = np.bincount(doc_of_pos, weights=real, minlength=n)
        safe = np.maximum(lens, 1.0)
        digit = (codes >= 48) & (codes <= 57)
        ascii_an = digit | ((codes >= 97) & (codes <= 122))
        per = lambda mask: np.bincount(doc_of_pos, weights=mask, minlength=n)  # noqa: E731
        rep = repetition(codes, doc_of_pos, n)
        dense[:, col["digit_ratio"]] = per(digit) / safe
        dense[:, col["ascii_ratio"]] = per(ascii_an) / safe
        dense[:, col["length_log"]] = np.log1p(lens) / 5.0
        dense[:, col["evasion_count"]] = np.minimum(np.asarray(evasions, dtype=np.float32), 3.0)
        dense[:, col["repeat_ratio"]] = rep
        dense[:, col["exclaim"]] = np.minimum(per(codes == 33), 3.0) / 3.0
        dense[:, col["question"]] = np.minimum(per((codes == 63) | (codes == 0x5417)), 1.0)


