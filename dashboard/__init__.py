"""The dashboard (看板): a server-rendered Flask app in Simplified Chinese.

    app = create_app(store, settings, status=service.status)

One blueprint per area (auth, overview, review, alerts, cases, debunks, search, admin, health, metrics);
permissions in dashboard/roles.py, checked server-side by `require_role`; SQL only in the store.
Templates autoescape everything: post texts are attacker-controlled. No inline script: the
Content-Security-Policy forbids it, and charts are drawn by static/app.js with vendored ECharts.
"""
from __future__ import annotations

import secrets
from typing import Any, Callable, Mapping

from flask import Flask, request
from flask_wtf.csrf import CSRFProtect, generate_csrf
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter

from core.config import Settings
from core.domain import REASON_CODE_LABELS_ZH, REPORT_PERIODS_ZH, WRITEBACK_ACTIONS_ZH, channel_label
from core.metrics import Metrics
from core.ratelimit import KeyedLimits
from dashboard import errors, roles
from dashboard.accounts import hash_password, seed_demo_users
from dashboard.auth import current_user, load_user
from dashboard.context import EXTENSION_KEY, Services
from dashboard.present import (CASE_KIND_LABELS, STATUS_LABELS, WRITEBACK_LABELS, localtime, private, safe_url,
                               sees_clear_pii)
from dashboard.security import add_security_headers, load_secret_key
from dashboard.throttle import LoginThrottle
from store.base import Store

__all__ = ["create_app", "server_options", "load_secret_key", "seed_demo_users", "LoginThrottle"]


def create_app(
    store: Store,
    settings: Settings,
    *,
    status: Callable[[], dict[str, Any]] | None = None,
    secret_key: str | None = None,
    throttle: LoginThrottle | None = None,
    write_actions: Mapping[str, frozenset[str]] | None = None,
    api_limits: KeyedLimits | None = None,
    metrics: Metrics | None = None,
) -> Flask:
    """Build the dashboard app over `store`. `status()` adds runtime facts (model version, last job
    runs) to /healthz and the admin status page. The secret key defaults to `load_secret_key`.
    `write_actions` (channel name -> actions) says which platform actions moderators and leaders
    may ask for on posts of each channel (see collectors/writeback.py). `metrics` is the running
    service's (core/metrics.py); without it /metrics shows what the store counts.

    Sessions are server-side (dashboard/auth.py): the signed cookie carries only a random token.
    It is `Secure` when `settings.secure_cookies` (on by default for an https `web.external_url`).
    With `web.trusted_proxies` = n > 0 the app believes the X-Forwarded-For/-Proto/-Host/-Port/
    -Prefix headers set by the n reverse proxies in front of it (Werkzeug's ProxyFix); with 0 they
    are ignored and the client address is the socket peer."""
    app = Flask(__name__)
    app.config.update(
        SECRET_KEY=secret_key or load_secret_key(settings.data_dir),
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        SESSION_COOKIE_SECURE=settings.secure_cookies,
        SESSION_COOKIE_NAME="sentinel_session",
        # The server-side session decides (absolute end, idle timeout); the cookie lasts as long and
        # is sent again only when its content changes, not renewed with every response.
        PERMANENT_SESSION_LIFETIME=settings.session_lifetime,
        SESSION_REFRESH_EACH_REQUEST=False,
        WTF_CSRF_TIME_LIMIT=None,  # the token lives as long as the session: queues stay open for hours
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if settings.trusted_proxies > 0:
        n = settings.trusted_proxies
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n, x_port=n, x_prefix=n)  # type: ignore[method-assign]
    app.json.ensure_ascii = False  # type: ignore[attr-defined]
    app.jinja_env.autoescape = True  # every template, whatever its file name
    app.extensions[EXTENSION_KEY] = Services(
        store=store,
        settings=settings,
        status=status,
        throttle=throttle or LoginThrottle(),
        dummy_hash=hash_password(secrets.token_hex(16)),
        write_actions=dict(write_actions or {}),
        api_limits=api_limits or _api_client_limits(),
        metrics=metrics or Metrics.create(store),
    )
    CSRFProtect(app)
    app.url_map.converters["int"] = StoreIdConverter  # before the blueprints add their rules
    _register_blueprints(app)
    _register_template_helpers(app)
    app.before_request(load_user)
    app.after_request(add_security_headers)
    errors.register(app)
    return app


def _api_client_limits() -> KeyedLimits:
    # imported here: dashboard.api imports the command modules (apitokens, users), which
    # `python -m` must find unimported when the package loads
    from dashboard.api import api_client_limits

    return api_client_limits()


class StoreIdConverter(IntegerConverter):
    """`<int:…>` in every route: a non-negative id the store can hold (SQLite integers are 64-bit);
    a larger number is "no such page" (404), not an overflow (500)."""

    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", 2**63 - 1)
        super().__init__(map, *args, **kwargs)


def server_options(settings: Settings) -> dict[str, Any]:
    """Keyword arguments for `waitress.create_server` serving this app. Waitress drops the
    X-Forwarded-For/-Proto/-Host/-Port headers before the app sees them unless told otherwise, and
    behind trusted proxies ProxyFix needs them; with no trusted proxy they are dropped as before."""
    return {"clear_untrusted_proxy_headers": settings.trusted_proxies == 0}


def _register_blueprints(app: Flask) -> None:
    from dashboard import (admin, alerts, api, auth, cases, debunks, health, inbox, leads, me, metrics, modtools,
                           overview, reports, review, rulebook, search)

    for module in (auth, health, metrics, overview, leads, reports, review, modtools, alerts, cases, debunks, search,
                   rulebook, admin, me, inbox, api):
        app.register_blueprint(module.bp)
    app.extensions["csrf"].exempt(api.bp)  # token-authenticated and read-only: no session, no form


def _register_template_helpers(app: Flask) -> None:
    tz = app.extensions[EXTENSION_KEY].tz
    tz_label = "北京时间" if tz.key in ("Asia/Shanghai", "Asia/Chongqing", "PRC") else f"{tz.key} 时区时间"

    def can(name: str) -> bool:
        return roles.allows(current_user(), roles.by_name(name))

    # Globals (also visible inside imported macros); per-user values come from the context processor.
    app.jinja_env.globals.update(
        can=can,
        csrf_token=generate_csrf,
        status_labels=STATUS_LABELS,
        writeback_labels=WRITEBACK_LABELS,
        case_kind_labels=CASE_KIND_LABELS,
        reason_labels=REASON_CODE_LABELS_ZH,
        tz_label=tz_label,
        report_periods=REPORT_PERIODS_ZH,
        writeback_actions=WRITEBACK_ACTIONS_ZH,
    )

    @app.context_processor
    def inject() -> dict[str, Any]:
        user = current_user()
        nav = [(ep, label) for ep, label, perm in roles.NAV if roles.allows(user, roles.by_name(perm))]
        return {"user": user, "nav": nav, "active_endpoint": request.endpoint or ""}

    app.jinja_env.filters["localtime"] = lambda dt, fmt="%Y-%m-%d %H:%M": localtime(dt, tz, fmt)
    # Alert and case texts: redacted for viewers who may not see personal data (dashboard/present.py).
    app.jinja_env.filters["private"] = lambda text: private(text, sees_clear_pii(current_user()))
    app.jinja_env.filters["channel"] = channel_label
    app.jinja_env.filters["safe_url"] = safe_url
