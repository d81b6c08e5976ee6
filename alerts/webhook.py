"""`webhook`: POST the alert as JSON to a URL, optionally signed with HMAC-SHA256.

Body (UTF-8 JSON): {level, level_zh, title, body, rule, alert_id, case_id, created_at, url,
posts: [{channel, channel_zh, excerpt}]}. With `secret_env`, the header
`X-Sentinel-Signature: sha256=<hex HMAC-SHA256 of the raw body>` lets the receiver check it.
Any answer other than 2xx is a failure (redirects are not followed).
"""
from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any, Mapping, Sequence

import requests

from alerts.base import (
    ENV_NAME, AlertMessage, DeliveryError, Notifier, Recipient, Secrets, SendReport, options_schema
)

SIGNATURE_HEADER = "X-Sentinel-Signature"


def sign(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode("utf-8"), body, hashlib.sha256).hexdigest()


class WebhookNotifier(Notifier):
    type_name = "webhook"
    title_zh = "通用 JSON Webhook"
    options_schema = options_schema("webhook", {
        "url": {"type": "string", "pattern": r"^https?://\S+$"},
        "secret_env": ENV_NAME,
        "headers": {"type": "object", "additionalProperties": {"type": "string"}},
    }, required=("url",), without=("timezone",))

    def __init__(self, name: str, url: str, secret: str | None = None, timeout: float = 10.0,
                 headers: Mapping[str, str] | None = None, dashboard_url: str | None = None) -> None:
        super().__init__(name)
        self.url, self.secret, self.timeout = url, secret, timeout
        self.headers = dict(headers or {})
        self.dashboard_url = dashboard_url

    @classmethod
    def create(cls, cfg: Mapping[str, Any], secrets: Secrets) -> "WebhookNotifier":
        return cls(name=cfg["name"], url=cfg["url"], secret=secrets.get(cfg, "secret_env"),
                   timeout=float(cfg.get("timeout", 10.0)), headers=cfg.get("headers"),
                   dashboard_url=cfg.get("dashboard_url"))

    def describe(self) -> str:
        return f"Webhook {self.url.split('?')[0]}"

    def payload(self, message: AlertMessage) -> dict[str, Any]:
        return {
            "level": message.level.value,
            "level_zh": message.level_zh,
            "title": message.title,
            "body": message.body,
            "rule": message.rule,
            "alert_id": message.alert_id,
            "case_id": message.case_id,
            "created_at": message.created_at.isoformat(),
            "url": message.link(self.dashboard_url),
            "posts": [{"channel": p.channel, "channel_zh": p.channel_zh, "excerpt": p.excerpt}
                      for p in message.posts],
        }

    def send(self, message: AlertMessage, recipients: Sequence[Recipient] = ()) -> SendReport | None:
        body = json.dumps(self.payload(message), ensure_ascii=False).encode("utf-8")
        headers = {**self.headers, "Content-Type": "application/json; charset=utf-8",
                   "X-Sentinel-Alert-Id": str(message.alert_id)}
        if self.secret:
            headers[SIGNATURE_HEADER] = sign(self.secret, body)
        try:
            resp = requests.post(self.url, data=body, headers=headers, timeout=self.timeout,
                                 allow_redirects=False)
        except requests.RequestException as exc:
            raise DeliveryError(f"Webhook 请求失败（{self.describe()}）：{type(exc).__name__}: {exc}") from exc
        if not 200 <= resp.status_code < 300:
            raise DeliveryError(f"Webhook 返回 HTTP {resp.status_code}（{self.describe()}）：{resp.text[:200]}")
