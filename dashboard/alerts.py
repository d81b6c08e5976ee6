"""预警: the alert list with level badges, acknowledging, and one alert with its delivery states."""
from __future__ import annotations

from typing import Any, Sequence

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core.domain import AuditEvent, Debunk, Level
from dashboard import roles
from dashboard.auth import current_user, require_role
from dashboard.context import services
from dashboard.present import PostView, pager, post_view, sees_clear_pii
from dashboard.review import platform_actions

bp = Blueprint("alerts", __name__)
PER_PAGE = 30
MAX_POSTS_SHOWN = 50
DELIVERY_LABELS = {"pending": "待发送", "sent": "已发送", "failing": "发送失败，重试中"}


def posts_for(post_ids: Sequence[int], limit: int = MAX_POSTS_SHOWN) -> list[PostView]:
    """The posts behind an alert or case, as the current user may see them."""
    store = services().store
    clear = sees_clear_pii(current_user())
    debunks: dict[int, Debunk] = {d.id: d for d in store.debunks(active_only=False) if d.id is not None}
    ids = list(post_ids)[:limit]
    posts, analyses = store.posts_by_ids(ids), store.analyses_by_ids(ids)
    writebacks = store.writebacks_for(ids)
    views = []
    for pid in ids:
        if pid in posts:
            p = posts[pid]
            versions = store.post_versions(pid) if p.version > 1 else []
            views.append(post_view(p, analyses.get(pid), clear=clear, debunks=debunks, versions=versions,
                                   actions=platform_actions(p), writebacks=writebacks.get(pid, [])))
    return views


@bp.get("/alerts")
@require_role(*roles.ALERTS)
def index() -> Any:
    level = request.args.get("level") or None
    if level not in (None, *(lv.value for lv in Level)):
        level = None
    pg = pager(PER_PAGE)
    rows = pg.trim(services().store.alerts(limit=PER_PAGE + 1, offset=pg.offset, level=level))
    return render_template("alerts/list.html", alerts=rows, level=level, levels=list(Level), pager=pg)


@bp.get("/alerts/<int:alert_id>")
@require_role(*roles.ALERTS)
def detail(alert_id: int) -> Any:
    store = services().store
    alert = store.get_alert(alert_id)
    if alert is None:
        abort(404)
    show_deliveries = roles.allows(current_user(), roles.DELIVERIES)
    case = store.get_case(alert.case_id) if alert.case_id else None
    return render_template(
        "alerts/detail.html",
        alert=alert,
        case=case,
        posts=posts_for(alert.post_ids),
        more_posts=max(0, len(alert.post_ids) - MAX_POSTS_SHOWN),
        deliveries=store.deliveries(alert_id) if show_deliveries else None,
        delivery_labels=DELIVERY_LABELS,
    )


@bp.post("/alerts/<int:alert_id>/ack")
@require_role(*roles.ACK)
def acknowledge(alert_id: int) -> Any:
    store = services().store
    user = current_user()
    assert user is not None
    alert = store.get_alert(alert_id)
    if alert is None:
        abort(404)
    if alert.acknowledged_by:
        flash(f"该预警已由 {alert.acknowledged_by} 确认，无需重复操作。", "info")
    else:
        store.acknowledge_alert(
            alert_id, AuditEvent(user.username, "alert.ack", f"alert:{alert_id}", {"level": alert.level.value})
        )
        flash(f"已确认预警 #{alert_id}。", "ok")
    back = request.form.get("next")
    return redirect(url_for("alerts.detail", alert_id=alert_id) if back == "detail" else url_for("alerts.index"))
