"""搜索: full-text search over posts (word-aware for Chinese, by the store)."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import Blueprint, render_template, request

from core.domain import Debunk
from dashboard import roles
from dashboard.auth import current_user, require_role
from dashboard.context import services
from dashboard.present import pager, post_view, sees_clear_pii
from dashboard.review import review_scope

bp = Blueprint("search", __name__)
PER_PAGE = 20
QUERY_MAX = 100


@bp.get("/search")
@require_role(*roles.SEARCH)
def index() -> Any:
    store = services().store
    q = (request.args.get("q") or "").strip()[:QUERY_MAX]
    pg = pager(PER_PAGE)
    views = []
    if q:
        user = current_user()
        posts = pg.trim(store.search(q, limit=PER_PAGE + 1, offset=pg.offset, channels=review_scope(user)))
        clear = sees_clear_pii(user)
        debunks: dict[int, Debunk] = {d.id: d for d in store.debunks(active_only=False) if d.id is not None}
        analyses = store.analyses_by_ids([p.id for p in posts if p.id])
        views = [
            post_view(p, analyses.get(p.id), clear=clear, debunks=debunks,
                      versions=store.post_versions(p.id) if p.version > 1 else [])
            for p in posts if p.id
        ]
    return render_template("search/index.html", q=q, views=views, pager=pg, query=urlencode({"q": q}))
