"""Properties of retention's redaction (core.masking.redact_spans, run by the retention job on a real
store) and of cutting erased quotations out of alert texts (core.privacy.strip_quotes)."""
from __future__ import annotations

import re
import tempfile
from datetime import timedelta
from pathlib import Path

import jieba
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core.domain import Analysis, PIISpan, Post, Sentiment, utcnow
from core.masking import redact_spans
from core.privacy import REMOVED, RetentionPolicy, apply_retention, strip_quotes
from nlp.pii import find_personal_data
from store.base import RuleResults
from store.sqlite import SqliteStore

pytestmark = pytest.mark.properties

FILLER = st.text(alphabet="食堂停车工资绩效职称的了吗，。！？ 好差老师同事学校后勤abcxyz", max_size=40)
SEPARATORS = st.sampled_from(["", " ", "-", " - ", "."])
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


@st.composite
def phones(draw) -> tuple[str, str]:
    """(the digits, the number as written): separated, full-width, with +86 or not."""
    digits = "1" + draw(st.sampled_from("3456789")) + "".join(draw(st.lists(st.sampled_from("0123456789"),
                                                                              min_size=9, max_size=9)))
    sep = draw(SEPARATORS)
    written = sep.join([digits[:3], digits[3:7], digits[7:]])
    if draw(st.booleans()):
        written = written.translate(FULL_WIDTH)
    if draw(st.booleans()):
        written = "+86 " + written
    return digits, written


@st.composite
def texts_with_phones(draw) -> tuple[str, list[str]]:
    parts, numbers = [draw(FILLER)], []
    for _ in range(draw(st.integers(1, 3))):
        digits, written = draw(phones())
        numbers.append(digits)
        parts += [f" 电话{written} ", draw(FILLER)]
    return "".join(parts), numbers


def digits_of(text: str) -> str:
    return re.sub(r"\D", "", text.translate({ord(c): ord("0") + i for i, c in enumerate("０１２３４５６７８９")}))


def spans_of(text: str) -> list[PIISpan]:
    return [PIISpan("qq" if f.kind == "digits" else f.kind, f.start, f.end) for f in find_personal_data(text)]


@settings(max_examples=300, deadline=None)
@given(texts_with_phones())
def test_redacted_text_keeps_no_phone_number_and_spans_still_fit(case):
    text, numbers = case
    out, moved = redact_spans(text, spans_of(text))
    assert not [f for f in find_personal_data(out) if f.kind == "phone"]
    for digits in numbers:
        assert digits not in digits_of(out)
    assert redact_spans(out, moved)[0] == out  # a second run changes nothing
    assert all(0 <= s.start < s.end <= len(out) and "*" in out[s.start:s.end] for s in moved)
    assert [s.kind for s in moved] == [s.kind for s in spans_of(text)]


@settings(max_examples=300, deadline=None)
@given(FILLER)
def test_text_without_personal_data_is_kept_as_is(text):
    assert redact_spans(text, []) == (text, [])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(texts_with_phones(), min_size=1, max_size=4))
def test_the_retention_job_with_pii_days_0_redacts_every_stored_phone_number(cases):
    now = utcnow()
    with tempfile.TemporaryDirectory() as tmp:
        store = SqliteStore(Path(tmp) / "sentinel.db", tokenize=lambda t: list(jieba.cut_for_search(t)))
        store.migrate()
        try:
            posts = [Post(channel="qq", source_id=f"s{i}", author="a", text=text, thread=f"群{numbers[0]}",
                          created_at=now - timedelta(minutes=5)) for i, (text, numbers) in enumerate(cases)]
            store.ingest("t", posts, None)
            store.save_analyses([(p, Analysis(normalized=p.text, tokens=[],
                                              sentiment=Sentiment.NEU, polarity=0.0, spam=0.0, rumour=0.0,
                                              pii=spans_of(p.text), model_version="t")) for p in posts])
            store.commit_rule_results(RuleResults(seen=[(p.id, p.version) for p in posts]))
            assert apply_retention(store, RetentionPolicy(pii_days=0), now).redacted == len(posts)
            for p, (_, numbers) in zip(posts, cases):
                stored = store.get_post(p.id)
                for digits in numbers:
                    assert digits not in digits_of(stored.text + stored.thread)
                    assert digits not in digits_of(store.get_analysis(p.id).normalized)
                    assert store.search(digits) == []
        finally:
            store.close()


OTHER = st.text(alphabet="食堂停车工资绩效职称的了吗，。！？ 好差老师同事学校abcxyz", max_size=40)


@settings(max_examples=200, deadline=None)
@given(OTHER, st.text(alphabet="王五举报处长收回扣证据确凿", min_size=6, max_size=30), OTHER)
def test_an_erased_quotation_is_cut_out_wherever_it_stands_and_nothing_else(before, quoted, after):
    assert strip_quotes(f"{before}{quoted[:20]}…{after}", [quoted]) == f"{before}{REMOVED}…{after}"
    assert strip_quotes(f"{before}{after}", [quoted]) == f"{before}{after}"
