"""Rules: YAML rule files, rule types behind a registry, and the engine that runs them.

See rules/README.md for the rule language. `RuleEngine.from_file(path, notifier_names)` loads and
validates a file; `engine.warm(store, now)` after a start, `engine.process(store, limit)` per batch.
"""
from __future__ import annotations

from rules.engine import RuleEngine
from rules.loader import load_rules
from rules.model import Item, Match, RuleSpec
from rules.types import RULE_TYPES, RuleType

__all__ = ["RULE_TYPES", "Item", "Match", "RuleEngine", "RuleSpec", "RuleType", "load_rules"]
