"""`webhook` against a real HTTP server on loopback."""
from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone

import pytest

from alerts import AlertMessage, DeliveryError, PostExcerpt, build_notifiers
from alerts.webhook import WebhookNotifier
from core.domain import Level

MESSAGE = AlertMessage(
    alert_id=12, rule="rumour_spread", level=Level.ORANGE, title="传言扩散：5 条、3 个渠道",
    body="同一说法已有 5 条。", created_at=datetime(2026, 3, 2, 6, 5, tzinfo=timezone.utc),
    posts=[PostExcerpt("qq", "听说下月公积金停缴，速转"), PostExcerpt("board", "联系 138****5678")], case_id=4,
)


def test_posts_the_alert_as_json_with_an_hmac_signature(hook_server):
    notifiers = build_notifiers(
        [{"name": "值班群机器人", "type": "webhook", "url": hook_server.url, "secret_env": "HOOK_SECRET",
          "headers": {"X-Team": "union"}, "dashboard_url": "https://sentinel.example.edu.cn"}],
        "sentinel.yaml", {"HOOK_SECRET": "共享密钥"})
    notifiers["值班群机器人"].send(MESSAGE)
    (got,) = hook_server.received
    assert got.path == "/hooks/sentinel"
    assert got.headers["Content-Type"] == "application/json; charset=utf-8"
    assert got.headers["X-Team"] == "union"
    expected = "sha256=" + hmac.new("共享密钥".encode(), got.body, hashlib.sha256).hexdigest()
    assert got.headers["X-Sentinel-Signature"] == expected
    assert got.json() == {
        "level": "orange", "level_zh": "橙色预警", "title": "传言扩散：5 条、3 个渠道", "body": "同一说法已有 5 条。",
        "rule": "rumour_spread", "alert_id": 12, "case_id": 4, "created_at": "2026-03-02T06:05:00+00:00",
        "url": "https://sentinel.example.edu.cn/alerts/12",
        "posts": [{"channel": "qq", "channel_zh": "QQ群", "excerpt": "听说下月公积金停缴，速转"},
                  {"channel": "board", "channel_zh": "建言献策", "excerpt": "联系 138****5678"}],
    }


def test_signature_changes_with_the_body_and_is_absent_without_a_secret(hook_server):
    WebhookNotifier("a", hook_server.url, secret="k").send(MESSAGE)
    WebhookNotifier("b", hook_server.url).send(MESSAGE)
    signed, unsigned = hook_server.received
    bad = "sha256=" + hmac.new(b"other", signed.body, hashlib.sha256).hexdigest()
    assert signed.headers["X-Sentinel-Signature"] != bad
    assert "X-Sentinel-Signature" not in unsigned.headers


@pytest.mark.parametrize("status", [500, 404, 302])
def test_any_non_2xx_answer_is_a_delivery_error(hook_server, status):
    hook_server.status = status
    with pytest.raises(DeliveryError, match=f"HTTP {status}"):
        WebhookNotifier("hook", hook_server.url).send(MESSAGE)


def test_no_server_is_a_delivery_error(closed_port):
    with pytest.raises(DeliveryError, match="Webhook 请求失败"):
        WebhookNotifier("hook", f"http://127.0.0.1:{closed_port}/x", timeout=5).send(MESSAGE)
