"""Moderation tools around the review queue: bulk actions with a preview, an author's history,
saved filters, and exports of what a page shows.

- **Bulk actions** (`/queue/bulk`): the moderator ticks posts on the queue, picks approve or remove
  and a reason, and first sees a preview of what will happen to each post — decided, a removal that
  waits for a second moderator (the two-person rule), or skipped (already decided, not in their
  channels, their own removal request). Confirming applies each post through the same code as a
  one-post decision (`review.apply_decision`), so every rule and audit event is the same.
- **Author history** (`/posts/<id>/author`): one author in one channel — posts, flags by rule,
  removals, approvals, pending removal requests, mutes asked of the platform — and their posts,
  newest first. The address names a post, not the author: an author id (a QQ number) is personal data.
- **Saved filters**: a user's named query strings of the queue.
- **Exports** (`/export`): the queue (its filter), a search or the 提案线索 as CSV, XLSX or JSONL in the shared data
  standard (dashboard.export). Personal data is masked unless the user may see it and asks for clear
  text with a reason; a clear export is audited (who, why, how many rows — never the data).
"""
from __future__ import annotations

import io
from dataclasses import dataclass
from itertools import islice
from typing import Any, Iterator
from urllib.parse import parse_qsl, urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, send_file, url_for

from core.domain import Action, AuditEvent, FlagStatus, ReasonCode, channel_label, utcnow
from dashboard import roles
from dashboard.auth import current_user, require_role, safe_next
from dashboard.context import services
from dashboard.export import write as write_export
from dashboard.present import (
    author_display, decode_cursor, encode_cursor, keyset_walk, post_view, sees_clear_pii, visible_text,
)
from dashboard.review import (
    NOTE_MAX, SAVED_PAGE, QueueFilter, apply_decision, in_scope, item_view,
    needs_second_moderator, parse_decision, review_scope,
)
from store.base import QueueItem, SavedFilter

bp = Blueprint("moderation", __name__)
BULK_MAX = 100  # posts per bulk action
AUTHOR_PER_PAGE = 20
FILTER_NAME_MAX = 30
FILTERS_MAX = 20  # saved filters per user and page
EXPORT_MAX = 50_000  # rows per export from a page (the command line has no limit)
EXPORT_PAGE = 500  # rows read at a time
EXPORT_FORMATS = {"csv": "text/csv", "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
                  "jsonl": "application/x-ndjson"}
SEARCH_QUERY_MAX = 100


# ---------------------------------------------------------------------------- bulk actions
@dataclass
class BulkLine:
    """One post of a bulk action and what it will do (`plan`: decide / request / skip)."""

    item: QueueItem
    text: str
    plan: str
    note: str


def _bulk_request() -> tuple[list[int], Action, ReasonCode, str]:
    ids = []
    for raw in request.form.getlist("post_id"):
        if raw.isdigit() and int(raw) not in ids:
            ids.append(int(raw))
    if not ids:
        raise ValueError("请先在队列中勾选要批量处理的帖子。")
    if len(ids) > BULK_MAX:
        raise ValueError(f"一次最多批量处理 {BULK_MAX} 条帖子，你勾选了 {len(ids)} 条。")
    action, code = parse_decision(request.form.get("action", ""), request.form.get("reason_code", ""))
    return ids, action, code, request.form.get("note", "").strip()[:NOTE_MAX]


def _bulk_form() -> tuple[str, tuple[list[int], Action, ReasonCode, str] | None]:
    """Where to go back to, and the bulk request (None after flashing what is wrong with it)."""
    back = safe_next(request.form.get("next")) or url_for("review.queue")
    try:
        return back, _bulk_request()
    except ValueError as exc:
        flash(str(exc), "error")
        return back, None


