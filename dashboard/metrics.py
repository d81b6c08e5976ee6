"""GET /metrics: the Prometheus text format (core/metrics.py says where each number comes from).

No sign-in: a scraper has no session. Without `metrics.token_env` only loopback clients may read it
(behind nginx with `web.trusted_proxies`, that is the real client's address, so nginx itself does not
make everyone local); with a token configured, every client must send `Authorization: Bearer <token>`.
"""
from __future__ import annotations

import hmac
import ipaddress
from typing import Any

from flask import Blueprint, Response, request

from dashboard.context import services

bp = Blueprint("metrics", __name__)


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address((address or "").split("%")[0]).is_loopback
    except ValueError:
        return False


def _allowed(token: str | None) -> bool:
    if token:
        given = request.headers.get("Authorization", "")
        scheme, _, value = given.partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(value.strip().encode(), token.encode())
    return _loopback(request.remote_addr)


@bp.get("/metrics")
def metrics() -> Any:
    s = services()
    if not _allowed(s.settings.metrics_token):
        text = ("需要令牌：请求头 Authorization: Bearer <metrics.token_env 所指环境变量的值>\n" if s.settings.metrics_token
                else "只允许本机访问 /metrics；从其他机器抓取请在配置中设置 metrics.token_env\n")
        return Response(text, status=403 if not s.settings.metrics_token else 401,
                        mimetype="text/plain", headers={"WWW-Authenticate": "Bearer"} if s.settings.metrics_token else {})
    body, content_type = s.metrics.render()
    return Response(body, content_type=content_type)
