"""提案线索: staff grievances (诉求) of a period, by topic, for officers to turn into proposals.

A grievance is a staff member's complaint or request about their own situation (nlp.voice). It is
never a reason to remove a post; here it is a lead: what staff ask the union to take up. The list is
bounded by the period and continues by keyset (the last post shown), so it stays fast on a large store.
"""
from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, render_template, request

from core.domain import utcnow
from dashboard import roles
from dashboard.auth import current_user, require_role
from dashboard.context import services
from dashboard.present import int_arg, post_view, sees_clear_pii
from store.codec import parse_ts

bp = Blueprint("leads", __name__)
PER_PAGE = 20
PERIODS = {7: "近 7 天", 30: "近 30 天", 90: "近 90 天", 365: "近一年"}
MIN_SCORE = 0.5
NO_TOPIC = "未分类"


@bp.get("/leads")
@require_role(*roles.LEADS)
def index() -> Any:
    store = services().store
    days = int_arg("days", 30, 1, 365)
    days = days if days in PERIODS else 30
    until = utcnow()
    since = until - timedelta(days=days)
    topic = (request.args.get("topic") or "").strip()[:20] or None
    before = _cursor(request.args.get("after") or "")
    rows = store.grievance_leads(since, until, MIN_SCORE, topic="" if topic == NO_TOPIC else topic, before=before,
                                 limit=PER_PAGE + 1)
    more = len(rows) > PER_PAGE
    rows = rows[:PER_PAGE]
    clear = sees_clear_pii(current_user())
    views = [post_view(p, a, clear=clear) for p, a in rows]
    last = rows[-1][0] if more and rows else None
    topics = [(t or NO_TOPIC, n) for t, n in store.grievance_topics(since, until, MIN_SCORE)]
    return render_template(
        "leads/index.html", views=views, topics=topics, topic=topic, days=days, periods=PERIODS,
        next_cursor=f"{last.created_at.isoformat()}|{last.id}" if last else None, first_page=before is None,
        total=sum(n for _, n in topics),
    )


def _cursor(raw: str) -> tuple[datetime, int] | None:
    """(created_at, id) of the last lead shown, from `after=ISO|ID`; anything else starts over."""
    when, _, pid = raw.partition("|")
    try:
        at, post_id = parse_ts(when), int(pid)
    except (ValueError, TypeError, OverflowError):
        return None
    if at is None or at.tzinfo is None or not 0 <= post_id < 2**63:
        return None
    return at, post_id
