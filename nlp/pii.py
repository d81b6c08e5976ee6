"""Personal data in text: mobile and landline numbers, ID numbers, bank cards, emails, QQ and WeChat.

One set of patterns, two modes:

- `find_pii(norm)` (the analysis, flags posts): runs on the normalised text (full-width forms, Chinese
  numerals, zero-width characters and contact-app variants are undone there), is *strict* (ID numbers
  need a valid checksum and birth date, bank cards the Luhn check; mobile numbers only; a separated
  number must not run on into more digits) and reports spans in the ORIGINAL text via the normaliser's
  offset map. `HINT` lets a batch skip the posts that cannot hold any.
- `find_personal_data(text)` (masking, `core.masking.redact`): runs on any raw text after its own
  light folding that keeps offsets (`fold`), and is *broad*: no checksums, any ID- or card-shaped
  number, landlines and 400/800 numbers, optionally any run of 7+ digits. Over-masking there is cheap,
  a leak is not.

Numbers may be written with separators between any two digits (``138 1234 5678``, ``110105-19900101-
123X``, ``1 3 8 1 2 …``): up to three of space, dash, dot, underscore, middle dot. Emails may be
obfuscated (``name(at)abc.cn``, ``name 艾特 abc点com``, ``name at abc dot com``). QQ numbers and WeChat
ids are recognised only after a context word (QQ, 扣扣, 企鹅, Q号, q群 / 微信, vx, wx, V信, 加V …) except
``wxid_…``, which is unmistakable.

Scans are linear in the text length: every repetition that can backtrack is bounded, emails are
found from their "at" (the local part read backwards on the reversed text), and the number patterns
run only in small windows around chains of 10+ digits.
"""
from __future__ import annotations

import re
import unicodedata
from datetime import date
from functools import lru_cache
from typing import Callable, Iterable, NamedTuple

from core.domain import PIISpan
from nlp.normalize import _CN_DIGITS, _CN_NUM_HINT, _CN_NUMERAL_CHARS, _NUMERAL_RUN_RE, Normalized, strip_invisible

# ---------------------------------------------------------------------------- building blocks
_SEP = "[ \\t\\-._·\u2010-\u2015\u2212]"  # between two digits of one number
_S = _SEP + "{0,3}"  # nothing or a short separator: "", " ", "-", " - "
_S1 = _SEP + "{1,3}"
# strict: a number must not run on into more digits, not even across a separator
_B_STRICT = f"(?<![0-9])(?<![0-9]{_SEP})(?<![0-9]{_SEP}{{2}})(?<![0-9]{_SEP}{{3}})"
_A_STRICT = f"(?!{_S}[0-9])"
_B_BROAD = "(?<![0-9])"
_A_BROAD = "(?![0-9])"

_ID_BODY = f"[1-9](?:{_S}[0-9]){{16}}{_S}(?:[0-9]|x(?![a-z]))"
_ID_X_BODY = f"[1-9](?:{_S}[0-9]){{16}}{_S}x(?![a-z])"
# a card written in groups: one and the same separator between all of them (6222 0212 3456 7890 123,
# 6-2-2-2-…); the digit count (16–19) is checked after the match
_CARD_GROUPS = f"[0-9]+(?P<s>{_S1})[0-9]+(?:(?P=s)[0-9]+)*"
_MOBILE = f"1{_S}[3-9](?:{_S}[0-9]){{9}}"
_CC_PREFIX = f"(?:(?:\\+|00)?86{_S}|\\(\\+?86\\){_S})"  # +86, 0086, (+86), (86)

# context words, on folded lower-case text or on normalised text (which writes 微信 and QQ). Every
# branch starts with a character (a look-behind comes after it), so the regex engine skips ahead in C.
_QQ_CTX = (
    "(?:qq|QQ|扣扣|抠抠|叩叩|寇寇|企鹅|q(?<![a-z].)(?=号|群|\\s{0,2}[:：]))(?:号码|号|群号|群|\\s?id)?"
    "[\\s:：=#]{0,4}(?:是|为)?[\\s:：=#]{0,3}"
)
_WX_CTX = (
    "(?:微信|[薇威徽嶶溦卫维胃魏]信|[微薇威]芯|微心"
    "|[vw](?<![a-z].)(?:信|ei信|(?:eixin|echat|x)(?![a-z]))"  # v信 w信 wei信 weixin wechat vx wx
    "|v(?<![a-z].)(?=号|\\s{0,2}[:：])|[加+➕✚╋]\\s?v|加[薇威])(?:号码|号|\\s?id)?"
    "[\\s:：=➡→❤♥~\\-]{0,5}(?:是|为)?[\\s:：=]{0,3}"
)
# WeChat's own rule: 6–20 characters, starting with a letter (and not a context word: "vx wechat: abc123")
_WX_ID = "(?!(?:wechat|weixin)(?![a-z0-9_\\-]))[a-z][a-z0-9_\\-]{5,19}(?![a-z0-9_\\-])"
_WXID = "wxid_(?<![a-z0-9_].{5})[a-z0-9_\\-]{1,40}"

