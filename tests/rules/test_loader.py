"""Rule files are validated at load; every error names the file, the rule (index and name) and the field."""
from __future__ import annotations

from pathlib import Path

import pytest

from core.errors import ConfigError
from rules import RULE_TYPES, load_rules
from rules.loader import rule_schema

OK_FLAG = "actions: {flag: {reason: 疑似垃圾广告}}"

BAD_FILES = [
    pytest.param(
        f"""
        rules:
          - {{name: ok, title: 正常, type: match, filter: {{spam: {{gte: 0.8}}}}, {OK_FLAG}}}
          - name: 疑似谣言
            title: 疑似谣言
            type: match
            filter: {{spam: {{gte: 高}}}}
            {OK_FLAG}
        """,
        ["rules[1]（疑似谣言）.filter.spam.gte", "类型应为 number"], id="threshold-not-a-number"),
    pytest.param(
        f"rules:\n  - {{name: x, title: 标题, type: match, filter: {{rumour: {{gte: 1.5}}}}, {OK_FLAG}}}\n",
        ["rules[0]（x）.filter.rumour.gte", "超出范围"], id="threshold-out-of-range"),
    pytest.param(
        f"rules:\n  - {{name: a, title: A, type: match, {OK_FLAG}}}\n  - {{name: b, type: match, {OK_FLAG}}}\n",
        ["rules[1]（b）", "缺少必填项 title"], id="missing-title"),
    pytest.param(
        f"rules:\n  - {{name: x, title: 标题, type: match, filter: {{spm: {{gte: 0.5}}}}, {OK_FLAG}}}\n",
        ["rules[0]（x）.filter", "spm", "可用字段", "keywords_any"], id="unknown-condition"),
    pytest.param(
        f"rules:\n  - {{name: x, title: 标题, type: match, filter: {{sentiment: neg}}, {OK_FLAG}}}\n",
        ["rules[0]（x）.filter.sentiment", "类型应为 array"], id="sentiment-not-a-list"),
    pytest.param(
        f"rules:\n  - {{name: x, title: 标题, type: match, filter: {{not: {{any: [{{pii: [passport]}}]}}}}, {OK_FLAG}}}\n",
        ["rules[0]（x）.filter.not.any[0].pii[0]", "phone"], id="nested-bad-pii-kind"),
    pytest.param(
        f"rules:\n  - {{name: x, title: 标题, type: flatlined, {OK_FLAG}}}\n",
        ["rules[0]（x）.type", "flatlined", "flatline、frequency、match、new_term、spike、spread"], id="unknown-type"),
    pytest.param(
        f"rules:\n  - {{name: x, title: 标题, type: match, filter: {{regex: ['ok', '加(微信']}}, {OK_FLAG}}}\n",
        ["rules[0]（x）.filter.regex[1]", "正则表达式", "加(微信"], id="bad-regex"),
    pytest.param(
        "rules:\n  - {name: x, title: 标题, type: match, actions: {flag: {reason: '垃圾分 {score}'}}}\n",
        ["rules[0]（x）.actions.flag.reason", "{score}", "{spam}"], id="unknown-placeholder"),
    pytest.param(
        "rules:\n  - {name: x, title: 标题, type: match, actions: {flag: {reason: '{channel:.2f}'}}}\n",
        ["rules[0]（x）.actions.flag.reason", "格式"], id="format-spec-mismatch"),
    pytest.param(
        "rules:\n  - {name: x, title: 标题, type: match, actions: {flag: {reason: '{count} 条'}}}\n",
        ["rules[0]（x）.actions.flag.reason", "{count}"], id="window-placeholder-on-match"),
    pytest.param(
        "rules:\n  - {name: x, title: 标题, type: match,"
        " actions: {alert: {level: red, title: t, body: b, notifiers: [短信]}}}\n",
        ["rules[0]（x）.actions.alert.notifiers[0]", "短信", "审核组邮件"], id="unknown-notifier"),
    pytest.param(
        "rules:\n  - {name: x, title: 标题, type: match, actions: {alert: {level: purple, title: t, body: b}}}\n",
        ["rules[0]（x）.actions.alert.level", "yellow、orange、red"], id="bad-level"),
    pytest.param(
        f"rules:\n  - {{name: x, title: A, type: match, {OK_FLAG}}}\n  - {{name: x, title: B, type: match, {OK_FLAG}}}\n",
        ["rules[1]（x）.name", "重复"], id="duplicate-name"),
    pytest.param(
        "rules:\n  - {name: f, title: 标题, type: frequency, timeframe: {minutes: 5},"
        " actions: {alert: {level: red, title: t, body: b}}}\n",
        ["rules[0]（f）", "num_events"], id="frequency-without-num-events"),
    pytest.param(
        "rules:\n  - {name: f, title: 标题, type: frequency, num_events: 3, timeframe: {},"
        " actions: {alert: {level: red, title: t, body: b}}}\n",
        ["rules[0]（f）.timeframe", "minutes"], id="empty-timeframe"),
    pytest.param(
        "rules:\n  - {name: f, title: 标题, type: frequency, num_events: 3, timeframe: {minutes: 5},"
        " actions: {flag: {reason: r}}}\n",
        ["rules[0]（f）.actions.flag", "不支持", "可用动作：alert"], id="flag-on-frequency"),
    pytest.param(
        "rules:\n  - {name: m, title: 标题, type: match,"
        " actions: {case: {kind: rumour, title: t}}}\n",
        ["rules[0]（m）.actions.case", "不支持", "flag、remove、alert"], id="case-on-match"),
    pytest.param(
        "rules:\n  - {name: s, title: 标题, type: spread, timeframe: {hours: 1}, min_posts: 3,"
        " actions: {alert: {level: red, title: t, body: b}}}\n",
        ["rules[0]（s）.actions", "缺少必填项 case"], id="spread-without-case"),
    pytest.param(
        "rules:\n  - {name: s, title: 标题, type: spread, timeframe: {hours: 1}, min_posts: 3, min_authors: 5,"
        " actions: {case: {kind: rumour, title: t}}}\n",
        ["rules[0]（s）.min_authors", "min_posts"], id="spread-authors-above-posts"),
    pytest.param(
        f"rules:\n  - {{name: x, title: 标题, type: match, filter: {{spam: {{}}}}, {OK_FLAG}}}\n",
        ["rules[0]（x）.filter.spam", "gte"], id="empty-threshold"),
    pytest.param(
        "rules:\n  - {name: x, title: 标题, type: match, actions: {}}\n",
        ["rules[0]（x）.actions", "至少需要一个动作"], id="no-action"),
    pytest.param(
        f"rules:\n  - {{name: x, title: 标题, type: match, query_key: author, {OK_FLAG}}}\n",
        ["rules[0]（x）.query_key", "author", "channel、topic"], id="bad-query-key"),
    pytest.param("rules:\n  - name: x\n   title: 缩进错了\n", ["第 3 行", "YAML"], id="yaml-syntax"),
    pytest.param("rule: []\n", ["rule", "可用字段"], id="top-level-typo"),
]


