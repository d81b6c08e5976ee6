"""Loading a rule file: YAML → JSON-schema validation → compiled `RuleSpec`s.

Every problem is a ConfigError naming the file, the rule (index and name) and the field, e.g.
`rules/default.yaml: rules[3]（rumour_post）.filter.spam.gte：类型应为 number…`.
"""
from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Sequence

import yaml

from core.config import validate
from core.domain import ALERT_KINDS_ZH, REMOVE_REASONS, CaseKind, Level, ReasonCode
from core.errors import ConfigError, UnknownNameError
from rules.filters import FILTER_SCHEMA, Filter, compile_filter
from rules.model import AlertAction, CaseAction, FlagAction, RemoveAction, RuleSpec
from rules.templates import POST_FIELDS, check_template
from rules.types import RULE_TYPES, RuleType
from rules.types.base import DURATION_SCHEMA, parse_duration

DEFAULT_REALERT = {"minutes": 60}
QUERY_KEY_PATTERN = r"^(channel|topic|thread|sentiment|extra\.[A-Za-z0-9_]+)$"
_TEXT = {"type": "string", "minLength": 1}

FILE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "required": ["rules"],
    "properties": {
        "version": {"type": "integer", "minimum": 1, "maximum": 1},
        "rules": {"type": "array", "items": {"type": "object"}},
    },
}

HEAD_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["name", "title", "type"],
    "properties": {"name": {"type": "string", "minLength": 1, "maxLength": 80}, "title": _TEXT,
                   "type": {"type": "string"}},
}

ACTION_SCHEMAS: dict[str, dict[str, Any]] = {
    "flag": {"type": "object", "additionalProperties": False, "required": ["reason"],
             "properties": {"reason": _TEXT}},
    "alert": {"type": "object", "additionalProperties": False, "required": ["level", "title", "body"],
              "properties": {"level": {"enum": [lv.value for lv in Level]}, "title": _TEXT, "body": _TEXT,
                             "notifiers": {"type": "array", "minItems": 1, "items": _TEXT},
                             "kind": {"enum": list(ALERT_KINDS_ZH)}}},
    "case": {"type": "object", "additionalProperties": False, "required": ["kind", "title"],
             "properties": {"kind": {"enum": [k.value for k in CaseKind]}, "title": _TEXT}},
    "remove": {"type": "object", "additionalProperties": False, "required": ["reason_code"],
               "properties": {"reason_code": {"enum": [c.value for c in REMOVE_REASONS]}}},
}
TEMPLATES = (("flag", "reason"), ("alert", "title"), ("alert", "body"), ("case", "title"))


def rule_schema(cls: type[RuleType]) -> dict[str, Any]:
    """The JSON schema of one rule of type `cls`."""
    return {
        "$defs": {"filter": FILTER_SCHEMA},
        "type": "object",
        "additionalProperties": False,
        "required": ["name", "title", "type", "actions", *cls.required_options],
        "properties": {
            **HEAD_SCHEMA["properties"],
            "description": {"type": "string"},
            "enabled": {"type": "boolean"},
            "filter": {"$ref": "#/$defs/filter"},
            "actions": {"type": "object", "additionalProperties": False,
                        "required": list(cls.required_actions),
                        "properties": {a: ACTION_SCHEMAS[a] for a in cls.actions}},
            "realert": DURATION_SCHEMA,
            "query_key": {"type": "string", "pattern": QUERY_KEY_PATTERN},
            **cls.options_schema,
        },
    }


def load_rules(path: str | os.PathLike[str], notifier_names: Sequence[str] = ()) -> list[RuleSpec]:
    """Read and validate a rule file. `notifier_names`: the configured notifiers an alert may name."""
    file = str(path)
    data = _read_yaml(Path(path), file)
    validate(data, FILE_SCHEMA, file)
    specs: list[RuleSpec] = []
    seen: dict[str, int] = {}
    filters: dict[str, Filter] = {}  # rules with the same filter share one (it tests each post once per batch)
    for index, raw in enumerate(data["rules"]):
        spec = parse_rule(raw, index, file, notifier_names)
        if spec.filter.key:
            spec.filter = filters.setdefault(spec.filter.key, spec.filter)
        if spec.name in seen:
            raise ConfigError(file, f"{spec.label}.name",
                              f"规则名 “{spec.name}” 与 rules[{seen[spec.name]}] 重复；规则名必须唯一")
        seen[spec.name] = index
        specs.append(spec)
    return specs


def _read_yaml(path: Path, file: str) -> Any:
    if not path.is_file():
        raise ConfigError(file, "", "规则文件不存在；请检查配置项 rules 的路径（相对路径以配置文件所在目录为准）")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"第 {mark.line + 1} 行" if mark else ""
        raise ConfigError(file, where, f"YAML 语法错误：{getattr(exc, 'problem', exc)}；请检查缩进和冒号") from None


