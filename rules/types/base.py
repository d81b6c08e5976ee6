"""The rule type contract (ElastAlert's RuleType, made pure).

A rule type sees analysed posts and reports matches; it never touches the store, the network or
the clock. The engine feeds it with `consume(items)`, collects `matches()`, asks `describe(match)`
for the type's template values and calls `expire(now)` with event time to forget old windows.
A subclass declares its options (JSON schema, checked before construction), the actions it
supports and its extra template placeholders, and fills in `add(item)`.
"""
from __future__ import annotations

import abc
from datetime import timedelta
from typing import Any, ClassVar, Iterable
from zoneinfo import ZoneInfo

from core.errors import ConfigError
from rules.model import Item, Match, RuleSpec

DURATION_UNITS = {"seconds": 1, "minutes": 60, "hours": 3600, "days": 86400}
DURATION_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {unit: {"type": "number", "minimum": 0} for unit in DURATION_UNITS},
}


def parse_duration(spec: dict[str, float], file: str, where: str, allow_zero: bool = False) -> timedelta:
    """`{minutes: 60}` / `{hours: 1, minutes: 30}` → timedelta."""
    if not spec:
        raise ConfigError(file, where, "时长至少写一个单位，例如 {minutes: 60}；可用单位：" + "、".join(DURATION_UNITS))
    seconds = sum(float(v) * DURATION_UNITS[unit] for unit, v in spec.items())
    if seconds <= 0 and not allow_zero:
        raise ConfigError(file, where, "时长必须大于 0")
    return timedelta(seconds=seconds)


class RuleType(abc.ABC):
    type_name: ClassVar[str]
    title_zh: ClassVar[str]
    actions: ClassVar[tuple[str, ...]] = ("flag", "alert")  # actions this type supports
    required_actions: ClassVar[tuple[str, ...]] = ()
    options_schema: ClassVar[dict[str, Any]] = {}  # extra rule keys: name -> JSON schema
    required_options: ClassVar[tuple[str, ...]] = ()
    template_fields: ClassVar[dict[str, tuple[str, Any]]] = {}  # beyond the per-post fields
    default_query_key: ClassVar[str | None] = None

    def __init__(self, rule: RuleSpec, tz: ZoneInfo) -> None:
        self.rule = rule
        self.tz = tz
        self._pending: list[Match] = []

    @classmethod
    def prepare_options(cls, raw: dict[str, Any], file: str, where: str) -> dict[str, Any]:
        """Turn the (schema-valid) type options of a rule into values; durations become timedeltas.
        Subclasses may add cross-field checks and raise ConfigError."""
        out: dict[str, Any] = {}
        for name, schema in cls.options_schema.items():
            if name in raw:
                value = raw[name]
                out[name] = parse_duration(value, file, f"{where}.{name}") if schema is DURATION_SCHEMA else value
            elif "default" in schema:
                out[name] = schema["default"]
        return out

    # ------------------------------------------------------------------ the contract
    def consume(self, items: Iterable[Item]) -> None:
        """Feed analysed posts, oldest first; the ones passing the rule's filter reach `add`."""
        for item in self.rule.filter.select(items):
            self.add(item)

    @abc.abstractmethod
    def add(self, item: Item) -> None:
        """One post that passed the filter. Append any Match to `self._pending`."""

    def matches(self) -> list[Match]:
        """The matches found since the last call (and forget them)."""
        out, self._pending = self._pending, []
        return out

    def describe(self, match: Match) -> dict[str, Any]:
        """Template values of this type (the per-post values are added by the engine)."""
        return {}

    def expire(self, now: Any) -> None:
        """Forget window contents older than `now` (event time) minus the timeframe."""

    def tick(self, now: Any) -> None:
        """Time passed (the engine's clock, or stream time in a backtest), posts or not: rules about
        the absence of posts (flatline) report here."""

    @property
    def timeframe(self) -> timedelta | None:
        """How much history the type keeps (None: none); `warm` replays that much after a restart."""
        return None

    # ------------------------------------------------------------------ helpers
    @property
    def query_key(self) -> str | None:
        return self.rule.query_key or self.default_query_key

    def key_of(self, item: Item) -> str | None:
        qk = self.query_key
        return item.value(qk) if qk else None
