"""core.jsontext.dumps writes what the standard encoder writes, and loads reads what the standard
decoder reads, for every JSON-like value and every text."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from hypothesis import given, settings, strategies as st

import pytest

from core.jsontext import dumps, loads

STDLIB = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)

exact = st.none() | st.booleans() | st.integers() | st.text()  # text with lone surrogates; integers beyond 64 bits
keys = st.text() | st.integers(min_value=-2**63, max_value=2**63 - 1) | st.booleans()


def nested(scalars):
    return st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.tuples(inner, inner)
                        | st.dictionaries(keys, inner, max_size=4), max_leaves=20)


@settings(max_examples=400)
@given(nested(exact))
def test_same_text_as_the_standard_encoder(value):
    assert dumps(value) == STDLIB.encode(value)


@settings(max_examples=400)
@given(nested(exact | st.floats(allow_nan=False, allow_infinity=False)))
def test_floats_read_back_the_same(value):
    """Floats may be spelt differently (5.96e-8 for 5.96e-08), never read back differently."""
    assert json.loads(dumps(value)) == json.loads(STDLIB.encode(value))


@dataclass
class _Span:
    kind: str
    start: int


def test_values_the_standard_encoder_writes_with_str_stay_so():
    at = datetime(2026, 3, 1, 8, 30, tzinfo=timezone.utc)
    value = {"at": at, "span": _Span("phone", 3), "ids": {1, 2} - {2}, "n": np.int64(7)}
    assert dumps(value) == STDLIB.encode(value)


def test_numpy_floats_are_numbers():
    assert dumps({"w": np.float64(0.25)}) == '{"w":0.25}'
    assert json.loads(dumps([np.float64(1e16)])) == [1e16]


def test_deep_nesting_falls_back_to_the_standard_encoder():
    deep: list = []
    for _ in range(300):
        deep = [deep]
    assert dumps(deep) == STDLIB.encode(deep)


def test_non_finite_floats_become_null():
    assert json.loads(dumps([math.nan, math.inf])) == [None, None]


def _decoded(text):
    """What the standard decoder makes of a text: its value, or its error's type and message."""
    try:
        return "value", json.loads(text)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


def _read(text):
    try:
        return "value", loads(text)
    except (ValueError, RecursionError) as exc:
        return type(exc).__name__, str(exc)


def _same(a, b):
    """Equal, with NaN equal to itself (json.loads reads the NaN literal)."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    return a == b


any_json = nested(exact | st.floats())


@settings(max_examples=400)
@given(any_json)
def test_loads_reads_what_the_standard_decoder_reads(value):
    text = json.dumps(value, ensure_ascii=False)  # with NaN/Infinity literals, big integers, lone surrogates
    assert _same(_read(text), _decoded(text))
    ascii_text = json.dumps(value)
    assert _same(_read(ascii_text), _decoded(ascii_text))


# pieces of JSON and near-JSON, so the texts are often almost valid
FRAGMENTS = ["{", "}", "[", "]", '"', ",", ":", "0", "-1", "2.5", "1e400", "99999999999999999999", "true", "nul",
             "NaN", "Infinity", "-Infinity", " ", "\n", "\\", "\\u", "\\ud800", "\\n", "\ud800", "\x00", "é", "汉"]


@settings(max_examples=400)
@given(st.lists(st.sampled_from(FRAGMENTS), max_size=12).map("".join) | st.text())
def test_loads_refuses_what_the_standard_decoder_refuses_with_its_message(text):
    assert _same(_read(text), _decoded(text))


@pytest.mark.parametrize("text", ["[NaN]", "1e400", "123456789012345678901234567890", '"\\ud800"', "[" * 5000 + "]" * 5000,
                                  '{"a":1,"a":2}', "", "\ufeff{}"])
def test_loads_edge_texts_as_the_standard_decoder(text):
    assert _same(_read(text), _decoded(text))