# emails: found from the "at" (whose forms are few), the local part read backwards, the domain forwards
_AT_RE = re.compile(
    "[@＠]|艾特|[(\\[{【<（]\\s{0,2}(?:at|@)\\s{0,2}[)\\]}】>）]"
    "|\\s(?<=[a-z0-9._%+\\-]\\s)\\s{0,2}at\\s{1,3}(?=[a-z0-9])"  # name at abc dot com
)
_SPACES = " \t\u3000"
_DOT_OBF = "\\s{0,2}[(\\[{【<（]\\s{0,2}(?:dot|\\.|点)\\s{0,2}[)\\]}】>）]\\s{0,2}|\\s{0,2}点\\s{0,2}|\\s{1,2}dot\\s{1,2}"
_DOT = f"(?:\\.|{_DOT_OBF})"
_DOT_OBF_RE = re.compile(_DOT_OBF)
_LABEL = "[a-z0-9](?:[a-z0-9\\-]{0,61}[a-z0-9])?"
_DOMAIN_RE = re.compile(f"{_LABEL}(?:{_DOT}{_LABEL}){{0,6}}{_DOT}[a-z]{{2,24}}")
_LOCAL_REV_RE = re.compile("[a-z0-9._%+\\-]{1,64}")  # the local part, on the reversed text
_LOCAL_LEAD = "._%+-"

_AT_SIGN = re.compile("[@＠艾]|at")  # the email scan runs only where one of these is
# the number patterns run only around a chain of 10+ digits (separators allowed): one fast scan
_CHAIN_RE = re.compile(f"[0-9](?:[ \\t\\-._·\u2010-\u2015\u2212()]{{0,3}}[0-9]){{9,}}(?:{_S}x)?")  # also (010)6275…

# No PII in normalised text without one of these: 11 digits (possibly separated: phone, ID, card), QQ,
# q号 / q群 / q:, @ / 艾特 / (at) (email), 微信 or +v then a letter, wxid_. Lets a batch skip most posts;
# written to start with one character class (a fast scan in C). Posts whose normaliser found an
# obfuscated URL (where "name at abc dot com" lands) are checked too (`needs_scan`).
HINT = re.compile(
    "[\\dQq@信w艾(\\[{【<+➕✚╋]"
    f"(?:(?<=\\d)(?:{_SEP}{{0,3}}\\d){{10}}"
    "|(?<=Q)Q|(?<=q)(?:号|群|\\s{0,2}[:：])"
    "|(?<=@)|(?<=艾)特|(?<=[(\\[{【<])\\s{0,2}(?:at|@)"
    "|(?<=微信)(?:号码|号|\\s?id)?[\\s:：=➡→❤♥~\\-]{0,5}(?:是|为)?[\\s:：=]{0,3}[a-z]"
    "|(?<=w)xid_|(?<=[+➕✚╋])\\s?v[a-z])"
)

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10x98765432"


def id_card_valid(number: str) -> bool:
    """An 18-character mainland resident ID: region digits, a real birth date, the ISO 7064 check."""
    n = number.lower()
    if len(n) != 18 or not n[:17].isdigit():
        return False
    total = sum(int(d) * w for d, w in zip(n[:17], _ID_WEIGHTS))
    if _ID_CHECK[total % 11] != n[17]:
        return False
    try:
        born = date(int(n[6:10]), int(n[10:12]), int(n[12:14]))
    except ValueError:
        return False
    return 1900 <= born.year <= date.today().year and n[0] != "0"


def luhn_valid(number: str) -> bool:
    digits = [int(d) for d in number if d.isdigit()]
    if len(digits) < 12:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# ---------------------------------------------------------------------------- detectors
class Found(NamedTuple):
    """One value in the scanned text: text[start:end], its kind and its canonical value (digits only
    for numbers, with an upper-case X for IDs; name@domain for emails; the id for WeChat)."""

    start: int
    end: int
    kind: str
    value: str


