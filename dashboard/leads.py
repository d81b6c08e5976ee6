"""提案线索: staff grievances (诉求) of a period, by topic, for officers to turn into proposals.

A grievance is a staff member's complaint or request about their own situation (nlp.voice). It is
never a reason to remove a post; here it is a lead: what staff ask the union to take up. The list is
bounded by the period and continues by keyset (the last post shown), so it stays fast on a large store.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core.domain import AuditEvent, utcnow
from dashboard import roles
from dashboard.auth import current_user, require_role, safe_next
from dashboard.context import services
from dashboard.present import decode_cursor, encode_cursor, post_view, sees_clear_pii

bp = Blueprint("leads", __name__)
PER_PAGE = 20
PERIODS = {7: "近 7 天", 30: "近 30 天", 90: "近 90 天", 365: "近一年"}
MIN_SCORE = 0.5
NO_TOPIC = "未分类"
STATES = {"open": "待处理", "proposal": "已转为提案", "handled": "已处理"}
NOTE_MAX = 200


def lead_filter(args: Any) -> tuple[int, datetime, datetime, str | None, str]:
    """(days, since, until, topic, state) of the page's query string, unknown values replaced by defaults."""
    try:
        days = int(args.get("days", 30))
    except (TypeError, ValueError):
        days = 30
    days = days if days in PERIODS else 30
    until = utcnow()
    topic = (args.get("topic") or "").strip()[:20] or None
    state = args.get("state", "open")
    return days, until - timedelta(days=days), until, topic, state if state in STATES or state == "all" else "open"


def lead_rows(store: Any, args: Any, before: tuple[datetime, int] | None, limit: int) -> list[tuple[Any, Any]]:
    """The leads the page shows for `args`, newest first, after the `before` cursor."""
    _, since, until, topic, state = lead_filter(args)
    return store.grievance_leads(since, until, MIN_SCORE, topic="" if topic == NO_TOPIC else topic, before=before,
                                 limit=limit, state=None if state == "all" else state)


@bp.get("/leads")
@require_role(*roles.LEADS)
def index() -> Any:
    store = services().store
    days, since, until, topic, state = lead_filter(request.args)
    before = decode_cursor(request.args.get("after") or "")
    rows = lead_rows(store, request.args, before, PER_PAGE + 1)
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    clear = sees_clear_pii(current_user())
    views = [post_view(p, a, clear=clear) for p, a in rows]
    done = store.lead_states([p.id for p, _ in rows if p.id])
    last = rows[-1][0] if more and rows else None
    topics = [(t or NO_TOPIC, n) for t, n in store.grievance_topics(since, until, MIN_SCORE)]
    return render_template(
        "leads/index.html", views=views, topics=topics, topic=topic, days=days, periods=PERIODS, state=state,
        states=STATES, done=done,
        next_cursor=encode_cursor(last.created_at, last.id) if last and last.id else None, first_page=before is None,
        total=sum(n for _, n in topics),
        export_query=urlencode({"days": days, "topic": topic or "", "state": state}),
    )


@bp.post("/leads/<int:post_id>")
@require_role(*roles.LEADS)
def set_state(post_id: int) -> Any:
    """转为提案 / 标记已处理 / 重新打开 a lead; audited, with an optional note."""
    store = services().store
    user = current_user()
    assert user is not None
    back = safe_next(request.form.get("next")) or url_for("leads.index")
    if store.get_post(post_id) is None:
        abort(404)
    state = request.form.get("state", "")
    if state not in ("proposal", "handled", "open"):
        flash("操作无效：只能转为提案、标记已处理或重新打开", "error")
        return redirect(back)
    note = request.form.get("note", "").strip()[:NOTE_MAX]
    store.set_lead_state(post_id, None if state == "open" else state, note, user.username,
                         AuditEvent(user.username, f"lead.{state}", f"post:{post_id}", {"has_note": bool(note)}))
    flash(f"诉求 #{post_id}：{STATES[state]}。", "ok")
    return redirect(back)