def plan_line(item: QueueItem | None, action: Action, code: ReasonCode,
              removal_request: tuple | None) -> tuple[str, str]:
    """What a bulk action would do to one post, as (plan, explanation); `removal_request` is the
    post's pending (by, reason, note, at) removal request, if any."""
    user = current_user()
    if item is None:
        return "skip", "帖子不存在或未被标记，跳过"
    if not in_scope(user, item.post):
        return "skip", f"属于{channel_label(item.post.channel)}，不在你负责审核的渠道，跳过"
    if item.status is not FlagStatus.PENDING:
        return "skip", "已被处理过，跳过（如需改判请打开帖子单独处理）"
    verb = "通过" if action is Action.APPROVE else "删除"
    if action is Action.REMOVE and needs_second_moderator(item.analysis, code):
        if removal_request is None:
            return "request", "批评性的正常发言：记录你的删除意见，等待另一位审核员确认"
        if user is not None and removal_request[0] == user.username:
            return "skip", "删除是你提出的，需要另一位审核员确认，跳过"
        return "decide", f"删除（确认 {removal_request[0]} 的删除意见）"
    return "decide", f"{verb}（{code.label_zh}）"


@bp.post("/queue/bulk")
@require_role(*roles.DECIDE)
def bulk_preview() -> Any:
    back, req = _bulk_form()
    if req is None:
        return redirect(back)
    ids, action, code, note = req
    store = services().store
    clear = sees_clear_pii(current_user())
    items, requests = store.queue_items(ids), store.removal_requests(ids)
    lines = [BulkLine(items[pid], visible_text(items[pid].post, items[pid].analysis, clear),
                      *plan_line(items[pid], action, code, requests.get(pid)))
             for pid in ids if pid in items]
    counts = {k: sum(1 for x in lines if x.plan == k) for k in ("decide", "request", "skip")}
    return render_template("review/bulk.html", lines=lines, action=action, code=code, note=note, counts=counts,
                           back=back, missing=len(ids) - len(lines))


@bp.post("/queue/bulk/apply")
@require_role(*roles.DECIDE)
def bulk_apply() -> Any:
    back, req = _bulk_form()
    if req is None:
        return redirect(back)
    ids, action, code, note = req
    store, user = services().store, current_user()
    assert user is not None
    done: dict[str, int] = {"decided": 0, "requested": 0, "refused": 0, "skipped": 0}
    items = store.queue_items(ids)
    for pid in ids:
        item = items.get(pid)
        if item is None or item.status is not FlagStatus.PENDING:  # decided since the preview
            done["skipped"] += 1
            continue
        done[apply_decision(item, user, action, code, note, via="bulk").kind] += 1
    verb = "通过" if action is Action.APPROVE else "删除"
    parts = [f"批量{verb}（{code.label_zh}）：已处理 {done['decided']} 条"]
    if done["requested"]:
        parts.append(f"{done['requested']} 条已记录删除意见、等待另一位审核员确认")
    if done["refused"] + done["skipped"]:
        parts.append(f"{done['refused'] + done['skipped']} 条跳过（已被处理、不在你的渠道或需他人确认）")
    flash("，".join(parts) + "。", "ok")
    return redirect(back)


# ---------------------------------------------------------------------------- an author's history
@bp.get("/posts/<int:post_id>/author")
@require_role(*roles.QUEUE)
def author(post_id: int) -> Any:
    store, user = services().store, current_user()
    post = store.get_post(post_id)
    if post is None:
        abort(404)
    if not in_scope(user, post):
        abort(403)
    before = decode_cursor(request.args.get("before") or "")
    posts = store.author_posts(post.channel, post.author, before[1] if before else None, AUTHOR_PER_PAGE + 1)
    more = len(posts) > AUTHOR_PER_PAGE
    posts = posts[:AUTHOR_PER_PAGE]
    clear = sees_clear_pii(user)
    ids = [p.id for p in posts if p.id]
    items, analyses = store.queue_items(ids), store.analyses_by_ids(ids)
    views = [item_view(items[p.id], {}, clear) if p.id in items else post_view(p, analyses.get(p.id), clear=clear)
             for p in posts]
    last = posts[-1] if more and posts else None
    return render_template(
        "review/author.html", post=post, who=author_display(post, clear),
        history=store.author_history(post.channel, post.author), views=views,
        next_cursor=encode_cursor(last.created_at, last.id) if last and last.id else None, first_page=before is None,
    )


