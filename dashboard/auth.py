"""Signing in and out, the current user, and `require_role` (the one permission check)."""
from __future__ import annotations

import functools
import ipaddress
import math
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, g, jsonify, redirect, render_template, request, session, url_for

from core.domain import AuditEvent, Role, User
from dashboard import roles
from dashboard.accounts import password_version, verify_password
from dashboard.context import services

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])


def current_user() -> User | None:
    return g.get("user")


def load_user() -> None:
    """Before each request: the signed-in user, re-read from the store (role changes and password
    resets apply at once)."""
    g.user = None
    if request.endpoint in ("static", "health.healthz"):  # no session, no store query
        return
    name = session.get("user")
    if not name:
        return
    user = services().store.get_user(name)
    if user is None or not user.active or session.get("pwv") != password_version(user.password_hash):
        session.clear()
        return
    g.user = user


def require_role(*allowed: Role) -> Callable[[F], F]:
    """Allow the view to signed-in users whose role is admin or one of `allowed`. Anonymous users
    are sent to the login page (401 JSON for /api/); everyone else gets the 403 page."""

    def decorator(view: F) -> F:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            user = current_user()
            if user is None:
                if request.path.startswith("/api/"):
                    return jsonify({"error": "请先登录"}), 401
                return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))
            if not roles.allows(user, allowed):
                abort(403)
            return view(*args, **kwargs)

        wrapped.allowed_roles = (Role.ADMIN, *allowed)  # type: ignore[attr-defined]
        return wrapped  # type: ignore[return-value]

    return decorator


def safe_next(target: str | None) -> str | None:
    """`target` if it is a path on this site (no scheme, host or backslash tricks), else None."""
    if not target or not target.startswith("/") or target.startswith("//") or "\\" in target:
        return None
    parts = urlsplit(target)
    return target if not parts.scheme and not parts.netloc else None


def home_url(user: User | None) -> str:
    if user is None:
        return url_for("auth.login")
    return url_for(roles.HOME[user.role])


def client_network() -> str:
    """The client's address coarsened for the audit log (IPv4 /24, IPv6 /48): enough to spot an
    attack, not a person's exact address."""
    addr = request.remote_addr or ""
    try:
        ip = ipaddress.ip_address(addr)
    except ValueError:
        return "unknown"
    prefix = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{addr}/{prefix}", strict=False))


@bp.get("/")
def home() -> Any:
    return redirect(home_url(current_user()))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    next_url = safe_next(request.values.get("next"))
    if request.method == "GET":
        if current_user() is not None:
            return redirect(next_url or home_url(current_user()))
        return render_template("auth/login.html", next=next_url)
    username = request.form.get("username", "").strip()[:64]
    password = request.form.get("password", "")
    s = services()
    ip = request.remote_addr or "unknown"
    wait = s.throttle.locked_for(username, ip)
    if wait > 0:
        if s.throttle.first_refusal(username, ip):  # one audit row per lock, not one per try
            _audit_fail(username, "locked")
        minutes = max(1, math.ceil(wait / 60))
        error = f"登录失败次数过多，已暂时锁定，请 {minutes} 分钟后再试。"
        return render_template("auth/login.html", next=next_url, error=error, username=username), 429
    user = s.store.get_user(username) if username else None
    ok = verify_password(user.password_hash if user else s.dummy_hash, password)
    if user is None or not ok or not user.active:
        s.throttle.failure(username, ip)
        reason = "unknown_user" if user is None else ("bad_password" if not ok else "inactive")
        _audit_fail(username, reason)
        error = "用户名或密码错误，请重试（连续失败 5 次将锁定 15 分钟）。"
        return render_template("auth/login.html", next=next_url, error=error, username=username), 401
    s.throttle.success(username, ip)
    session.clear()
    session.permanent = True
    session["user"] = user.username
    session["pwv"] = password_version(user.password_hash)
    s.store.audit(AuditEvent(user.username, "login.ok", f"user:{user.username}", {"net": client_network()}))
    return redirect(next_url or home_url(user))


def _audit_fail(username: str, reason: str) -> None:
    actor = username or "(空用户名)"
    services().store.audit(
        AuditEvent(actor, "login.fail", f"user:{username}", {"reason": reason, "net": client_network()})
    )


@bp.post("/logout")
def logout() -> Any:
    user = current_user()
    if user is not None:
        services().store.audit(AuditEvent(user.username, "logout", f"user:{user.username}"))
    session.clear()
    return redirect(url_for("auth.login"))