_NOT_ID_DIGIT = re.compile("[^0-9x]")


def _digits(s: str) -> str:
    return s if s.isdigit() else _NOT_ID_DIGIT.sub("", s).replace("x", "X")


def _strict_id(d: str) -> bool:
    return id_card_valid(d)


def _broad_id(d: str) -> bool:
    return len(d) == 18 and d[6:8] in ("18", "19", "20")  # shaped like a birth year; no checksum


def _card(d: str) -> bool:
    return 16 <= len(d) <= 19


def _is_date(d: str) -> bool:
    """YYYYMMDD, a real date from 1900 to 2099."""
    if len(d) != 8 or not d.isdigit() or not "1900" <= d[:4] <= "2099":
        return False
    try:
        date(int(d[:4]), int(d[4:6]), int(d[6:8]))
    except ValueError:
        return False
    return True


def _broad_card(d: str) -> bool:
    return _card(d) and not (len(d) == 16 and _is_date(d[:8]) and _is_date(d[8:]))  # 20260301-20260305


def _strict_card(d: str) -> bool:
    return _card(d) and luhn_valid(d)


_CURRENCY_BEFORE = frozenset("¥￥$€£")
_UNIT_AFTER = re.compile("\\s?(?:元|块|圆|万|亿|千|百|%|‰|美元|港元|rmb|人民币)")


def _plain_number(text: str, start: int, end: int, d: str) -> bool:
    """A digit run that is not personal data: a date written 20260301, an amount (¥1500000,
    1500000元), a decimal (3.1415926, 1234567.89)."""
    if _is_date(d):
        return True
    if start and text[start - 1] in _CURRENCY_BEFORE:
        return True
    if _UNIT_AFTER.match(text, end):
        return True
    if start >= 2 and text[start - 1] in ".," and text[start - 2].isdigit():
        return True  # the fraction of a decimal number
    if end + 1 < len(text) and text[end] == "." and text[end + 1].isdigit():
        j = end + 1
        while j < len(text) and text[j].isdigit():
            j += 1
        return j - end - 1 <= 2  # 1234567.89: an amount
    return False


class _Rx(NamedTuple):
    kind: str
    rx: re.Pattern[str]
    check: Callable[[str], bool] | None = None


def _rx(kind: str, pattern: str, check: Callable[[str], bool] | None = None) -> _Rx:
    return _Rx(kind, re.compile(pattern), check)


# in priority order: a later match that overlaps an earlier one is dropped
_STRICT_NUMBERS = (
    _rx("id_card", "(?<![0-9])(?P<v>[1-9][0-9]{16}[0-9x])(?![0-9x])", _strict_id),
    _rx("id_card", f"{_B_STRICT}(?P<v>{_ID_BODY}){_A_STRICT}", _strict_id),
    _rx("bank_card", "(?<![0-9])(?P<v>[0-9]{16,19})(?![0-9])", _strict_card),
    _rx("bank_card", f"{_B_STRICT}(?P<v>{_CARD_GROUPS}){_A_STRICT}", _strict_card),
    _rx("phone", "(?<![0-9])(?P<v>(?:(?:\\+|00)?86[ \\-]?|\\(\\+?86\\)\\s?)?1[3-9][0-9]{9})(?![0-9])"),
    _rx("phone", f"{_B_STRICT}(?P<v>{_CC_PREFIX}?{_MOBILE}){_A_STRICT}"),
)
# for a run of digits without separators: one value at most, whose length tells the kind (so the
# commonest, a phone, is tried first)
_STRICT_PLAIN = tuple(_STRICT_NUMBERS[i] for i in (4, 0, 2))
_BROAD_NUMBERS = (
    _rx("id_card", f"{_B_BROAD}(?P<v>{_ID_X_BODY})"),
    _rx("bank_card", f"{_B_BROAD}(?P<v>[0-9]{{16,19}}){_A_BROAD}"),
    _rx("bank_card", f"{_B_BROAD}(?P<v>{_CARD_GROUPS}){_A_BROAD}", _broad_card),
    _rx("id_card", f"{_B_BROAD}(?P<v>{_ID_BODY}){_A_BROAD}", _broad_id),
    # the country code stays outside the value: +86 138****5678
    # after a country code (+86, 0086, 86-): not after the digits "86" inside a longer number (a card)
    _rx("phone", f"(?:(?<![0-9])|(?<=(?<![0-9])86)|(?<=(?<![0-9])0086)|(?<=(?<![0-9])86[ \\-]))(?P<v>{_MOBILE}){_A_BROAD}"),
    _rx("phone", f"(?<![0-9])(?P<v>(?:\\(0[0-9]{{2,3}}\\)|0[0-9]{{2,3}}){_S}[0-9]{{3,4}}{_S}[0-9]{{4}})"
                 f"{_A_BROAD}"),  # landline: 010-62751234, (0571)8888 8888
    _rx("phone", f"(?<![0-9])(?P<v>[48]00{_S}[0-9]{{3}}{_S}[0-9]{{4}}){_A_BROAD}"),  # 400-123-4567
)
_BROAD_PLAIN = tuple(_BROAD_NUMBERS[i] for i in (4, 5, 6, 1))  # (an 18-digit ID is card-shaped: same mask)
_QQ_RX = re.compile(f"{_QQ_CTX}(?P<v>[1-9](?:{_S}[0-9]){{4,10}})(?![0-9])")
_WX_RX = re.compile(f"{_WX_CTX}(?P<v>{_WXID}|{_WX_ID})")
_WXID_RX = re.compile(f"(?P<v>{_WXID})")
_RUN_RX = re.compile("(?<![0-9])[0-9]{7,}(?![0-9])")


