"""Text normalisation with offsets that map back to the original post text.

Steps, in order (issue 3, item 1):
1. NFKC per character (full-width → half-width, circled digits → digits, ideographic space → space);
2. drop zero-width, bidi, variation-selector, control characters and lone surrogates;
3. Traditional → Simplified (OpenCC ``t2s``), lower-case ASCII;
4. undo evasions: spaced-out text (``刷 单 兼 职``), contact-app variants (``薇信/威信/V信/vx/➕V`` →
   微信, ``扣扣/企鹅`` → QQ), Chinese numerals and separators inside phone / QQ numbers → digits,
   obfuscated URLs (``hxxp``, ``[.]``, ``点com``).

`Normalized.src[i]` is the index in the original text of normalised character ``i`` (``None`` when the
two are identical), so spans found on normalised text map back with `Normalized.span`.
"""
from __future__ import annotations

import bisect
import itertools
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
import opencc

from nlp.lexicon import TLDS

# characters removed outright: C0/C1 controls (tab, newline, CR kept), soft hyphen, zero-width and
# bidi controls, word joiners, variation selectors, BOM, lone surrogates, tag characters
_STRIP_RE = re.compile(
    "[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u00ad\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f"
    "\u200b-\u200f\u2028-\u202e\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ud800-\udfff"
    "\U000e0000-\U000e007f\U000e0100-\U000e01ef]"
)
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")
# full-width ASCII and the ideographic space, 1:1 (most Chinese text has full-width punctuation)
_UPPER_RE = re.compile("[A-Z]")
_FULLWIDTH_ALNUM_RE = re.compile("[\uff10-\uff19\uff21-\uff3a\uff41-\uff5a]")

_CN_DIGITS = {
    "零": "0", "〇": "0", "○": "0",
    "一": "1", "壹": "1", "幺": "1",
    "二": "2", "贰": "2", "两": "2", "俩": "2",
    "三": "3", "叁": "3", "仨": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6",
    "七": "7", "柒": "7", "拐": "7",
    "八": "8", "捌": "8",
    "九": "9", "玖": "9", "勾": "9",
}
_NUMERAL_CLASS = "0-9零〇○一壹幺二贰两三叁四肆五伍六陆七柒八捌九玖"
# a run of digits / Chinese numerals, 5+ long, with at least two Chinese numerals, optionally split
# by single separators: 一三八 1234 五六七八, 幺三八-1234-5678
_NUMERAL_RUN_RE = re.compile(
    f"(?<![{_NUMERAL_CLASS}])[{_NUMERAL_CLASS}](?:[ \\-_.·]?[{_NUMERAL_CLASS}]){{4,18}}(?![{_NUMERAL_CLASS}])"
)
_CN_NUM_HINT = re.compile(f"[{_NUMERAL_CLASS[3:]}][ \\-_.·]?[{_NUMERAL_CLASS}]")
_CN_NUMERAL_CHARS = frozenset(_NUMERAL_CLASS[3:])
# separated phone numbers: 138 1234 5678, 138-1234-5678
_PHONE_SEP_RE = re.compile(r"(?<!\d)1[3-9]\d(?:[ \-_.·]?\d){8}(?!\d)")
_SEP_CHARS = frozenset(" -_.·")

# spaced-out text: three or more single CJK characters / digits / letters separated by spaces or
# filler symbols (刷 单 兼 职, 加.微.信, 刷*单)
_UNIT = "[\u3400-\u9fff0-9a-z]"
_FILL = "[ \t*·•\\-_/|\\\\.~^丶'`\u2600-\u27bf\U0001f300-\U0001faff]+"
_NOT_UNIT = "(?<![\u3400-\u9fff0-9a-z])"
_SPACED_RE = re.compile(f"{_NOT_UNIT}{_UNIT}(?:{_FILL}{_UNIT}(?={_FILL})){{1,}}{_FILL}{_UNIT}")
# the end of a host after a dot or hyphen: more labels, then a top-level domain
_TLD_END = rf"(?:[a-z0-9\-]+\.)*(?:{TLDS})(?![a-z0-9\-])"
# the ASCII run a spaced-out match starts, when it is a host: "a-0.com.cn" and "x-1.cn" are links, not 刷.单
_HOST_RUN = re.compile(rf"[a-z0-9\-]+\.{_TLD_END}")
_HOST_CHARS = frozenset("-.0123456789abcdefghijklmnopqrstuvwxyz")

