"""Building notifiers from the config: errors name the file and `notifiers[i]（name）.field`;
secrets come from the environment only."""
from __future__ import annotations

import pytest

from alerts import NOTIFIERS, build_notifiers
from alerts.email import EmailNotifier
from core.errors import ConfigError

EMAIL = {"name": "审核组邮件", "type": "email", "host": "127.0.0.1", "sender": "s@example.edu.cn",
         "to": ["a@example.edu.cn"]}
HOOK = {"name": "值班群机器人", "type": "webhook", "url": "http://127.0.0.1:9000/hook"}


@pytest.mark.parametrize("configs, expected", [
    ([{**EMAIL, "type": "sms"}], ["notifiers[0]（审核组邮件）.type", "sms", "dingtalk_notice、dingtalk_robot、email"]),
    ([HOOK, {**EMAIL, "port": "25"}], ["notifiers[1]（审核组邮件）.port", "类型应为 integer"]),
    ([{**EMAIL, "to": []}], ["notifiers[0]（审核组邮件）.to", "超出范围"]),
    ([{**EMAIL, "to": ["不是邮箱"]}], ["notifiers[0]（审核组邮件）.to[0]", "格式不对"]),
    ([{k: v for k, v in EMAIL.items() if k != "host"}], ["notifiers[0]（审核组邮件）", "缺少必填项 host"]),
    ([{**EMAIL, "tls": True}], ["notifiers[0]（审核组邮件）", "tls", "starttls"]),
    ([{**EMAIL, "ssl": True, "starttls": True}], ["notifiers[0]（审核组邮件）.starttls", "只能选一个"]),
    ([{**EMAIL, "username": "u"}], ["notifiers[0]（审核组邮件）.password_env", "同时设置"]),
    ([{**EMAIL, "username": "u", "password": "明文密码"}], ["notifiers[0]（审核组邮件）.password", "password_env"]),
    ([{**HOOK, "secret": "abc"}], ["notifiers[0]（值班群机器人）.secret", "secret_env"]),
    ([{**HOOK, "url": "ftp://x"}], ["notifiers[0]（值班群机器人）.url", "格式不对"]),
    ([{**HOOK, "secret_env": "NOT_SET"}], ["notifiers[0]（值班群机器人）.secret_env", "NOT_SET", "未设置"]),
    ([HOOK, HOOK], ["notifiers[1]（值班群机器人）.name", "重复"]),
    ([{**EMAIL, "timezone": "Mars/Olympus"}], ["notifiers[0]（审核组邮件）.timezone", "Asia/Shanghai"]),
])
def test_config_errors_name_file_notifier_and_field(configs, expected):
    with pytest.raises(ConfigError) as err:
        build_notifiers(configs, "/etc/sentinel.yaml", {})
    message = str(err.value)
    assert "/etc/sentinel.yaml" in message
    for part in expected:
        assert part in message, f"{part!r} not in {message!r}"


def test_builds_each_configured_notifier_by_name():
    notifiers = build_notifiers([EMAIL, {**HOOK, "secret_env": "HOOK_SECRET", "timeout": 3}], "c.yaml",
                                {"HOOK_SECRET": "k"})
    assert list(notifiers) == ["审核组邮件", "值班群机器人"]
    assert isinstance(notifiers["审核组邮件"], EmailNotifier) and notifiers["审核组邮件"].port == 25
    assert notifiers["值班群机器人"].secret == "k" and notifiers["值班群机器人"].timeout == 3
    assert build_notifiers([{**EMAIL, "ssl": True}], "c.yaml", {})["审核组邮件"].port == 465


def test_every_notifier_schema_is_valid_json_schema():
    import jsonschema

    for _, cls in NOTIFIERS.items():
        jsonschema.Draft202012Validator.check_schema(cls.options_schema)
