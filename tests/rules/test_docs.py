"""rules/README.md documents every rule type, condition and placeholder, and its examples load."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from rules import RULE_TYPES, load_rules
from rules.filters import CONDITIONS
from rules.templates import POST_FIELDS, WINDOW_FIELDS

README = Path(__file__).resolve().parents[2] / "rules" / "README.md"
DEFAULT = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"


def readme() -> str:
    return README.read_text(encoding="utf-8")


def yaml_blocks() -> list[str]:
    return [b for b in re.findall(r"```yaml\n(.*?)```", readme(), re.S) if "rules:" in b]


@pytest.mark.parametrize("name", RULE_TYPES.names())
def test_every_rule_type_has_a_section(name):
    assert f"### `{name}`" in readme()


@pytest.mark.parametrize("name", list(CONDITIONS))
def test_every_condition_is_documented(name):
    assert f"| `{name}` |" in readme()


@pytest.mark.parametrize("name", [*POST_FIELDS, *WINDOW_FIELDS])
def test_every_placeholder_is_documented(name):
    assert "{" + name + "}" in readme()


def test_every_default_rule_is_listed():
    for rule in load_rules(DEFAULT):
        assert f"| `{rule.name}` | {rule.type} |" in readme()


def test_examples_are_real_rule_files(tmp_path):
    blocks = yaml_blocks()
    assert len(blocks) >= 4
    types_shown = set()
    for i, block in enumerate(blocks):
        path = tmp_path / f"example{i}.yaml"
        path.write_text(block, encoding="utf-8")
        types_shown |= {r.type for r in load_rules(path, ["审核组邮件"])}
    assert types_shown == set(RULE_TYPES.names())