_PLUS = "(?:\\+|➕|✚|╋|加)"
_ID = "(?=[a-z0-9_\\-]{5,}(?![a-z0-9_\\-]))[a-z_\\-]*[0-9]"  # an account id: 5+ characters, a digit
_DECOR = "[❤♥➡→⬅:：=\\s\u2600-\u27bf\U0001f300-\U0001faff]"  # hearts, arrows, emoji between "v" and an id
_EMOJI = "[❤♥\u2600-\u27bf\U0001f300-\U0001faff]"  # symbols spammers put inside a word
# the rest of a host: "qqa.xxdx.edu.cn", "qqm.0.0.com" and "wx.7g-zr2.edu.cn" are hosts, not QQ or 微信 (a later
# label holds a letter: "qq.12345678" is a QQ number)
_HOST_REST = "[a-z0-9\\-]*(?:\\.[0-9\\-]+)*\\.[0-9\\-]*[a-z]"
_QQ_SOUNDS = ("扣扣", "抠抠", "叩叩", "寇寇")  # QQ spelt by sound
_CONTACT_RULES: list[tuple[re.Pattern[str], str]] = [
    # (pattern, canonical form); a match that differs from the canonical form beyond case is an evasion
    (re.compile(f"[薇威徽嶶溦卫维胃魏vw]信|[微薇威]芯|微心|wei信|(?:weixin|wechat)(?!{_HOST_REST})"  # mp.weixin.qq.com is a link
                f"|(?<![a-z0-9.\\-])vx(?![a-z]|{_HOST_REST})|(?<![a-z0-9.\\-])wx(?![a-z]|{_HOST_REST})"  # not inside a host name
                f"|[微薇威]{_EMOJI}+信"  # 微❤信
                f"|(?<![\u3400-\u9fff])[薇威](?={_EMOJI}*[:：]\\s*{_ID})"), "微信"),  # ❤薇❤:kh299
    (re.compile(f"(?<={_PLUS})\\s*v(?![a-z])|(?<![a-z])v(?=[:：号]\\s*[a-z0-9_\\-]{{5,}})"
                f"|(?<=[+➕✚╋])\\s*v(?={_ID})"  # +vyc2901: "+V" then the id
                f"|(?<![a-z])v{_DECOR}+(?={_ID})"  # v❤➡yg50093
                "|(?<![增参添更追附施]加)(?<=加)[薇威](?![信芯心薇威])"), "微信"),  # 加薇: dn55069
    (re.compile("|".join(_QQ_SOUNDS) + "|企鹅号|企鹅(?=[:：]?\\s*\\d{5,})|(?<=加)企鹅"
                f"|(?<![a-z])q(?=[:：号群]?\\s*\\d{{5,}})(?!{_HOST_REST})|(?<![a-z0-9.\\-])qq+(?!{_HOST_REST})"),  # qqq: a stray q next to QQ
     "QQ"),
    (re.compile("(?:➕|✚|╋|\\+)\\s*(?=微信|QQ)"), "加"),
]
# Where a contact rule can start: the contact step's own check and part of the batch pre-check
# (`_EVASION_HINTS`), so a text the rules would rewrite always reaches them. Every alternative starts with
# a plain character (see _EVASION_HINTS)
_CONTACT_HINTS = (
    [f"{a}{_EMOJI}" for a in "微薇威"] + [f"{a}[:：]" for a in "薇威"] + [f"{a}信" for a in "薇威徽嶶溦卫维胃魏vw"]
    + [f"{a}芯" for a in "微薇威"] + ["微心", "wei信", "weixin", "wechat", "vx", "wx"] + list(_QQ_SOUNDS)
    + ["企鹅", "q(?<![a-z]q)", "v(?<![a-z]v)(?![a-z])", "➕", "✚", "╋", "\\+\\s*v", "\\+\\s*微信", "加[薇威]"])
_CONTACT_HINT_RE = re.compile("|".join(_CONTACT_HINTS))

