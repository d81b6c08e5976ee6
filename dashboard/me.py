"""我的订阅 (/me): every signed-in user sees their own contact routes (set by an admin, read-only here)
and changes their own subscriptions — topics, channels, lowest alert level — which decide which
alerts routing (alerts/routing.py) sends them. Only the user's own record is ever shown or changed."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, flash, redirect, render_template, request, url_for

from core.domain import CHANNEL_LABELS_ZH, Level, User
from dashboard import roles
from dashboard.accounts import (KNOWN_TOPICS, ROUTE_FIELDS, SUBSCRIPTION_FIELDS, AccountError, edit_user, field_labels,
                                profile_from_form)
from dashboard.auth import current_user, require_role
from dashboard.context import services

bp = Blueprint("me", __name__)
RECENT_ALERTS = 100  # the preview looks at this many of the newest alerts
PREVIEW_SHOWN = 10


def _form(user: User) -> dict[str, Any]:
    return {"topics": list(user.topics), "channels": list(user.channels), "min_level": user.min_level.value,
            "reports": list(user.reports)}


def _page(user: User, form: dict[str, Any], error: str | None = None, status: int = 200) -> Any:
    """The page for `user` (always the signed-in user). The preview lists recent alerts their saved
    subscriptions match, for roles that may see alerts (titles pass the `private` filter)."""
    preview: list[Any] | None = None
    recent_count = 0
    if roles.allows(user, roles.ALERTS):
        recent = services().store.alerts(limit=RECENT_ALERTS)
        recent_count = len(recent)
        preview = [a for a in recent if user.subscribed(a.level, a.topics, a.channels)]
    has_route = any(getattr(user, f) for f in ROUTE_FIELDS)
    return render_template("me/index.html", me=user, form=form, error=error, preview=preview,
                           preview_shown=PREVIEW_SHOWN, recent_count=recent_count, has_route=has_route,
                           known_topics=KNOWN_TOPICS, channel_labels=CHANNEL_LABELS_ZH, levels=list(Level)), status


@bp.get("/me")
@require_role(*roles.ME)
def index() -> Any:
    user = current_user()
    assert user is not None  # require_role
    return _page(user, _form(user))


@bp.post("/me")
@require_role(*roles.ME)
def save() -> Any:
    """Save the signed-in user's subscriptions. Only SUBSCRIPTION_FIELDS are read from the form:
    contact routes, role and active flag sent along are ignored (an admin sets those)."""
    user = current_user()
    assert user is not None  # require_role
    profile = profile_from_form(request.form, SUBSCRIPTION_FIELDS)
    try:
        changed = edit_user(services().store, user.username, user.username, "web", profile=profile)
    except AccountError as exc:
        return _page(user, profile, error=str(exc), status=400)
    if changed:
        flash(f"已保存你的订阅：{field_labels(changed)}。之后的新预警按新的订阅通知你。", "ok")
    else:
        flash("订阅没有变化。", "info")
    return redirect(url_for("me.index"))
