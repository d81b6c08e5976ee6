"""Rule types, found by name. Adding one is a new file here plus one line in `RULE_TYPES`."""
from __future__ import annotations

from core.registry import Registry
from rules.types.base import RuleType
from rules.types.flatline import FlatlineRule
from rules.types.frequency import FrequencyRule
from rules.types.match import MatchRule
from rules.types.new_term import NewTermRule
from rules.types.spike import SpikeRule
from rules.types.spread import SpreadRule

RULE_TYPES: Registry[RuleType] = Registry("规则类型", {
    "match": MatchRule,
    "frequency": FrequencyRule,
    "spread": SpreadRule,
    "spike": SpikeRule,
    "flatline": FlatlineRule,
    "new_term": NewTermRule,
})

__all__ = ["RULE_TYPES", "RuleType"]