_URL_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"h(?:xx|\*\*|tt)p(s?)(?::|：)//|h(?:xx|\*\*)p(s?)(?=[:：]?//)"), "url_scheme"),
    (re.compile(r"(?<=[a-z0-9])\s*(?:\[\.\]|\(\.\)|【\.】|\(dot\)|\[dot\]|\s+dot\s+|点)\s*"
                rf"(?=(?:{TLDS})(?![a-z0-9]))"), "url_dot"),  # not \b: "abc点com领取" (a CJK letter follows)
]
_URL_HINT_RE = re.compile(rf"hxxp|h\*\*p|\[\.\]|\(\.\)|【\.】|dot|点(?:{TLDS})")
# pre-checks for step 4 over a whole batch; texts without a hit skip it. Each regex starts with a
# literal or a character class so the engine skips non-candidate positions in C.
_FILL_CHARS = " \t*·•\\-_/|\\\\.~^丶'`\u2600-\u27bf\U0001f300-\U0001faff"
# In the third, every alternative starts with a plain character (微❤ spelt out per character, not
# [微薇威]❤): the engine then skips, in C, the positions where no alternative can start; one class-led
# alternative made it try all of them at every position (84 ms per 20,000 posts instead of 10)
_EVASION_HINTS = (
    re.compile(f"[{_FILL_CHARS}][\u3400-\u9fff0-9a-z][{_FILL_CHARS}]+[\u3400-\u9fff0-9a-z]"),
    _CN_NUM_HINT,
    re.compile("|".join(
        _CONTACT_HINTS
        + [r"1[3-9]\d{1,8}[ \-_.·]\d", r"hxxp", r"h\*\*p", r"\[\.\]", r"\(\.\)", r"【\.】", "dot",
           f"点(?:{TLDS})"]
    )),
)


# digits masked as x by data providers and in forwarded messages ("xx元", "电话1xxxxxxxxxx", "xxxx年"):
# a run of digits and x with at least two x, not inside a word, reads as a number (x -> 0, same length,
# so offsets are unchanged). Not an evasion. Nor is a host label: "xx.xxdx.edu.cn", "abc.xx.com" stay as written
# (a dot, a label and a dot follow; or a dot or hyphen, then labels ending in a top-level domain; or a label
# not ending in x and a dot precede), while "xx.xx元", "xxxx-xx-xx" and "138-xxxx-xxxx" are numbers
_MASKED_RE = re.compile(
    r"(?<![a-z0-9])(?<![a-wyz]\.)(?=[0-9x]*x[0-9x]*x)[0-9x]{2,}"
    rf"(?![a-z0-9]|\.[a-z0-9\-]*[a-z][a-z0-9\-]*\.|[.\-]{_TLD_END})")
_MASKED_HINT_RE = re.compile(r"x[0-9]*x")  # any two x of one [0-9x] run: every text _MASKED_RE can match


def _unmask(m: re.Match[str]) -> str:
    return m.group(0).replace("x", "0")


def strip_invisible(text: str) -> tuple[str, list[int] | None]:
    """`text` without zero-width, bidi and control characters (and lone surrogates), and for each
    remaining character its index in `text` (None when nothing was dropped)."""
    if not _STRIP_RE.search(text):
        return text, None
    keep: list[int] = []
    pos = 0
    for m in _STRIP_RE.finditer(text):
        keep.extend(range(pos, m.start()))
        pos = m.end()
    keep.extend(range(pos, len(text)))
    return _STRIP_RE.sub("", text), keep


@dataclass(slots=True)
class Normalized:
    """A normalised text and its map back to the original."""

    text: str
    src: list[int] | None = None  # src[i] = original index of text[i]; None = identity
    evasions: list[str] = field(default_factory=list)

    def span(self, start: int, end: int) -> tuple[int, int]:
        """Map a span [start, end) of the normalised text to the original text."""
        if self.src is None or end <= start:
            return start, end
        return self.src[start], self.src[end - 1] + 1


def _nfkc_changing() -> list[int]:
    """Code points that NFKC changes (full-width forms, compatibility characters, styled letters...),
    so normalisation touches only those. Composition of combining sequences is not covered (rare in
    Chinese text; such text keeps its decomposed form)."""
    return [c for block in (range(0xD800), range(0xE000, 0x10000), range(0x1D400, 0x1D800),
                            range(0x1F100, 0x1F200), range(0x2F800, 0x2FA20))
            for c in block if unicodedata.normalize("NFKC", chr(c)) != chr(c)]


def _nfkc_changing_class(cps: list[int]) -> re.Pattern[str]:
    """A regex for runs of the characters `cps` (NFKC applies to each run as a whole)."""
    parts = []
    start = prev = cps[0]
    for c in cps[1:] + [-2]:
        if c != prev + 1:
            parts.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
            start = c
        prev = c
    return re.compile("[" + "".join(parts) + "]+")


