"""Personal data in a post: mobile numbers, ID numbers (checksum), bank cards (Luhn), emails, QQ.

Detection runs on the normalised text (so 一三八…, full-width digits and spaced-out numbers are
found) and reports spans in the ORIGINAL text via the normaliser's offset map.
"""
from __future__ import annotations

import re
from datetime import date

from core.domain import PIISpan
from nlp.normalize import Normalized

# No PII without one of these: 11 digits (phone, ID, card), 4+4 digits (a spaced card), QQ, @ (email).
# Lets a batch skip most posts; written to start with one character class (a fast scan in C).
HINT = re.compile(r"[\dQ@](?:(?<=\d)(?:\d{10}|\d{3}[ \-]\d{4})|(?<=Q)Q|(?<=@))")
_ID_RE = re.compile(r"(?<![0-9x])\d{17}[0-9x](?![0-9x])")
_CARD_RE = re.compile(r"(?<!\d)(?:\d{4}[ \-]){3}\d{4}(?:[ \-]?\d{1,3})?(?!\d)|(?<!\d)\d{16,19}(?!\d)")
_PHONE_RE = re.compile(r"(?<!\d)(?:\+?86[ \-]?)?1[3-9]\d{9}(?!\d)")
_EMAIL_RE = re.compile(r"[a-z0-9][a-z0-9._%+\-]*@[a-z0-9\-]+(?:\.[a-z0-9\-]+)*\.[a-z]{2,}")
_QQ_RE = re.compile(r"QQ(?:号|号码)?\s*[:：]?\s*([1-9]\d{4,10})(?!\d)")

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


def find_pii(norm: Normalized) -> list[PIISpan]:
    """PII spans (original-text offsets), non-overlapping, in text order."""
    text = norm.text
    if not HINT.search(text):
        return []
    found: list[tuple[int, int, str]] = []

    def free(a: int, b: int) -> bool:
        return all(b <= s or a >= e for s, e, _ in found)

    for m in _ID_RE.finditer(text):
        if id_card_valid(m.group(0)):
            found.append((m.start(), m.end(), "id_card"))
    for m in _CARD_RE.finditer(text):
        digits = re.sub(r"\D", "", m.group(0))
        if 16 <= len(digits) <= 19 and luhn_valid(digits) and free(*m.span()):
            found.append((m.start(), m.end(), "bank_card"))
    for m in _PHONE_RE.finditer(text):
        if free(*m.span()):
            found.append((m.start(), m.end(), "phone"))
    if "QQ" in text:
        for m in _QQ_RE.finditer(text):
            if free(*m.span(1)):
                found.append((m.start(1), m.end(1), "qq"))
    if "@" in text:
        for m in _EMAIL_RE.finditer(text):
            if free(*m.span()):
                found.append((m.start(), m.end(), "email"))
    found.sort()
    out = []
    for a, b, kind in found:
        s, e = norm.span(a, b)
        out.append(PIISpan(kind=kind, start=s, end=e))
    return out
