"""规则: the rules in use, each with how often moderators upheld its flags (precision), so noisy
rules show up and can be tuned (then tried with `python -m rules.backtest`)."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask import Blueprint, render_template

from core.errors import ConfigError
from dashboard import roles
from dashboard.auth import require_role
from dashboard.context import services
from rules.loader import load_rules
from rules.model import RuleSpec

bp = Blueprint("rulebook", __name__)
MIN_DECIDED = 5  # fewer decided flags than this: too few to judge a rule
NOISY_BELOW = 0.5  # a rule whose flags are upheld less than half the time is marked noisy


@dataclass
class RuleRow:
    spec: RuleSpec
    flagged: int
    decided: int
    removed: int

    @property
    def precision(self) -> float | None:
        return self.removed / self.decided if self.decided >= MIN_DECIDED else None

    @property
    def noisy(self) -> bool:
        return self.precision is not None and self.precision < NOISY_BELOW

    @property
    def actions(self) -> str:
        names = {"flag": "送审", "alert": "预警", "case": "事件"}
        return "、".join(label for key, label in names.items() if getattr(self.spec, key) is not None)


@bp.get("/rules")
@require_role(*roles.RULES)
def index() -> Any:
    s = services()
    error = None
    try:
        specs = load_rules(s.settings.rules_file, [n["name"] for n in s.settings.notifiers])
    except ConfigError as exc:
        specs, error = [], str(exc)
    outcomes = s.store.rule_outcomes()
    rows = [RuleRow(spec, *outcomes.get(spec.name, (0, 0, 0))) for spec in specs]
    return render_template("rules/list.html", rows=rows, error=error, rules_file=str(s.settings.rules_file),
                           min_decided=MIN_DECIDED)
