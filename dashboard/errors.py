"""Error pages in Chinese (JSON under /api/ and for /healthz)."""
from __future__ import annotations

import logging
from typing import Any

from flask import Flask, jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException

log = logging.getLogger("sentinel.dashboard")

MESSAGES = {
    400: ("请求无效", "提交的内容不完整或格式不对，请返回上一页重试。"),
    403: ("没有权限", "您的账号角色无权访问此页面。如需访问，请联系管理员调整角色。"),
    404: ("页面不存在", "您访问的页面或记录不存在，可能已被删除。请从导航栏重新进入。"),
    405: ("请求方式不允许", "请通过页面上的按钮操作，不要直接访问此地址。"),
    429: ("操作过于频繁", "请稍后再试。"),
    500: ("服务器内部错误", "处理请求时出错，已记录日志。请稍后重试；若反复出现，请联系管理员。"),
}
CSRF_MESSAGE = "表单已过期或缺少安全令牌（CSRF）。请刷新页面后重新提交。"


def _page(code: int, detail: str | None = None) -> Any:
    title, message = MESSAGES.get(code, ("出错了", "请求未能完成。"))
    if request.path.startswith("/api/") or request.path == "/healthz":
        return jsonify({"error": f"{title}：{detail or message}"}), code
    return render_template("errors/error.html", code=code, title=title, message=detail or message), code


def register(app: Flask) -> None:
    @app.errorhandler(CSRFError)
    def csrf_error(exc: CSRFError) -> Any:
        log.warning("拒绝了缺少或无效 CSRF 令牌的请求：%s %s（%s）", request.method, request.path, exc.description)
        return _page(400, CSRF_MESSAGE)

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException) -> Any:
        # Also renders unhandled exceptions: Flask logs them and passes an InternalServerError here.
        return _page(exc.code or 500)