# Characters whose NFKC form is one ASCII character: full-width ASCII (，！？：（）…) and the ideographic
# space, most of the NFKC work on Chinese text. A run of them normalises character by character (ASCII
# never composes), so a lookup table does it for a whole batch; any other NFKC-changing character sends its
# document through the run-by-run path.
_NFKC_SAFE = (0x3000, *range(0xFF01, 0xFF5F))
_KIND_SAFE, _KIND_OTHER = 1, 2


def _nfkc_tables(cps: list[int]) -> tuple[np.ndarray, np.ndarray]:
    """(kind per code point: 0 unchanged, 1 one-to-one ASCII, 2 other; the ASCII target per BMP code point)."""
    kind = np.zeros(0x110000, dtype=np.uint8)
    kind[np.asarray(cps, dtype=np.int64)] = _KIND_OTHER
    to = np.arange(0x10000, dtype=np.uint32)
    changing = set(cps)
    for c in _NFKC_SAFE:
        n = unicodedata.normalize("NFKC", chr(c))
        if c in changing and len(n) == 1 and ord(n) < 0x80:
            kind[c] = _KIND_SAFE
            to[c] = ord(n)
    return kind, to


def matching_docs(rx: re.Pattern[str], joined: str, starts: list[int]) -> list[int]:
    """Indices of the documents of `joined` (documents starting at `starts`, separated by one
    character) in which `rx` finds a match: one search per matching document, none per other one.
    `rx` must not match across a separator."""
    out: list[int] = []
    n = len(starts)
    pos = 0
    search = rx.search
    while (m := search(joined, pos)) is not None:
        i = bisect.bisect_right(starts, m.start()) - 1
        out.append(i)
        if i + 1 >= n:
            break
        pos = starts[i + 1]
    return out


def _starts(norms: list[Normalized]) -> list[int]:
    return list(itertools.accumulate((len(n.text) + 1 for n in norms[:-1]), initial=0))


def _identity(n: int) -> list[int]:
    return list(range(n))


