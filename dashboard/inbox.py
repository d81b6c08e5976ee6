"""我的事件: a leader's (or officer's) inbox — the open cases assigned to them, with their state, how
many posts came in lately and whether they have answered; and the alerts they were notified about
that nobody has claimed or acknowledged yet, with 认领 / 确认 at hand."""
from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from flask import Blueprint, render_template

from core.domain import Alert, Case, utcnow
from dashboard import roles
from dashboard.alerts import DELIVERY_LABELS
from dashboard.auth import current_user, require_role
from dashboard.context import services
from dashboard.present import CASE_KIND_LABELS
from store.base import Delivery

bp = Blueprint("inbox", __name__)
RECENT = timedelta(hours=24)
ALERTS_SHOWN = 50


@dataclass
class InboxCase:
    case: Case
    posts: int
    recent: int  # posts written in the last 24 hours
    responded_at: datetime | None  # my latest answer
    since_response: int  # posts written after it


@dataclass
class InboxAlert:
    alert: Alert
    deliveries: list[Delivery]  # those to me: through which notifier, why, in which state


@bp.get("/inbox")
@require_role(*roles.INBOX)
def index() -> Any:
    store = services().store
    user = current_user()
    assert user is not None
    now = utcnow()
    cases = []
    for case in store.cases_assigned(user.username, open_only=True):
        times = store.case_post_times(case.id)  # type: ignore[arg-type]
        mine = [r for r in store.case_responses(case.id) if r.username == user.username]  # type: ignore[arg-type]
        last = mine[-1].created_at if mine else None
        cases.append(InboxCase(case=case, posts=len(times), recent=sum(1 for t in times if t >= now - RECENT),
                               responded_at=last, since_response=sum(1 for t in times if last and t >= last)))
    alerts = [InboxAlert(a, [d for d in store.deliveries(a.id) if d.recipient == user.username])  # type: ignore[arg-type]
              for a in store.alerts_notified(user.username, open_only=True, limit=ALERTS_SHOWN)]
    return render_template("inbox/index.html", cases=cases, alerts=alerts, kind_labels=CASE_KIND_LABELS,
                           delivery_labels=DELIVERY_LABELS, recent_hours=int(RECENT.total_seconds() // 3600))