@pytest.mark.parametrize("text, expected", BAD_FILES)
def test_bad_rule_files_name_file_rule_and_field(rules_file, text, expected):
    path = rules_file(text)
    with pytest.raises(ConfigError) as err:
        load_rules(path, ["审核组邮件"])
    message = str(err.value)
    assert str(path) in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_missing_file_says_what_to_check(tmp_path):
    with pytest.raises(ConfigError, match="rules 的路径"):
        load_rules(tmp_path / "nope.yaml")


def test_default_rules_load_and_cover_the_union_needs():
    path = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
    rules = load_rules(path, [])
    by_name = {r.name: r for r in rules}
    assert {"spam_post", "rumour_post", "debunked_claim", "pii_leak", "negative_surge", "spam_flood",
            "rumour_spread"} <= set(by_name)
    assert {r.type for r in rules} == set(RULE_TYPES.names())  # every rule type is used
    assert all(r.enabled for r in rules)
    assert by_name["spam_flood"].case.kind.value == "flood"
    assert by_name["rumour_spread"].case.kind.value == "rumour"
    levels = {r.alert.level.value for r in rules if r.alert}
    assert levels == {"yellow", "orange", "red"}


def test_default_rules_accept_configured_notifier_names():
    path = Path(__file__).resolve().parents[2] / "rules" / "default.yaml"
    assert len(load_rules(path, ["审核组邮件", "值班群机器人"])) == len(load_rules(path, []))


def test_options_are_converted(rules_file):
    path = rules_file("""
        rules:
          - name: surge
            title: 激增
            type: frequency
            num_events: 4
            timeframe: {hours: 1, minutes: 30}
            realert: {minutes: 0}
            query_key: channel
            actions: {alert: {level: orange, title: '{count} 条', body: '{key}'}}
          - name: cluster
            title: 扩散
            type: spread
            enabled: false
            timeframe: {days: 1}
            min_posts: 3
            actions: {case: {kind: flood, title: 刷屏}}
    """)
    surge, cluster = load_rules(path)
    assert surge.options["timeframe"].total_seconds() == 5400 and surge.options["num_events"] == 4
    assert surge.realert.total_seconds() == 0 and surge.query_key == "channel"
    assert cluster.query_key == "extra.cluster"  # the spread default
    assert cluster.options["min_authors"] == 1 and cluster.options["min_channels"] == 1
    assert cluster.enabled is False and cluster.realert.total_seconds() == 3600


def test_every_rule_type_schema_is_valid_json_schema():
    import jsonschema

    for _, cls in RULE_TYPES.items():
        jsonschema.Draft202012Validator.check_schema(rule_schema(cls))
