"""预警: the alert list with level badges, one alert with who was told (and how), 认领 and 确认, and
the signed link of a personal notification (`/a/<token>`, core/links.py) that opens an alert after
sign-in."""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Sequence

from flask import Blueprint, abort, current_app, flash, redirect, render_template, request, url_for

from core.domain import ROUTES, AuditEvent, Debunk, Level, Role, User
from core.links import AlertLinks, BadLink
from core.masking import redact
from dashboard import roles
from dashboard.auth import current_user, require_role, safe_next
from dashboard.context import services
from dashboard.present import PostView, pager, post_view, sees_clear_pii
from dashboard.review import platform_actions
from store.base import Delivery

bp = Blueprint("alerts", __name__)
log = logging.getLogger("sentinel.dashboard")
PER_PAGE = 30
MAX_POSTS_SHOWN = 50
DELIVERY_LABELS = {"pending": "待发送", "sent": "已发送", "failing": "发送失败，重试中"}
HIDDEN_ROUTE = "（联系方式已隐藏）"


@dataclass
class DeliveryRow:
    """One delivery as the viewer may see it: contact addresses (personal data) only for admins and
    the recipient themself."""

    delivery: Delivery
    error: str


def delivery_rows(deliveries: Sequence[Delivery], viewer: User | None) -> list[DeliveryRow]:
    store = services().store
    people: dict[str, User | None] = {}
    rows = []
    for d in deliveries:
        error = d.last_error
        own = viewer is not None and d.recipient == viewer.username
        if error and not own and not (viewer is not None and viewer.role is Role.ADMIN):
            if d.recipient:
                if d.recipient not in people:
                    people[d.recipient] = store.get_user(d.recipient)
                person = people[d.recipient]
                for route in ROUTES if person is not None else ():
                    address = person.address(route)  # type: ignore[union-attr]
                    if address:
                        error = error.replace(address, HIDDEN_ROUTE)
            error = redact(error)
        rows.append(DeliveryRow(d, error))
    return rows


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
    user = current_user()
    show_deliveries = roles.allows(user, roles.DELIVERIES)
    case = store.get_case(alert.case_id) if alert.case_id else None
    return render_template(
        "alerts/detail.html",
        alert=alert,
        case=case,
        posts=posts_for(alert.post_ids),
        more_posts=max(0, len(alert.post_ids) - MAX_POSTS_SHOWN),
        deliveries=delivery_rows(store.deliveries(alert_id), user) if show_deliveries else None,
        delivery_labels=DELIVERY_LABELS,
    )


def _back(alert_id: int) -> str:
    """Where a form on the alert list, the alert page or the inbox returns to."""
    back = request.form.get("next")
    if back == "detail":
        return url_for("alerts.detail", alert_id=alert_id)
    return safe_next(back) or url_for("alerts.index")


def _acting_on(alert_id: int) -> tuple[Any, Any, Any]:
    """(store, the signed-in user, the alert) for a form acting on an alert; 404 if it is gone."""
    store = services().store
    user = current_user()
    assert user is not None
    alert = store.get_alert(alert_id)
    if alert is None:
        abort(404)
    return store, user, alert


@bp.post("/alerts/<int:alert_id>/ack")
@require_role(*roles.ACK)
def acknowledge(alert_id: int) -> Any:
    store, user, alert = _acting_on(alert_id)
    audit = AuditEvent(user.username, "alert.ack", f"alert:{alert_id}", {"level": alert.level.value})
    if alert.acknowledged_by or not store.acknowledge_alert(alert_id, audit):
        who = alert.acknowledged_by or (store.get_alert(alert_id) or alert).acknowledged_by
        flash(f"该预警已由 {who} 确认，无需重复操作。", "info")
    else:
        flash(f"已确认预警 #{alert_id}。", "ok")
    return redirect(_back(alert_id))


@bp.post("/alerts/<int:alert_id>/claim")
@require_role(*roles.CLAIM)
def claim(alert_id: int) -> Any:
    """认领: "I take this on". The first one wins; escalation stops for a claimed alert."""
    store, user, alert = _acting_on(alert_id)
    audit = AuditEvent(user.username, "alert.claim", f"alert:{alert_id}",
                       {"level": alert.level.value, "case": alert.case_id})
    if alert.claimed_by or not store.claim_alert(alert_id, audit):
        who = alert.claimed_by or (store.get_alert(alert_id) or alert).claimed_by
        if who == user.username:
            flash("你已认领此预警。", "info")
        else:
            flash(f"该预警已由 {who} 认领；如需协助，请直接联系对方。", "info")
    else:
        flash(f"已认领预警 #{alert_id}：由你负责跟进处理。", "ok")
    return redirect(_back(alert_id))


@bp.get("/a/<token>")
def open_link(token: str) -> Any:
    """The link in a personal notification: check it, sign in if needed (and come back here), then
    open the alert with 认领 / 确认. Each opening is audited (`alert.link_open`)."""
    links = AlertLinks(current_app.config["SECRET_KEY"], services().settings.external_url)
    try:
        alert_id, sent_to = links.load(token)
    except BadLink as exc:
        log.info("拒绝了无效或过期的预警链接（%s）", request.remote_addr)
        return render_template("alerts/bad_link.html", message=str(exc)), 400
    user = current_user()
    if user is None:
        flash("请先登录；登录后将自动打开通知中的预警。", "info")
        return redirect(url_for("auth.login", next=url_for("alerts.open_link", token=token)))
    store = services().store
    alert = store.get_alert(alert_id)
    if alert is None:
        return render_template("alerts/bad_link.html", message="链接指向的预警已不存在，请在预警列表中查看。"), 404
    own = sent_to == user.username
    may_see = roles.allows(user, roles.ALERTS)
    store.audit(AuditEvent(user.username, "alert.link_open", f"alert:{alert_id}",
                           {"sent_to": sent_to, "own": own, "allowed": may_see}))
    if not may_see:
        message = (f"此链接是发给 {sent_to} 的通知，而你当前以 {user.username}（{user.role.label_zh}）登录，"
                   "该角色无权查看预警。请退出后用收到通知的账号登录。")
        return render_template("errors/error.html", code=403, title="没有权限", message=message), 403
    if not own:
        flash(f"此链接是发给 {sent_to} 的通知，你当前以 {user.username} 登录。预警照常打开；"
              "你在此页的认领或确认将记在你自己的名下。", "info")
    return redirect(url_for("alerts.detail", alert_id=alert_id))
