"""Signing in and out, the current user, and `require_role` (the one permission check).

Sessions are kept server-side: the signed cookie carries only a random token, the store keeps its
SHA-256 (store.base.SessionRecord). Logging out, a password change and deactivating the account
end the record, so a copy of the cookie is refused afterwards; so is one idle longer than
`web.idle_minutes` or older than `web.session_hours`.
"""
from __future__ import annotations

import functools
import hashlib
import ipaddress
import math
import secrets
from datetime import datetime, timedelta
from typing import Any, Callable, TypeVar
from urllib.parse import urlsplit

from flask import Blueprint, abort, flash, g, jsonify, redirect, render_template, request, session, url_for

from core.domain import AuditEvent, Role, User, utcnow
from dashboard import roles
from dashboard.accounts import verify_password
from dashboard.context import services
from store.base import SessionRecord

bp = Blueprint("auth", __name__)
F = TypeVar("F", bound=Callable[..., Any])

SESSION_KEY = "sid"  # the cookie's only sign-in value: the random session token
TOUCH_EVERY = timedelta(minutes=1)  # last_seen is written at most this often (idle timeout precision)


def clock() -> datetime:
    """The current time for sessions (a test monkeypatches this to move time)."""
    return utcnow()


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def current_user() -> User | None:
    return g.get("user")


def load_user() -> None:
    """Before each request: the signed-in user, from the server-side session and then the store
    (role changes apply at once). A session that is unknown, ended, expired or idle too long, or
    whose account is gone or deactivated, signs the browser out: the cookie is cleared, not renewed."""
    g.user = None
    if request.endpoint in ("static", "health.healthz"):  # no session, no store query
        return
    token = session.get(SESSION_KEY)
    if not isinstance(token, str) or not token:
        if "user" in session:  # a cookie from before server-side sessions: sign it out
            session.clear()
        return
    s = services()
    now = clock()
    record = s.store.get_session(token_hash(token))
    if record is None or record.revoked_at is not None:
        return _signed_out("登录已失效（已退出、密码已重置或账号已停用），请重新登录。")
    if not record.valid_at(now, s.settings.idle_timeout):
        return _signed_out("登录已超时，请重新登录。")
    user = s.store.get_user(record.username)
    if user is None or not user.active:
        s.store.revoke_session(record.token_hash, now)
        return _signed_out("账号已停用，请联系管理员。")
    if now - record.last_seen >= TOUCH_EVERY:
        s.store.touch_session(record.token_hash, now)
    g.user = user


def _signed_out(message: str) -> None:
    """Forget the browser's session (the response deletes the cookie) and say why on the next page."""
    session.clear()
    if not request.path.startswith("/api/") and request.endpoint != "auth.logout":
        flash(message, "info")


def start_session(user: User) -> None:
    """Sign this browser in as `user` with a new server-side session (a fresh cookie: whatever the
    browser carried before, including a planted session, is discarded and its session ended)."""
    s = services()
    now = clock()
    old = session.get(SESSION_KEY)
    if isinstance(old, str) and old:
        s.store.revoke_session(token_hash(old), now)
    token = secrets.token_urlsafe(32)
    s.store.create_session(SessionRecord(
        token_hash=token_hash(token), username=user.username, created_at=now, last_seen=now,
        expires_at=now + s.settings.session_lifetime, net=client_network(),
    ))
    session.clear()  # session fixation: nothing from before the sign-in survives
    session.permanent = True
    session[SESSION_KEY] = token


def end_session() -> None:
    """End this browser's session server-side and clear its cookie."""
    token = session.get(SESSION_KEY)
    if isinstance(token, str) and token:
        services().store.revoke_session(token_hash(token), clock())
    session.clear()


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
    throttle = s.throttle
    wait = throttle.locked_for(username, ip)
    if wait > 0:
        if throttle.first_refusal(username, ip):  # one audit row per wait, not one per try
            _audit_fail(username, "locked")
        error = (f"登录失败次数过多，请 {_minutes(wait)} 分钟后再试；之后每再失败一次，等待时间加倍"
                 f"（最长 {_minutes(throttle.max_delay)} 分钟）。此限制只针对当前网络地址。")
        return render_template("auth/login.html", next=next_url, error=error, username=username), 429
    user = s.store.get_user(username) if username else None
    ok = verify_password(user.password_hash if user else s.dummy_hash, password)
    if user is None or not ok or not user.active:
        throttle.failure(username, ip)
        reason = "unknown_user" if user is None else ("bad_password" if not ok else "inactive")
        _audit_fail(username, reason)
        error = (f"用户名或密码错误，请重试（连续失败 {throttle.free_failures} 次后须等待 "
                 f"{_seconds(throttle.base_delay)}再试，之后每失败一次等待时间加倍）。")
        return render_template("auth/login.html", next=next_url, error=error, username=username), 401
    throttle.success(username, ip)
    start_session(user)
    s.store.audit(AuditEvent(user.username, "login.ok", f"user:{user.username}", {"net": client_network()}))
    return redirect(next_url or home_url(user))


def _minutes(seconds: float) -> int:
    return max(1, math.ceil(seconds / 60))


def _seconds(seconds: float) -> str:
    return f"{math.ceil(seconds)} 秒" if seconds < 60 else f"{_minutes(seconds)} 分钟"


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
    end_session()
    return redirect(url_for("auth.login"))
