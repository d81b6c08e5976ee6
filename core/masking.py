"""Masking personal data for display and delivery.

nlp/ finds PII spans (offsets into the original text); everything that shows or sends a post's
text to someone who must not see the personal data in clear calls `mask`.
"""
from __future__ import annotations

import re

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
    keep_head = 3 if kind == "phone" else 4 if kind in ("id_card", "bank_card") else 2
    keep_tail = 4 if n > 8 else 2
    keep_head = min(keep_head, max(n - keep_tail - 1, 1))
    return value[:keep_head] + "*" * (n - keep_head - keep_tail) + value[n - keep_tail:]


def mask(text: str, spans: Sequence[PIISpan]) -> str:
    """`text` with every PII span replaced by its masked form. Overlapping spans are merged."""
    if not spans:
        return text
    out: list[str] = []
    pos = 0
    for span in sorted(spans, key=lambda s: (s.start, -s.end)):
        start, end = max(span.start, pos), min(span.end, len(text))
        if end <= start:
            continue
        out.append(text[pos:start])
        out.append(mask_value(text[start:end], span.kind))
        pos = end
    out.append(text[pos:])
    return "".join(out)


# Defence in depth for text that leaves the system: if the analysis is for an older version of an
# edited post its spans may be off, so long digit runs, phone numbers and emails are masked anyway.
_FALLBACK = (
    (re.compile(r"1[3-9]\d[ -]?\d{4}[ -]?\d{4}"), "phone"),
    (re.compile(r"\d{7,}"), "qq"),
    (re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+"), "email"),
)


def excerpt(text: str, spans: Sequence[PIISpan], limit: int = EXCERPT_CHARS) -> str:
    """The text with personal data masked, on one line, cut to `limit` characters."""
    masked = mask(text, spans)
    for pattern, kind in _FALLBACK:
        masked = pattern.sub(lambda m: m.group() if "*" in m.group() else mask_value(m.group(), kind), masked)
    flat = " ".join(masked.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
