"""Signed, expiring links in personal notifications: one opens an alert for one person after they log
in, and offers 认领 / 确认 there. The token names the alert and the person it was sent to; it is signed
with the dashboard's secret key, so it can't be forged or pointed at another alert, and it expires."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

SALT = "sentinel.alert-link"


class BadLink(Exception):
    """The link is forged, damaged or expired (message in Chinese)."""


@dataclass
class AlertLinks:
    secret_key: str
    base_url: str  # the dashboard as users reach it (web.external_url); "" → no links
    max_age: timedelta = timedelta(days=7)

    def _serializer(self) -> URLSafeTimedSerializer:
        return URLSafeTimedSerializer(self.secret_key, salt=SALT)

    def url(self, alert_id: int, username: str) -> str | None:
        if not self.base_url:
            return None
        token = self._serializer().dumps({"a": int(alert_id), "u": username})
        return f"{self.base_url.rstrip('/')}/a/{token}"

    def load(self, token: str) -> tuple[int, str]:
        """(alert id, username) of a link token, or BadLink."""
        try:
            data = self._serializer().loads(token, max_age=int(self.max_age.total_seconds()))
        except SignatureExpired:
            raise BadLink(f"链接已过期（有效期 {self.max_age.days} 天），请在看板的预警列表中查看") from None
        except BadSignature:
            raise BadLink("链接无效或已被改动，请在看板的预警列表中查看") from None
        if not isinstance(data, dict) or not isinstance(data.get("a"), int) or not isinstance(data.get("u"), str):
            raise BadLink("链接无效，请在看板的预警列表中查看")
        return data["a"], data["u"]