def parse_rule(raw: dict[str, Any], index: int, file: str, notifier_names: Sequence[str]) -> RuleSpec:
    name = raw.get("name")
    label = f"rules[{index}]" + (f"（{name}）" if isinstance(name, str) and name else "")
    validate(raw, HEAD_SCHEMA, file, prefix=label)
    try:
        cls = RULE_TYPES.get(raw["type"])
    except UnknownNameError as exc:
        raise ConfigError(file, f"{label}.type", str(exc)) from None
    _precheck(raw, cls, file, label)
    validate(raw, rule_schema(cls), file, prefix=label)
    actions: dict[str, Any] = raw["actions"]
    if not actions:
        raise ConfigError(file, f"{label}.actions", f"至少需要一个动作；{cls.type_name} 类型可用：{'、'.join(cls.actions)}")
    if "remove" in actions and "flag" not in actions:
        raise ConfigError(file, f"{label}.actions.remove",
                          "自动删除（remove）需要同时写 flag：删除理由会显示在“已删除”列表里，供审核员抽查和恢复")
    _check_templates(actions, cls, file, label)
    _check_notifiers(actions.get("alert") or {}, notifier_names, file, label)
    realert = parse_duration(raw.get("realert", DEFAULT_REALERT), file, f"{label}.realert", allow_zero=True)
    return RuleSpec(
        name=raw["name"],
        title=raw["title"],
        type=cls.type_name,
        index=index,
        filter=compile_filter(raw.get("filter") or {}, file, f"{label}.filter"),
        flag=FlagAction(actions["flag"]["reason"]) if "flag" in actions else None,
        remove=RemoveAction(ReasonCode(actions["remove"]["reason_code"])) if "remove" in actions else None,
        alert=_alert(actions["alert"], raw, cls.type_name) if "alert" in actions else None,
        case=CaseAction(CaseKind(actions["case"]["kind"]), actions["case"]["title"]) if "case" in actions else None,
        realert=realert,
        query_key=raw.get("query_key") or cls.default_query_key,
        options=cls.prepare_options(raw, file, label),
        description=raw.get("description", ""),
        enabled=raw.get("enabled", True),
    )


def _precheck(raw: dict[str, Any], cls: type[RuleType], file: str, label: str) -> None:
    """Clearer messages than the schema's for two common slips."""
    actions = raw.get("actions")
    if isinstance(actions, dict):
        for name in actions:
            if name in ACTION_SCHEMAS and name not in cls.actions:
                raise ConfigError(file, f"{label}.actions.{name}",
                                  f"{cls.type_name} 类型不支持动作 {name}；可用动作：{'、'.join(cls.actions)}")
    qk = raw.get("query_key")
    if isinstance(qk, str) and not re.match(QUERY_KEY_PATTERN, qk):
        raise ConfigError(file, f"{label}.query_key",
                          f"不能按 “{qk}” 分组；可用：channel、topic、thread、sentiment、extra.<字段名>（如 extra.cluster）")


def _alert(a: dict[str, Any], raw: dict[str, Any], type_name: str) -> AlertAction:
    return AlertAction(Level(a["level"]), a["title"], a["body"], tuple(a.get("notifiers") or ()),
                       a.get("kind") or infer_kind(raw, type_name))


def infer_kind(raw: dict[str, Any], type_name: str) -> str:
    """What an alert is about when the rule does not say (`actions.alert.kind`), for routing: its case
    kind, else what its filter looks at."""
    case = (raw.get("actions") or {}).get("case") or {}
    if case.get("kind"):
        return {"rumour": "rumour", "flood": "spam", "surge": "surge"}.get(case["kind"], "other")
    if type_name == "flatline":
        return "collector"
    flt = raw.get("filter") or {}
    if "pii" in flt:
        return "pii"
    if "rumour" in flt or "debunked" in flt:
        return "rumour"
    if "spam" in flt and "sentiment" not in flt:
        return "spam"
    if "sentiment" in flt or "polarity" in flt:
        return "surge"
    return "other"


def _check_templates(actions: dict[str, Any], cls: type[RuleType], file: str, label: str) -> None:
    allowed = {**POST_FIELDS, **cls.template_fields}
    for action, key in TEMPLATES:
        if action in actions:
            check_template(actions[action][key], allowed, file, f"{label}.actions.{action}.{key}")


def _check_notifiers(alert: dict[str, Any], notifier_names: Sequence[str], file: str, label: str) -> None:
    for i, name in enumerate(alert.get("notifiers") or ()):
        if name not in notifier_names:
            known = "、".join(notifier_names) or "（配置里还没有任何通知方式）"
            raise ConfigError(file, f"{label}.actions.alert.notifiers[{i}]",
                              f"没有名为 “{name}” 的通知方式；已配置：{known}。请改名或在配置文件 notifiers 里添加")
