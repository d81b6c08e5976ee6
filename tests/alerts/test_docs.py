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
    configs = [c for b in blocks if "notifiers" in b for c in b["notifiers"]]
    env = {c[k]: "x" for c in configs for k in c if k.endswith("_env")}
    built = build_notifiers(configs, "README.md", env)
    assert {type(n).type_name for n in built.values()} == set(NOTIFIERS.names())


def test_the_routing_example_is_a_valid_routing_block():
    from alerts.routing import Router
    from core.domain import Role, User
    from tests.alerts.test_routing import Group, Personal

    [block] = [yaml.safe_load(b) for b in re.findall(r"```yaml\n(.*?)```", readme(), re.S) if "routing:" in b]
    notifiers = {"企业微信应用": Personal("企业微信应用"), "邮件": Personal("邮件"), "审核群机器人": Group("审核群机器人")}
    router = Router.from_config(block["routing"], notifiers, lambda: [User("duty", Role.OFFICER, "x")])
    assert [r.name for r in router.routes][:2] == ["传言通知订阅该话题的意见领袖和干部", "广告潮发审核群"]
    assert len(router.tiers) == 2 and router.quiet is not None
