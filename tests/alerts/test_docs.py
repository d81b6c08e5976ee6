"""alerts/README.md documents every notifier type and each of its options; its examples build."""
from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from alerts import NOTIFIERS, build_notifiers

README = Path(__file__).resolve().parents[2] / "alerts" / "README.md"


def readme() -> str:
    return README.read_text(encoding="utf-8")


def section(name: str) -> str:
    text = readme()
    start = text.index(f"### `{name}`")
    end = text.find("\n## ", start)
    nxt = text.find("\n### ", start + 1)
    return text[start: min(x for x in (end, nxt, len(text)) if x != -1)]


@pytest.mark.parametrize("name", NOTIFIERS.names())
def test_every_notifier_has_a_section_listing_each_option(name):
    body = section(name)
    options = set(NOTIFIERS.get(name).options_schema["properties"]) - {"name", "type"}
    missing = [o for o in sorted(options) if f"| `{o}` |" not in body]
    assert missing == []


def test_examples_build_real_notifiers():
    blocks = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", readme(), re.S)]
    configs = [c for b in blocks for c in b["notifiers"]]
    env = {c[k]: "x" for c in configs for k in c if k.endswith("_env")}
    built = build_notifiers(configs, "README.md", env)
    assert {type(n).type_name for n in built.values()} == set(NOTIFIERS.names())
