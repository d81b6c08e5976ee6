"""事件: grouped posts (rumour, flood, surge). Leaders see rumour cases only, with the clarifications."""
from __future__ import annotations

from typing import Any

from flask import Blueprint, abort, render_template, request

from core.domain import CaseKind, Debunk
from dashboard import roles
from dashboard.alerts import posts_for
from dashboard.auth import current_user, require_role
from dashboard.context import services
from dashboard.present import CASE_KIND_LABELS, PostView

bp = Blueprint("cases", __name__)
CASE_LIMIT = 200
MAX_POSTS_SHOWN = 100
ALERTS_SHOWN = 20


def _kinds_for_user() -> list[CaseKind]:
    if roles.allows(current_user(), roles.ALL_CASE_KINDS):
        return list(CaseKind)
    return [CaseKind.RUMOUR]


@bp.get("/cases")
@require_role(*roles.CASES)
def index() -> Any:
    kinds = _kinds_for_user()
    kind = request.args.get("kind") or None
    if kind not in [k.value for k in kinds]:
        kind = kinds[0].value if len(kinds) == 1 else None
    status = request.args.get("status", "open")
    if status not in ("open", "closed", "all"):
        status = "open"
    rows = services().store.cases(kind=kind, status=None if status == "all" else status, limit=CASE_LIMIT)
    return render_template("cases/list.html", cases=rows, kind=kind, kinds=kinds, status=status,
                           kind_labels=CASE_KIND_LABELS)


@bp.get("/cases/<int:case_id>")
@require_role(*roles.CASES)
def detail(case_id: int) -> Any:
    store = services().store
    case = store.get_case(case_id)
    if case is None:
        abort(404)
    alerts = store.case_alerts(case_id, limit=ALERTS_SHOWN)
    # Leaders list rumour cases only, but may open any case an alert they can read is about.
    if case.kind not in _kinds_for_user() and not (alerts and roles.allows(current_user(), roles.ALERTS)):
        abort(403)
    posts = posts_for(case.post_ids, MAX_POSTS_SHOWN)
    return render_template(
        "cases/detail.html",
        case=case,
        alerts=alerts,
        posts=posts,
        more_posts=max(0, len(case.post_ids) - MAX_POSTS_SHOWN),
        clarifications=_clarifications(posts),
        kind_labels=CASE_KIND_LABELS,
    )


def _clarifications(posts: list[PostView]) -> list[tuple[Debunk, int]]:
    """The debunk entries the case's posts match, with how many posts match each, most first."""
    found: dict[int, tuple[Debunk, int]] = {}
    for v in posts:
        if v.debunk is not None and v.debunk.id is not None:
            d, n = found.get(v.debunk.id, (v.debunk, 0))
            found[v.debunk.id] = (d, n + 1)
    return sorted(found.values(), key=lambda x: -x[1])