class _Claims:
    """Which positions of the scanned text already belong to a value (a bytearray: linear)."""

    def __init__(self, n: int) -> None:
        self.used = bytearray(n)
        self.found: list[Found] = []

    def protect(self, start: int, end: int) -> None:
        """An already masked value (z***@163.com): nothing in it is found again."""
        self.used[start:end] = b"\x01" * (end - start)

    def add(self, start: int, end: int, kind: str, value: str) -> bool:
        if end <= start or 1 in self.used[start:end]:
            return False
        self.used[start:end] = b"\x01" * (end - start)
        self.found.append(Found(start, end, kind, value))
        return True


_WORD_BEFORE = re.compile("[a-z]{1,12}$")
# words that may stand right before a number (tel13812345678); after any other letters the number is
# part of a code (订单号DD13812345678X) — strict mode only
_NUMBER_WORDS = frozenset({"tel", "phone", "mobile", "call", "cell", "fax", "no", "id", "q", "qq", "v", "vx", "wx"})


def _in_code(text: str, start: int, src: list[int] | None) -> bool:
    """Whether the number at `start` is glued to the letters before it (in the original text too:
    the normaliser joins spaced-out letters and digits)."""
    if not start or not ("a" <= text[start - 1] <= "z"):
        return False
    if src is not None and src[start] - src[start - 1] > 1:
        return False
    w = _WORD_BEFORE.search(text, max(0, start - 12), start)
    return w is not None and w.group(0) not in _NUMBER_WORDS


def _scan_numbers(text: str, claims: _Claims, table: Iterable[_Rx], strict: bool, src: list[int] | None) -> None:
    """The number patterns, each around each chain of 10+ digits (with room for a +86 before it and
    the look-ahead after it)."""
    n = len(text)
    for c in _CHAIN_RE.finditer(text):
        lo, hi = max(0, c.start() - 8), min(n, c.end() + 6)
        # digits without separators (most chains) need only the patterns that can match them
        plain = c.group().isdigit()
        before = len(claims.found)
        for kind, rx, check in (table if not plain else _STRICT_PLAIN if strict else _BROAD_PLAIN):
            for m in rx.finditer(text, lo, hi):
                a, b = m.span("v")
                d = _digits(m.group("v"))
                if (check is None or check(d)) and not (strict and _in_code(text, a, src)):
                    claims.add(a, b, kind, d)
            if plain and len(claims.found) > before:
                break  # a run of plain digits holds one value at most


def _scan_qq(text: str, claims: _Claims) -> None:
    for m in _QQ_RX.finditer(text):
        a, b = m.span("v")
        claims.add(a, b, "qq", _digits(m.group("v")))


def _scan_wechat(text: str, claims: _Claims, folded: str | None) -> None:
    if "wxid_" in text:
        for m in _WXID_RX.finditer(text):
            a, b = m.span("v")
            claims.add(a, b, "wechat", (folded or text)[a:b])
    for m in _WX_RX.finditer(text):
        a, b = m.span("v")
        claims.add(a, b, "wechat", (folded or text)[a:b])