def _sub(
    text: str,
    src: list[int] | None,
    pattern: re.Pattern[str],
    repl: Callable[[re.Match[str]], str],
) -> tuple[str, list[int] | None, bool]:
    """`re.sub` that keeps the offset map; returns (text, src, changed)."""
    parts: list[str] = []
    out_src: list[int] = []
    base = src if src is not None else _identity(len(text))
    pos = 0
    changed = False
    for m in pattern.finditer(text):
        new = repl(m)
        a, b = m.span()
        if new == m.group(0):
            continue
        changed = True
        parts.append(text[pos:a])
        out_src.extend(base[pos:a])
        parts.append(new)
        if b > a:
            lo, hi = base[a], base[b - 1]
            n = len(new)
            out_src.extend(lo + (hi - lo) * i // max(n - 1, 1) if n > 1 else lo for i in range(n))
        else:
            out_src.extend([base[a] if a < len(base) else (base[-1] + 1 if base else 0)] * len(new))
        pos = b
    if not changed:
        return text, src, False
    parts.append(text[pos:])
    out_src.extend(base[pos:])
    new_text = "".join(parts)
    if len(out_src) == len(new_text) and out_src == _identity(len(new_text)) and src is None:
        return new_text, None, True
    return new_text, out_src, True


class Normalizer:
    """Normalises texts one batch at a time. Holds the OpenCC converter (load once)."""

    version = "normalize.v1"

    def __init__(self) -> None:
        self._t2s = opencc.OpenCC("t2s")
        self._nfkc_cache: dict[str, str] = {}
        cps = _nfkc_changing()
        self._nfkc_re = _nfkc_changing_class(cps)
        self._nfkc_kind, self._nfkc_to = _nfkc_tables(cps)

    def _nfkc_run(self, m: re.Match[str]) -> str:
        s = m.group(0)
        out = self._nfkc_cache.get(s)
        if out is None:
            out = unicodedata.normalize("NFKC", s)
            if len(self._nfkc_cache) < 100_000:
                self._nfkc_cache[s] = out
        return out

    def __call__(self, text: str) -> Normalized:
        return self.batch([text])[0]

    def batch(self, texts: Sequence[str]) -> list[Normalized]:
        """Normalise many texts; the steps that C code does fast (NFKC, lower-casing, OpenCC, the
        evasion pre-check) run once over the whole batch joined by a separator."""
        norms = self._strip_all(texts)
        if not norms:
            return []
        joined = "\x1e".join(n.text for n in norms)  # record separator: stripped from every input
        if not joined.isascii():
            starts = _starts(norms)
            for m in _FULLWIDTH_ALNUM_RE.finditer(joined):
                ev = norms[bisect.bisect_right(starts, m.start()) - 1].evasions
                if "fullwidth" not in ev:
                    ev.append("fullwidth")
            nfkc = self._nfkc_batch(norms, joined, starts)
            if nfkc != joined:
                joined = self._rejoin(norms, nfkc, self._nfkc_one)
        if _UPPER_RE.search(joined):
            joined = self._rejoin(norms, joined.lower(), self._lower_one)
        if not joined.isascii():
            conv = self._t2s.convert(joined)
            if conv != joined:
                joined = self._rejoin(norms, conv, self._t2s_one)
        starts = _starts(norms)
        todo: set[int] = set()
        for rx in _EVASION_HINTS:
            todo.update(matching_docs(rx, joined, starts))
        for i in sorted(todo):
            norms[i] = self._evasions(norms[i])
        if todo:  # the evasion steps may have joined "x 1 2 x" into a masked run
            joined = "\x1e".join(n.text for n in norms)
            starts = _starts(norms)
        # _MASKED_RE starts with look-arounds (no fast scan): it runs only on the texts the literal hint finds
        for i in matching_docs(_MASKED_HINT_RE, joined, starts):
            n = norms[i]
            text = _MASKED_RE.sub(_unmask, n.text)
            if text != n.text:
                norms[i] = Normalized(text, n.src, n.evasions)
        return norms

    @staticmethod
    def _strip(text: str) -> Normalized:
        stripped, keep = strip_invisible(text)
        return Normalized(text) if keep is None else Normalized(stripped, keep, ["zero_width"])

    def _strip_all(self, texts: Sequence[str]) -> list[Normalized]:
        """`_strip` for each text; one regex pass over the batch finds the few texts that need it."""
        raw = "\n".join(texts)  # a newline is never stripped, so each hit lies inside one text
        if _STRIP_RE.search(raw) is None:
            return [Normalized(t) for t in texts]
        starts = list(itertools.accumulate((len(t) + 1 for t in texts[:-1]), initial=0))
        hit = set(matching_docs(_STRIP_RE, raw, starts))
        return [self._strip(t) if i in hit else Normalized(t) for i, t in enumerate(texts)]

    def _nfkc_batch(self, norms: list[Normalized], joined: str, starts: list[int]) -> str:
        """NFKC of each run of changing characters in the joined batch (the record separator is not
        one of them): one-to-one ASCII forms by table lookup, texts with any other changing character
        run by run with the regex, as `_nfkc_run` does."""
        codes = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32)
        kind = self._nfkc_kind[codes]
        if not kind.any():
            return joined
        out = codes.copy()
        safe = np.flatnonzero(kind == _KIND_SAFE)
        out[safe] = self._nfkc_to[codes[safe]]
        nfkc = out.tobytes().decode("utf-32-le")
        other = np.flatnonzero(kind == _KIND_OTHER)
        if len(other):
            pieces = nfkc.split("\x1e")
            for i in sorted({bisect.bisect_right(starts, p) - 1 for p in other.tolist()}):
                pieces[i] = self._nfkc_re.sub(self._nfkc_run, norms[i].text)
            nfkc = "\x1e".join(pieces)
        return nfkc

    @staticmethod
    def _rejoin(norms: list[Normalized], converted: str, one) -> str:
        """Take each text's piece of a whole-batch conversion; a piece whose length changed is
        redone by `one(norm)` so the offset map stays exact."""
        pieces = converted.split("\x1e")
        same = len(pieces) == len(norms)  # else a conversion touched the separator: redo one by one
        if not same:
            pieces = [one(n).text for n in norms]
        for i, (n, piece) in enumerate(zip(norms, pieces)):
            if piece == n.text:
                continue
            if len(piece) == len(n.text):
                n.text = piece
            else:
                norms[i] = one(n)
                same = False
        # every text took its piece as it is: the joined texts are the conversion itself
        return converted if same else "\x1e".join(n.text for n in norms)

    def _nfkc_one(self, n: Normalized) -> Normalized:
        text, src = self._nfkc(n.text, n.src)
        return Normalized(text, src, n.evasions)

    @staticmethod
    def _lower_one(n: Normalized) -> Normalized:
        low = n.text.lower()
        return Normalized(low if len(low) == len(n.text) else n.text.translate(_ASCII_LOWER), n.src, n.evasions)

    def _t2s_one(self, n: Normalized) -> Normalized:
        conv = self._t2s.convert(n.text)
        if len(conv) != len(n.text):  # a phrase changed length: convert char by char
            chars = [self._t2s.convert(ch) for ch in n.text]
            conv = "".join(c if len(c) == 1 else o for c, o in zip(chars, n.text))
        return Normalized(conv, n.src, n.evasions)

    def _nfkc(self, text: str, src: list[int] | None) -> tuple[str, list[int]]:
        """NFKC one character at a time, so each output character knows its source. Only characters
        that NFKC may change are visited: NFKC-changing ones and those outside the BMP (the text is
        already stripped, and every BMP character NFKC leaves alone stays as it is)."""
        base = src if src is not None else _identity(len(text))
        codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32)
        special = np.flatnonzero((self._nfkc_kind[codes] != 0) | (codes >= 0x10000)).tolist()
        cache = self._nfkc_cache
        parts: list[str] = []
        out: list[int] = []
        pos = 0
        for i in special:
            if i > pos:
                parts.append(text[pos:i])
                out.extend(base[pos:i])
            ch = text[i]
            n = cache.get(ch)
            if n is None:
                n = _STRIP_RE.sub("", unicodedata.normalize("NFKC", ch))
                if len(cache) < 100_000:
                    cache[ch] = n
            parts.append(n)
            if len(n) == 1:
                out.append(base[i])
            else:
                out.extend([base[i]] * len(n))
            pos = i + 1
        parts.append(text[pos:])
        out.extend(base[pos:])
        return "".join(parts), out

    # ---- step 4: evasions
    def _evasions(self, n: Normalized) -> Normalized:
        text, src, ev = n.text, n.src, list(n.evasions)
        if _SPACED_RE.search(text):
            text, src, ch = _sub(text, src, _SPACED_RE, _unspace)
            if ch:
                ev.append("spaced_out")
        if _CONTACT_HINT_RE.search(text):
            real: list[bool] = []
            for pattern, canon in _CONTACT_RULES:
                text, src, _ = _sub(text, src, pattern, lambda m, c=canon: _canon(m, c, real))
            if any(real):
                ev.append("contact_variant")
        if _CN_NUM_HINT.search(text) and _NUMERAL_RUN_RE.search(text):
            text, src, ch = _sub(text, src, _NUMERAL_RUN_RE, _numerals)
            if ch:
                ev.append("cn_digits")
        if _PHONE_SEP_RE.search(text):
            text, src, ch = _sub(text, src, _PHONE_SEP_RE, _drop_seps)
            if ch:
                ev.append("split_number")
        if _URL_HINT_RE.search(text):
            for pattern, _code in _URL_RULES:
                text, src, ch = _sub(text, src, pattern, _url_fix)
                if ch and "obfuscated_url" not in ev:
                    ev.append("obfuscated_url")
        return Normalized(text, src, ev)