# ---------------------------------------------------------------------------- saved filters
@bp.post("/filters")
@require_role(*roles.QUEUE)
def save_filter() -> Any:
    user = current_user()
    assert user is not None
    name = " ".join((request.form.get("name") or "").split())[:FILTER_NAME_MAX]
    query = QueueFilter.from_args(dict(parse_qsl(request.form.get("query") or ""))).query()
    back = url_for("review.queue") + ("?" + query if query else "")
    if not name:
        flash("请给筛选起个名字，例如“QQ群待审”。", "error")
        return redirect(back)
    try:
        services().store.save_filter(SavedFilter(user.username, SAVED_PAGE, name, query), FILTERS_MAX)
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(back)
    flash(f"已保存筛选“{name}”。", "ok")
    return redirect(back)


@bp.post("/filters/<int:filter_id>/delete")
@require_role(*roles.QUEUE)
def delete_filter(filter_id: int) -> Any:
    user = current_user()
    assert user is not None
    if services().store.delete_filter(user.username, filter_id):
        flash("已删除筛选。", "ok")
    return redirect(safe_next(request.form.get("next")) or url_for("review.queue"))


# ---------------------------------------------------------------------------- exports
def _queue_rows(args: Any) -> Iterator[tuple[Any, Any]]:
    store = services().store
    f = QueueFilter.from_args(args)
    scope = review_scope(current_user())
    if scope is not None and f.channel and f.channel not in scope:
        return iter(())
    channels = [f.channel] if f.channel else scope
    rows = keyset_walk(lambda after: store.review_page(f.status, channels, f.rule, after, limit=EXPORT_PAGE),
                       lambda row: (row[0], row[1].post.id), EXPORT_PAGE)
    return ((item.post, item.analysis) for _, item in islice(rows, EXPORT_MAX))


def _search_rows(args: Any) -> Iterator[tuple[Any, Any]]:
    store = services().store
    q = (args.get("q") or "").strip()[:SEARCH_QUERY_MAX]
    posts = store.search(q, limit=EXPORT_MAX, channels=review_scope(current_user())) if q else []
    for i in range(0, len(posts), EXPORT_PAGE):
        chunk = posts[i:i + EXPORT_PAGE]
        analyses = store.analyses_by_ids([p.id for p in chunk if p.id])
        for p in chunk:
            yield p, analyses.get(p.id)


def _lead_rows(args: Any) -> Iterator[tuple[Any, Any]]:
    from dashboard.leads import lead_rows

    rows = keyset_walk(lambda before: lead_rows(services().store, args, before, EXPORT_PAGE),
                       lambda row: (row[0].created_at, row[0].id), EXPORT_PAGE)
    return islice(rows, EXPORT_MAX)


SOURCES = {"queue": (_queue_rows, roles.QUEUE, "审核队列"), "search": (_search_rows, roles.SEARCH, "搜索结果"),
           "leads": (_lead_rows, roles.LEADS, "提案线索")}


@bp.post("/export")
@require_role(*roles.EXPORT)
def export() -> Any:
    """The rows of a page (`source`: queue, search or leads, with that page's query string in `query`) as a
    file. Masked unless `clear` is asked by a user who may see personal data, with a reason."""
    from dashboard.api import post_item

    user = current_user()
    assert user is not None
    source = request.form.get("source", "")
    fmt = request.form.get("format", "csv")
    if source not in SOURCES or fmt not in EXPORT_FORMATS:
        abort(400)
    rows, allowed, label = SOURCES[source]
    if not roles.allows(user, allowed):
        abort(403)
    args = dict(parse_qsl(request.form.get("query") or ""))
    clear = request.form.get("clear") == "1"
    reason = " ".join((request.form.get("reason") or "").split())[:200]
    back = safe_next(request.form.get("next")) or url_for("review.queue")
    if clear and not sees_clear_pii(user):
        abort(403)
    if clear and not reason:
        flash("导出明文需要填写理由（会记入审计日志）。", "error")
        return redirect(back)
    buf = io.BytesIO()
    n = write_export((post_item(p, a, clear) for p, a in rows(args)), "posts", fmt, buf, progress=False)
    if clear:
        services().store.audit(AuditEvent(user.username, "export.clear", source, {
            "rows": n, "format": fmt, "reason": reason, "via": "web", "query": urlencode(args)[:300]}))
    buf.seek(0)
    stamp = utcnow().astimezone(services().tz).strftime("%Y%m%d-%H%M")
    return send_file(buf, mimetype=EXPORT_FORMATS[fmt], as_attachment=True,
                     download_name=f"{label}-{stamp}{'-明文' if clear else ''}.{fmt}")