def _scan_email(text: str, claims: _Claims, folded: str | None, plain_at: bool) -> None:
    """Emails, found from each "at": the local part backwards (at most 64 characters, starting with a
    letter or digit; up to two spaces before the at), the domain forwards (up to two spaces after).
    "name at abc dot com" needs an obfuscated dot (or `plain_at`, when the normaliser already turned
    " dot com" into ".com"): "look at baidu.com" is not an email."""
    if not _AT_SIGN.search(text):
        return
    rev: str | None = None
    n = len(text)
    for m in _AT_RE.finditer(text):
        a, b = m.span()
        token = m.group(0)
        spelled = token[-1].isspace()
        if not spelled:
            k = 0
            while k < 2 and a > 0 and text[a - 1] in _SPACES:
                a -= 1
                k += 1
            k = 0
            while k < 2 and b < n and text[b] in _SPACES:
                b += 1
                k += 1
        dm = _DOMAIN_RE.match(text, b)
        if dm is None:
            continue
        if spelled and not plain_at and not _DOT_OBF_RE.search(dm.group(0)):
            continue
        if a and text[a - 1] == "*":  # masked already: z***@163.com
            claims.protect(a, dm.end())
            continue
        if rev is None:
            rev = text[::-1]
        lm = _LOCAL_REV_RE.match(rev, n - a)
        if lm is None:
            continue
        start = a - (lm.end() - lm.start())
        while start < a and text[start] in _LOCAL_LEAD:
            start += 1
        if start >= a:
            continue
        local = (folded or text)[start:a]
        domain = _DOT_OBF_RE.sub(".", dm.group(0))
        claims.add(start, dm.end(), "email", f"{local}@{domain}")


def _scan(text: str, *, strict: bool, digit_runs: bool = False, folded: str | None = None,
          plain_at: bool = False, src: list[int] | None = None) -> list[Found]:
    """Values in `text` (ASCII digits, lower-case ASCII letters), non-overlapping, in text order.
    `folded` is the same text with its case kept (for the values of emails and WeChat ids); `src` the
    normaliser's map to the original text (strict mode)."""
    claims = _Claims(len(text))
    _scan_email(text, claims, folded, plain_at)
    _scan_wechat(text, claims, folded)
    _scan_numbers(text, claims, _STRICT_NUMBERS if strict else _BROAD_NUMBERS, strict, src)
    _scan_qq(text, claims)
    if digit_runs and not strict:
        for m in _RUN_RX.finditer(text):
            a, b = m.span()
            d = m.group(0)
            if not _plain_number(text, a, b, d):
                claims.add(a, b, "digits", d)
    return sorted(claims.found)


# ---------------------------------------------------------------------------- folding raw text
@lru_cache(maxsize=1)
def _fold_tables() -> tuple[dict[int, int], dict[int, int]]:
    """(keep case, lower case): every character whose NFKC form is one printable ASCII character
    (full-width forms, circled and mathematical digits, ＠ …) and every decimal digit (Arabic-Indic …)
    to that character. One to one, so offsets do not move."""
    keep: dict[int, int] = {0x3000: 0x20, 0xA0: 0x20}
    ranges = (range(0x80, 0xD800), range(0xE000, 0x10000), range(0x1D400, 0x1D800), range(0x1F100, 0x1F200))
    for block in ranges:
        for c in block:
            ch = chr(c)
            dec = unicodedata.decimal(ch, None)
            if dec is not None:
                keep[c] = 0x30 + dec
                continue
            n = unicodedata.normalize("NFKC", ch)
            if len(n) == 1 and 0x20 < ord(n) < 0x7F:
                keep[c] = ord(n)
    lower = {c: (t + 32 if 0x41 <= t <= 0x5A else t) for c, t in keep.items()}
    lower.update({c: c + 32 for c in range(0x41, 0x5B)})
    return keep, lower


def _cn_run(m: re.Match[str]) -> str:
    """A run of Chinese numerals (and digits) read as digits when it looks like a number (same rule
    as the normaliser: 2+ Chinese numerals, 5+ digits, 7+ when none is an ASCII digit); separators kept,
    so the length does not change."""
    s = m.group(0)
    n_cn = sum(1 for ch in s if ch in _CN_NUMERAL_CHARS)
    digits = sum(1 for ch in s if ch in _CN_NUMERAL_CHARS or "0" <= ch <= "9")
    has_ascii = any("0" <= ch <= "9" for ch in s)
    if n_cn < 2 or digits < 5 or (not has_ascii and digits < 7):
        return s
    return "".join(_CN_DIGITS.get(ch, ch) for ch in s)


