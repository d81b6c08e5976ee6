"""GET /healthz: counts from the store plus the service's runtime status; no login."""
from __future__ import annotations

import json
import logging
from typing import Any

from flask import Blueprint, jsonify

from dashboard.context import services

bp = Blueprint("health", __name__)
log = logging.getLogger("sentinel.dashboard")


@bp.get("/healthz")
def healthz() -> Any:
    """200 {"status": "ok", "posts": …, "flagged": …, "alerts": …, <runtime status>}; 503 with
    {"status": "error", "error": …} when the store cannot answer. A runtime status that itself
    reports a "status" other than "ok" also yields 503."""
    s = services()
    try:
        counts = s.store.counts()
    except Exception as exc:
        log.error("健康检查：存储不可用：%s", exc)
        return jsonify({"status": "error", "error": f"存储不可用：{exc}"}), 503
    body: dict[str, Any] = {"status": "ok", **counts}
    try:
        runtime = json.loads(json.dumps(s.runtime_status(), default=str))
    except Exception as exc:
        runtime = {"runtime_error": f"读取运行状态失败：{exc}"}
    status = runtime.pop("status", "ok")
    body.update(runtime)
    body["status"] = status
    return jsonify(body), 200 if status == "ok" else 503
