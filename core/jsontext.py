"""Compact JSON text for the hot paths (saving posts and analyses), with orjson.

`dumps(value)` gives the text `json.dumps(value, ensure_ascii=False, separators=(",", ":"),
default=str)` gives, about ten times faster: the store writes several JSON columns per post, and
the standard encoder was a tenth of the pipeline's time. Values orjson refuses (integers beyond 64
bits, lone surrogates, nesting deeper than 254) are written by the standard encoder. Two
differences: a float may be spelt differently (`5.96e-8` for `5.96e-08`; it reads back the same),
and NaN and infinities become `null` (standard JSON) instead of the `NaN` literal the standard
encoder writes and other parsers refuse.
"""
from __future__ import annotations

import json
from dataclasses import fields
from typing import Any, Sequence

import orjson

_STDLIB = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), default=str)
# datetimes and dataclasses go to `_default` (str), as with the standard encoder
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def _default(value: Any) -> Any:
    if isinstance(value, float):  # a float subclass (numpy.float64): a number, as the standard encoder writes it
        return float(value)
    return str(value)


def dumps(value: Any) -> str:
    try:
        return orjson.dumps(value, default=_default, option=_OPTIONS).decode("utf-8")
    except (orjson.JSONEncodeError, RecursionError):
        return _STDLIB.encode(value)


_RECORD_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME


def dumps_records(items: Sequence[Any]) -> str:
    """Dataclass instances as a JSON array of objects, their fields in declaration order: the text
    `dumps([{f.name: getattr(x, f.name) for f in fields(x)} for x in items])` gives, without
    building those dicts."""
    try:
        return orjson.dumps(items, default=_default, option=_RECORD_OPTIONS).decode("utf-8")
    except (orjson.JSONEncodeError, RecursionError):
        return _STDLIB.encode([{f.name: getattr(x, f.name) for f in fields(x)} for x in items])
