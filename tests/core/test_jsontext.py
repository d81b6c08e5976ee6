"""core.jsontext.dumps writes what the standard encoder writes, for every JSON-like value."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from datetime import datetime, timezone

import numpy as np
from hypothesis import given, settings, strategies as st

from core.jsontext import dumps

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
