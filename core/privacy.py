"""Privacy over time: retention (personal data redacted after `retention.pii_days`, posts deleted after
`retention.posts_days` with their counts kept as aggregates) and erasure of one author's posts on
request. The SQL lives in the store (store/sqlite/privacy.py); this module holds the policy, the job
the service runs (`apply_retention`), and the text helpers both use.

Personal data is found and masked by the one masking code of the project (`core.masking`): stored
texts become `redact_spans(text, analysis spans)`, author names `mask_name`.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Callable, Iterable, Sequence

from core.masking import mask, redact

REMOVED = "［已删除］"  # what an erased quotation becomes in alert and case texts
MIN_QUOTE = 6  # characters a piece of an alert text must share with an erased text to be cut out
# how often retention merges the search index so the terms of redacted and deleted posts leave the file
# (erasure does it at once): the merge rewrites the whole index
LEFTOVERS_EVERY = timedelta(days=1)


@dataclass(frozen=True)
class RetentionPolicy:
    """How long posts and their personal data are kept; None: for ever."""

    posts_days: float | None = None
    pii_days: float | None = None

    @classmethod
    def from_settings(cls, settings: Any) -> "RetentionPolicy":
        return cls(settings.retention_posts_days, settings.retention_pii_days)

    @property
    def active(self) -> bool:
        return self.posts_days is not None or self.pii_days is not None


@dataclass
class RetentionReport:
    redacted: int = 0  # posts whose personal data was replaced in place
    purged: int = 0  # posts deleted (counts kept in the aggregates)
    dead_redacted: int = 0
    dead_purged: int = 0
    unfinished: bool = False  # the time budget ran out; the next run goes on
    leftovers: bool = False  # the search index was merged so deleted terms are gone from the file too

    @property
    def changed(self) -> bool:
        return bool(self.redacted or self.purged or self.dead_redacted or self.dead_purged)

    def summary(self, policy: RetentionPolicy) -> str:
        parts = []
        if self.redacted or self.dead_redacted:
            parts.append(f"遮盖了 {self.redacted} 条帖子和 {self.dead_redacted} 条死信中的个人信息"
                         f"（超过 {policy.pii_days:g} 天）")
        if self.purged or self.dead_purged:
            parts.append(f"删除了 {self.purged} 条帖子及其分析、标记和 {self.dead_purged} 条死信"
                         f"（超过 {policy.posts_days:g} 天；帖子计数已并入汇总表）")
        text = "数据保留：" + "，".join(parts or ["无需处理"])
        return text + ("；本轮时间用完，下次继续" if self.unfinished else "")


def _drain(step: Callable[[], int], batch: int, deadline: float) -> tuple[int, bool]:
    """Run `step` (one batch; returns rows done) until a short batch or the deadline; returns the
    rows done and whether it finished."""
    total = 0
    while True:
        n = step()
        total += n
        if n < batch:
            return total, True
        if time.monotonic() > deadline:
            return total, False


def apply_retention(store: Any, policy: RetentionPolicy, now: datetime, budget_s: float = 20.0,
                    batch: int = 500) -> RetentionReport:
    """One run of the retention job: redact, then delete, batch by batch, until done or the time
    budget is spent (a later run continues where this one stopped)."""
    report = RetentionReport()
    deadline = time.monotonic() + budget_s
    if policy.pii_days is not None:
        cutoff = _cutoff(now, policy.pii_days)
        report.redacted, done = _drain(lambda: store.redact_personal_data(cutoff, batch), batch, deadline)
        if not done:
            report.unfinished = True
            return report
        report.dead_redacted = store.redact_dead_letters(cutoff)
    if policy.posts_days is not None:
        cutoff = _cutoff(now, policy.posts_days)
        report.purged, done = _drain(lambda: store.purge_posts(cutoff, batch), batch, deadline)
        if not done:
            report.unfinished = True
            return report
        report.dead_purged = store.purge_dead_letters(cutoff)
    if report.changed:  # no later than personal data may be kept, and at most daily otherwise
        every = min(LEFTOVERS_EVERY, timedelta(days=policy.pii_days if policy.pii_days is not None else 1))
        report.leftovers = store.purge_leftovers(now, every=every)
    return report


def _cutoff(now: datetime, days: float) -> datetime:
    """What is older than this goes. For a day or more, the start of the hour: the job then has work
    once an hour (one log line, one audit event), and deleted posts leave whole hours to the hourly
    aggregates. Under a day (pii_days: 0), the moment itself."""
    cutoff = now - timedelta(days=days)
    return cutoff.replace(minute=0, second=0, microsecond=0) if days >= 1 else cutoff


# ---------------------------------------------------------------------------- erased quotations
def quote_sources(texts: Iterable[tuple[str, Sequence[Any]]]) -> list[str]:
    """The forms in which erased texts may be quoted elsewhere (alert titles and bodies, case titles,
    report excerpts): each text on one line, as is and masked (`core.masking.excerpt`'s form).
    `texts` holds (text, PII spans of its analysis, or ())."""
    out: dict[str, None] = {}
    for text, spans in texts:
        if not text:
            continue
        for form in (text, redact(mask(text, spans) if spans else text)):
            flat = " ".join(form.split())
            if len(flat) >= 2:
                out[flat] = None
    return list(out)


def strip_quotes(text: str, sources: Sequence[str], min_len: int = MIN_QUOTE) -> str:
    """`text` with every piece it shares with one of `sources` cut out (replaced by ［已删除］): a
    piece counts when it is at least `min_len` characters long, or the whole of a shorter source.
    Quotations are cut wherever they start, also when shortened with “…”."""
    if not text or not sources:
        return text
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        best = 0
        for src in sources:
            need = min(min_len, len(src))
            length = 0
            while i + length < n and text[i:i + length + 1] in src:
                length += 1
            if length >= need and length > best:
                best = length
        if best:
            if not out or out[-1] != REMOVED:
                out.append(REMOVED)
            i += best
        else:
            out.append(text[i])
            i += 1
    return "".join(out)
