"""Alerts: notifiers (one file each, found by type name in `NOTIFIERS`) and the outbox that
delivers every alert to them, retrying with backoff. See alerts/README.md.

Adding a notifier is one new file with a `Notifier` subclass plus one line below.
"""
from __future__ import annotations

from typing import Any, Mapping, Sequence

from alerts.base import AlertMessage, DeliveryError, Notifier, PostExcerpt
from alerts.dingtalk import DingTalkNoticeNotifier, DingTalkRobotNotifier
from alerts.email import EmailNotifier
from alerts.feishu import FeishuBotNotifier, FeishuUserNotifier
from alerts.outbox import DeliveryReport, Outbox
from alerts.webhook import WebhookNotifier
from alerts.wecom import WeComAppNotifier, WeComRobotNotifier
from core.errors import ConfigError, UnknownNameError
from core.registry import Registry

NOTIFIERS: Registry[Notifier] = Registry("通知方式类型", {
    "email": EmailNotifier,
    "webhook": WebhookNotifier,
    "wecom_app": WeComAppNotifier,
    "wecom_robot": WeComRobotNotifier,
    "feishu_bot": FeishuBotNotifier,
    "feishu_user": FeishuUserNotifier,
    "dingtalk_robot": DingTalkRobotNotifier,
    "dingtalk_notice": DingTalkNoticeNotifier,
})


def build_notifiers(configs: Sequence[Mapping[str, Any]], config_file: str,
                    env: Mapping[str, str]) -> dict[str, Notifier]:
    """The configured notifiers by name. Errors name the file and `notifiers[i]（name）.field`."""
    out: dict[str, Notifier] = {}
    for i, cfg in enumerate(configs):
        name = cfg.get("name")
        where = f"notifiers[{i}]（{name or '?'}）"
        if not isinstance(name, str) or not name:
            raise ConfigError(config_file, f"{where}.name", "缺少通知方式名称 name")
        if name in out:
            raise ConfigError(config_file, f"{where}.name", f"通知方式名 “{name}” 重复；名称必须唯一（规则里按名称引用）")
        try:
            cls = NOTIFIERS.get(str(cfg.get("type")))
        except UnknownNameError as exc:
            raise ConfigError(config_file, f"{where}.type", str(exc)) from None
        out[name] = cls.from_config(cfg, env, config_file=config_file, where=where)
    return out


__all__ = ["NOTIFIERS", "AlertMessage", "DeliveryError", "DeliveryReport", "Notifier", "Outbox",
           "PostExcerpt", "build_notifiers"]
