"""Masking personal data for display and delivery.

nlp/ finds PII spans (offsets into the original text); `mask` replaces them (a post shown with its
own analysis). Any other free text that leaves the store for a role that may not see personal data
passes `redact`, which finds the personal data itself.
"""
from __future__ import annotations

from typing import Sequence

from core.domain import PIISpan

EXCERPT_CHARS = 60


def mask_value(value: str, kind: str) -> str:
    """Keep just enough to recognise the value: 138****5678, 1101**********1234, z***@example.com."""
    if kind == "email" and "@" in value:
        name, _, domain = value.partition("@")
        return (name[:1] + "***@" + domain) if name else "***@" + domain
    n = len(value)
    if n <= 4:
        return "*" * n
    if n <= 6:  # a short QQ number: two of its digits at most
        return value[0] + "*" * (n - 2) + value[-1]
    keep_head = 3 if kind == "phone" else 4 if kind in ("id_card", "bank_card") else 2
    keep_tail = 4 if n > 8 else 2
    keep_head = min(keep_head, max(n - keep_tail - 1, 1))
    return value[:keep_head] + "*" * (n - keep_head - keep_tail) + value[n - keep_tail:]


def mask(text: str, spans: Sequence[PIISpan]) -> str:
    """`text` with every PII span replaced by its masked form. Overlapping spans are merged."""
    return _apply(text, _span_edits(text, spans))


def _span_edits(text: str, spans: Sequence[PIISpan]) -> list[tuple[int, int, str]]:
    """(start, end, masked value) for the spans, in order, overlaps merged into the first."""
    edits: list[tuple[int, int, str]] = []
    pos = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        start, end = max(span.start, pos), min(span.end, len(text))
        if end <= start:
            continue
        edits.append((start, end, mask_value(text[start:end], span.kind)))
        pos = end
    return edits


def _apply(text: str, edits: Sequence[tuple[int, int, str]]) -> str:
    if not edits:
        return text
    out: list[str] = []
    pos = 0
    for start, end, new in edits:
        out.append(text[pos:start])
        out.append(new)
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _moved(pos: int, edits: Sequence[tuple[int, int, str]], is_end: bool) -> int:
    """Where position `pos` lies after `edits`. A span's start inside an edit goes to the start of
    the replacement, a span's end inside (or at the end of) an edit to the end of the replacement."""
    shift = 0
    for start, end, new in edits:
        if end < pos or (end == pos and not is_end):
            shift += len(new) - (end - start)
        elif start <= pos if not is_end else start < pos:
            return start + shift + (len(new) if is_end else 0)
        else:
            break
    return pos + shift


def redact_spans(text: str, spans: Sequence[PIISpan] = ()) -> tuple[str, list[PIISpan]]:
    """What retention stores in place of a text whose personal data may no longer be kept: the text
    `redact`ed, plus any span of its analysis that `redact` did not find masked as well; and the
    spans moved to where their masked values now are (the analysis keeps that personal data was
    there, and where, not the value). When `redact` finds every span, the text is `redact(text)`."""
    found = _found_edits(text, True)
    extra = [e for e in _span_edits(text, spans) if not any(s < e[1] and e[0] < t for s, t, _ in found)]
    edits = sorted(found + extra)
    out = _apply(text, edits)
    moved: list[PIISpan] = []
    for span in spans:
        start = _moved(max(span.start, 0), edits, False)
        end = _moved(min(span.end, len(text)), edits, True)
        if start < end <= len(out):
            moved.append(PIISpan(span.kind, start, end))
    return out, moved


def redact(text: str, *, digit_runs: bool = True) -> str:
    """THE masking function for free text that leaves the store for a role that may not see personal
    data: post text without a fresh analysis, thread names, reasons, alert titles and bodies, notifier
    messages, exports, logs. It finds the personal data itself (no `Analysis` needed), broadly and
    without checksums (`nlp.pii.find_personal_data`): ID- and card-shaped numbers, mobile numbers in
    any separated, full-width or Chinese-numeral form (+86 kept in clear), landlines with an area code,
    400/800 numbers, emails (also name(at)abc.cn, name 艾特 abc点com, name at abc dot com), QQ numbers
    and WeChat ids after a context word, wxid_…; with `digit_runs` also any other run of 7+ digits.
    Each value becomes its `mask_value` form: 138****5678, 1101**********123X, z***@abc.cn.

    Left alone: dates and times (2026-03-01, 2026-03-01 08:30, 2026年3月1日, and 20260301: an 8-digit
    run that is a valid date from 1900 to 2099), amounts (3000元, 1.5万, ¥1500000, 1234567.89),
    percentages, version numbers, numbers of up to 6 digits (#12345). A masked value is never found
    again, so `redact(redact(x)) == redact(x)`. Never raises for a str; linear in its length."""
    return _apply(text, _found_edits(text, digit_runs))


def _found_edits(text: str, digit_runs: bool) -> list[tuple[int, int, str]]:
    if not text:
        return []
    return [(start, end, mask_value(value, "qq" if kind == "digits" else kind))
            for start, end, kind, value in _find(text, digit_runs)]


def _find(text: str, digit_runs: bool):
    global _finder
    if _finder is None:
        from nlp.pii import find_personal_data  # lazily: nlp imports core

        _finder = find_personal_data
    return _finder(text, digit_runs=digit_runs)


_finder = None


def mask_name(name: str) -> str:
    """A display name as masked viewers see it: its first character only (张**), and only when that
    character is no digit or letter of an account id (a QQ number is an author id too)."""
    if not name:
        return name
    first = name[0] if not name[0].isascii() or not name[0].isalnum() else "*"
    return first + "*" * min(max(len(name) - 1, 1), 3)


def excerpt(text: str, spans: Sequence[PIISpan], limit: int = EXCERPT_CHARS) -> str:
    """The text with personal data masked, on one line, cut to `limit` characters."""
    flat = " ".join(redact(mask(text, spans)).split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