def _canon(m: re.Match[str], canonical: str, real: list[bool]) -> str:
    """Replace a contact variant; 'qq' -> 'QQ' is canonicalisation, not an evasion."""
    if m.group(0).upper() != canonical.upper():
        real.append(True)
    return canonical


def _unspace(m: re.Match[str]) -> str:
    s = m.group(0)
    units = re.findall("[\u3400-\u9fff0-9a-z]", s)
    # keep ordinary spaced words like "a b c" in prose only if they are all ASCII letters
    if all(u.isascii() and u.isalpha() for u in units):
        return s
    if set(s) <= _HOST_CHARS and _HOST_RUN.match(m.string, m.start()):
        return s  # labels joined by - and . that end in a top-level domain: a host, kept as written
    return "".join(units)


def _numerals(m: re.Match[str]) -> str:
    s = m.group(0)
    n_cn = sum(1 for ch in s if ch in _CN_NUMERAL_CHARS)
    digits = sum(1 for ch in s if ch not in _SEP_CHARS)
    has_ascii_digit = any("0" <= ch <= "9" for ch in s)
    if n_cn < 2 or digits < 5 or (not has_ascii_digit and digits < 7):
        return s
    return "".join(_CN_DIGITS.get(ch, ch) for ch in s if ch not in _SEP_CHARS)


def _drop_seps(m: re.Match[str]) -> str:
    return "".join(ch for ch in m.group(0) if ch not in _SEP_CHARS)


def _url_fix(m: re.Match[str]) -> str:
    s = m.group(0)
    if s.startswith("h"):
        return "https://" if "s" in s[4:6] else "http://"
    return "."
