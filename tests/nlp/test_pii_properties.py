"""`find_pii` on the normalised text: properties (Hypothesis).

Invariants:
- for any text (`st.text()` and a soup of digits, separators and context words) `find_pii` never
  raises, and its spans lie within the original text, are non-empty, sorted and non-overlapping;
- every valid personal value (mobile number, ID number with a valid checksum, Luhn-valid bank card,
  email, QQ number and WeChat id after a context word), written in any of the obfuscations of
  `tests/core/test_masking.py` and embedded anywhere in filler text, is covered by a span of its kind,
  and `mask` with those spans leaves no value whole;
- text made only of things that are not personal data yields no span.
"""
from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from core.masking import mask
from nlp.normalize import _SPACED_RE, Normalizer
from nlp.pii import find_pii
from tests.core.test_masking import (NOT_PII, Doc, card_values, documents, email_values, examples, folded,
                                     id_values, phone_values, qq_values, survives, wechat_values)

pytestmark = pytest.mark.properties
NORMALIZER = Normalizer()
KINDS = {"phone": {"phone"}, "id": {"id_card", "bank_card"}, "card": {"bank_card", "id_card"}, "qq": {"qq", "phone"},
         "wechat": {"wechat"}, "email": {"email"}}


def spans_of(text: str):
    return find_pii(NORMALIZER(text))


def check_spans(text: str, spans) -> None:
    end = 0
    for s in spans:
        assert 0 <= s.start < s.end <= len(text), (text, spans)
        assert s.start >= end, (text, spans)  # sorted, no overlap
        end = s.end


@settings(max_examples=examples(600), deadline=None)
@given(st.text())
def test_spans_are_in_bounds_sorted_and_disjoint_for_any_text(text: str) -> None:
    check_spans(text, spans_of(text))


@settings(max_examples=examples(600), deadline=None)
@given(st.text(alphabet=st.sampled_from("0123456789 -.+()@xX微信QQq:：号艾特at点dot扣企鹅vw_１３８一三八九零\u200b\u3000"),
               max_size=60))
def test_spans_are_in_bounds_sorted_and_disjoint_for_number_soup(text: str) -> None:
    check_spans(text, spans_of(text))


def spaced_out(doc: Doc, start: int, end: int, v) -> bool:
    """The normaliser reads single characters between separators as spaced-out text ("a_0_00" becomes
    "a000_00", "a_0 at" becomes "a0at"): such WeChat ids and email names are lost to find_pii, which
    only sees the normalised text (`redact`, on the raw text, still masks them)."""
    return v.kind in ("wechat", "email") and _SPACED_RE.search(folded(doc.text[max(0, start - 1):end + 2])) is not None


valid_values = st.one_of(phone_values(), id_values(valid=True), card_values(), qq_values(), wechat_values(),
                         email_values())


@settings(max_examples=examples(800), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(documents(valid_values))
def test_every_obfuscated_value_is_found_and_masked(doc: Doc) -> None:
    spans = spans_of(doc.text)
    check_spans(doc.text, spans)
    out = folded(mask(doc.text, spans))
    for start, end, v in doc.values:
        if spaced_out(doc, start, end, v):
            continue
        kinds = {s.kind for s in spans if s.start < end and s.end > start}
        assert kinds & KINDS[v.kind], (v, doc.text, spans)
        if v.kind == "email":
            assert v.extra["local"] + "@" not in out and v.canonical not in out, (v, out)
        elif v.kind == "wechat":
            assert v.canonical not in out, (v, out)
        else:
            assert not survives(v.canonical, out), (v, out)


@settings(max_examples=examples(400), deadline=None)
@given(st.lists(st.tuples(NOT_PII, st.sampled_from(["，", "。", "、", "；", "！", "的", "和", "在"])), max_size=8))
def test_text_without_personal_data_has_no_span(pieces) -> None:
    text = "".join(p + j for p, j in pieces)
    assert spans_of(text) == []