class Folded(NamedTuple):
    text: str  # lower-case, ASCII digits, zero-width characters dropped
    cased: str  # the same with its case kept
    src: list[int] | None  # src[i]: index in the raw text of text[i]; None: the same index


def fold(raw: str) -> Folded:
    """The raw text made fit for the patterns, with a map back to it: zero-width, bidi and control
    characters (and lone surrogates) dropped, full-width and other compatibility forms to ASCII, other
    decimal digits to ASCII digits, Chinese-numeral numbers to digits, ASCII lower-cased."""
    text, src = strip_invisible(raw)
    if text.isascii():
        return Folded(text.lower(), text, src)
    keep_case, lower = _fold_tables()
    cased = text.translate(keep_case)
    low = text.translate(lower)
    if _CN_NUM_HINT.search(low):
        low = _NUMERAL_RUN_RE.sub(_cn_run, low)
        cased = _NUMERAL_RUN_RE.sub(_cn_run, cased)
    return Folded(low, cased, src)


@lru_cache(maxsize=1)
def _possible() -> tuple[re.Pattern[str], re.Pattern[str]]:
    """(for ASCII text, for any text): a character without which `find_personal_data` finds nothing —
    one that folds to an ASCII letter, digit or @ — or two Chinese numerals in a row."""
    keep, _ = _fold_tables()
    chars = sorted(c for c, t in keep.items() if chr(t).isalnum() or t == 0x40)
    parts, start, prev = [], chars[0], chars[0]
    for c in chars[1:] + [-2]:
        if c != prev + 1:
            parts.append(re.escape(chr(start)) + ("-" + re.escape(chr(prev)) if prev > start else ""))
            start = c
        prev = c
    return re.compile("[0-9a-zA-Z@]"), re.compile(f"[0-9a-zA-Z@{''.join(parts)}]|{_CN_NUM_HINT.pattern}")


def find_personal_data(raw: str, *, digit_runs: bool = True) -> list[Found]:
    """Broad detection on raw text (see the module doc): (start, end, kind, value) in RAW offsets,
    non-overlapping, in text order. Kinds: those of `PII_LABELS_ZH` plus "digits" (a bare run of 7+
    digits, when `digit_runs`)."""
    if not raw or _possible()[0 if raw.isascii() else 1].search(raw) is None:
        return []  # no digit, letter, @ or Chinese-numeral number in any form: most Chinese text
    f = fold(raw)
    found = _scan(f.text, strict=False, digit_runs=digit_runs, folded=f.cased)
    if f.src is None or not found:
        return found
    src = f.src
    return [Found(src[a], src[b - 1] + 1, kind, value) for a, b, kind, value in found]


# ---------------------------------------------------------------------------- analysis
@lru_cache(maxsize=1)
def _digit_table() -> tuple[dict[int, int], re.Pattern[str]]:
    """Decimal digits other than ASCII (which NFKC leaves alone: Arabic-Indic …) to ASCII, and a regex
    that finds one."""
    keep, _ = _fold_tables()
    table = {c: t for c, t in keep.items() if 0x30 <= t <= 0x39 and unicodedata.decimal(chr(c), None) is not None}
    return table, re.compile("[" + "".join(re.escape(chr(c)) for c in sorted(table)) + "]")


def needs_scan(norm: Normalized) -> bool:
    """Whether `find_pii` can find anything in this normalised text (`HINT`, or an obfuscated URL)."""
    return bool(HINT.search(norm.text)) or "obfuscated_url" in norm.evasions


def find_pii(norm: Normalized, *, hinted: bool = False) -> list[PIISpan]:
    """PII spans (original-text offsets), non-overlapping, in text order. `hinted`: the caller has
    checked `needs_scan` already (a batch does, over all its texts at once)."""
    text = norm.text
    if not hinted and not needs_scan(norm):
        return []
    if not text.isascii():
        table, other = _digit_table()
        if other.search(text):
            text = text.translate(table)  # digits NFKC leaves alone (Arabic-Indic …)
    plain_at = "obfuscated_url" in norm.evasions
    out = []
    for a, b, kind, _ in _scan(text, strict=True, plain_at=plain_at, src=norm.src):
        s, e = norm.span(a, b)
        out.append(PIISpan(kind=kind, start=s, end=e))
    return out
