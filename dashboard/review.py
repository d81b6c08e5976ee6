"""审核队列: flagged posts with the reasons behind each flag; approve or remove with a reason code."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence
from urllib.parse import urlencode

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core.domain import (
    CHANNEL_LABELS_ZH,
    Action,
    AuditEvent,
    Decision,
    Debunk,
    REMOVE_REASONS,
    FlagStatus,
    ReasonCode,
    User,
    WriteBack,
    channel_label,
)
from dashboard import roles
from dashboard.auth import current_user, require_role, safe_next
from dashboard.context import services
from dashboard.present import PostView, decode_cursor, encode_cursor, post_view, sees_clear_pii
from store.base import QueueItem

bp = Blueprint("review", __name__)
PER_PAGE = 20
APPROVE_CODES = (ReasonCode.OK, ReasonCode.FALSE_POSITIVE)
REMOVE_CODES = REMOVE_REASONS
NOTE_MAX = 500
REPLY_MAX = 600
RULE_NAME_MAX = 80
SAVED_PAGE = "review.queue"  # saved filters of the queue are kept under this page name


def _debunk_index() -> dict[int, Debunk]:
    return {d.id: d for d in services().store.debunks(active_only=False) if d.id is not None}


def item_view(item: QueueItem, debunks: dict[int, Debunk], clear: bool) -> PostView:
    s = services()
    versions = s.store.post_versions(item.post.id) if item.post.version > 1 and item.post.id else []
    writebacks = s.store.writebacks_for([item.post.id]).get(item.post.id, []) if item.post.id else []
    view = post_view(item.post, item.analysis, clear=clear, debunks=debunks, flags=item.flags,
                     status=item.status, decision=item.decision, versions=versions,
                     actions=platform_actions(item.post), writebacks=writebacks)
    if item.post.id is not None and item.status is FlagStatus.PENDING:
        view.removal_request = s.store.removal_requests([item.post.id]).get(item.post.id)
        me = current_user()
        view.removal_by_me = bool(view.removal_request and me and view.removal_request[0] == me.username)
    return view


# Two-person rule: a critical post (negative) removed for a reason other than spam, abuse or a privacy
# leak needs a second moderator. It protects staff voice: criticism is not removed by one person alone.
SINGLE_MODERATOR_CODES = frozenset({ReasonCode.SPAM, ReasonCode.ABUSE, ReasonCode.PRIVACY})


def needs_second_moderator(analysis: Any, code: ReasonCode) -> bool:
    return (code not in SINGLE_MODERATOR_CODES and analysis is not None
            and getattr(analysis.sentiment, "value", analysis.sentiment) == "neg")


def platform_actions(post: Any) -> frozenset[str]:
    """What the current user may ask of the platform for this post: moderators delete and mute,
    officers and leaders reply."""
    user, allowed = current_user(), services().actions_for(post)
    mine = set()
    if roles.allows(user, roles.DECIDE):
        mine |= {"delete", "ban"}
    if roles.allows(user, roles.REPLY):
        mine |= {"reply", "elect"}
    return frozenset(allowed & mine)


def review_scope(user: User | None) -> list[str] | None:
    """The channels `user` reviews, or None for every channel (User.review_scope)."""
    return user.review_scope if user is not None else None


def in_scope(user: User | None, post: Any) -> bool:
    return user is None or user.reviews(post.channel)


def channel_options(scope: list[str] | None = None) -> list[tuple[str, str]]:
    known = dict(CHANNEL_LABELS_ZH)
    for channel, _ in services().store.channel_counts():
        known.setdefault(channel, channel_label(channel))
    return sorted((c, label) for c, label in known.items() if scope is None or c in scope)


@dataclass
class QueueFilter:
    """The queue's filter, read from the query string (the same string a saved filter keeps)."""

    status: FlagStatus = FlagStatus.PENDING
    channel: str | None = None
    rule: str | None = None

    @classmethod
    def from_args(cls, args: Any) -> "QueueFilter":
        try:
            status = FlagStatus(args.get("status", "pending"))
        except ValueError:
            status = FlagStatus.PENDING
        rule = (args.get("rule") or "").strip()[:RULE_NAME_MAX] or None
        return cls(status, (args.get("channel") or "").strip() or None, rule)

    def args(self) -> dict[str, str]:
        """The canonical query arguments (status first; defaults left out)."""
        parts = {"status": self.status.value, "channel": self.channel, "rule": self.rule}
        return {k: v for k, v in parts.items() if v and not (k == "status" and v == "pending")}

    def query(self) -> str:
        return urlencode(self.args())


@bp.get("/queue")
@require_role(*roles.QUEUE)
def queue() -> Any:
    store = services().store
    user = current_user()
    f = QueueFilter.from_args(request.args)
    scope = review_scope(user)
    if scope is not None and f.channel and f.channel not in scope:
        flash(f"你只负责审核这些渠道：{'、'.join(channel_label(c) for c in scope)}。", "error")
        f.channel = None
    channels = [f.channel] if f.channel else scope
    after = decode_cursor(request.args.get("cursor", "")) if request.args.get("cursor") else None
    page = store.review_page(f.status, channels, f.rule, after, limit=PER_PAGE + 1)
    more = len(page) > PER_PAGE
    page = page[:PER_PAGE]
    debunks = _debunk_index()
    clear = sees_clear_pii(user)
    last_at, last = page[-1] if more else (None, None)
    next_url = url_for("review.queue", **f.args(), cursor=encode_cursor(last_at, last.post.id)) if last else None
    saved = store.saved_filters(user.username, SAVED_PAGE) if user else []
    return render_template(
        "review/queue.html",
        views=[item_view(i, debunks, clear) for _, i in page],
        status=f.status,
        channel=f.channel,
        rule=f.rule,
        rules=store.queue_rules(f.status),
        channels=channel_options(scope),
        scope=scope,
        total=store.queue_count(f.status, channels, f.rule),
        first_url=url_for("review.queue", **f.args()),
        next_url=next_url,
        paged=after is not None,
        filter_query=f.query(),
        saved_filters=saved,
        approve_codes=APPROVE_CODES,
        remove_codes=REMOVE_CODES,
    )


@bp.get("/posts/<int:post_id>")
@require_role(*roles.QUEUE)
def post(post_id: int) -> Any:
    store = services().store
    user = current_user()
    clear = sees_clear_pii(user)
    item = store.queue_item(post_id)
    target = item.post if item is not None else store.get_post(post_id)
    if target is not None and not in_scope(user, target):
        abort(403)
    if item is not None:
        view = item_view(item, _debunk_index(), clear)
    else:
        p = store.get_post(post_id)
        if p is None:
            abort(404)
        versions = store.post_versions(post_id) if p.version > 1 else []
        view = post_view(p, store.get_analysis(post_id), clear=clear, debunks=_debunk_index(), versions=versions,
                         actions=platform_actions(p), writebacks=store.writebacks_for([post_id]).get(post_id, []))
    return render_template("review/post.html", view=view, approve_codes=APPROVE_CODES, remove_codes=REMOVE_CODES)


@dataclass
class Outcome:
    """What a decision did: `decided` (approved / removed), `requested` (a removal waiting for a
    second moderator), or `refused` (nothing changed); `message` says it in Chinese."""

    kind: str
    message: str


def apply_decision(item: QueueItem, user: User, action: Action, code: ReasonCode, note: str,
                   platform: Sequence[str] = (), via: str = "") -> Outcome:
    """Approve or remove one flagged post as `user`, with the two-person rule and the platform
    actions asked for (delete / mute); audited. Shared by one-post decisions and bulk actions."""
    store = services().store
    post_id = item.post.id
    assert post_id is not None
    if not in_scope(user, item.post):
        return Outcome("refused", f"帖子 #{post_id} 属于{channel_label(item.post.channel)}，不在你负责审核的渠道。")
    second_of = None
    extra_detail = {"via": via} if via else {}
    if action is Action.REMOVE and needs_second_moderator(item.analysis, code):
        pending = store.removal_requests([post_id]).get(post_id)
        if pending is None:
            store.request_removal(post_id, user.username, code.value, note, AuditEvent(
                user.username, "decision.remove_requested", f"post:{post_id}",
                {"reason_code": code.value, "has_note": bool(note), **extra_detail}))
            return Outcome("requested", f"帖子 #{post_id} 是批评性的正常发言：删除需要另一位审核员确认，"
                                        f"已记录你的删除意见（{code.label_zh}）。")
        if pending[0] == user.username:
            return Outcome("refused", f"帖子 #{post_id} 的删除是你提出的，需要另一位审核员确认，不能自己确认。")
        second_of = pending[0]
    decision = Decision(post_id=post_id, moderator=user.username, action=action, reason_code=code, note=note)
    asked = [a for a in platform if a in ("delete", "ban")] if action is Action.REMOVE else []
    writebacks = [WriteBack(post_id=post_id, collector=item.post.raw.get("_collector", ""), action=a,
                            requested_by=user.username)
                  for a in asked if a in platform_actions(item.post)]
    audit = AuditEvent(
        user.username,
        f"decision.{action.value}",
        f"post:{post_id}",
        {
            "reason_code": code.value,
            "previous_status": item.status.value,
            "rules": sorted({f.rule for f in item.flags}),
            "has_note": bool(note),
            "platform": [wb.action for wb in writebacks],
            **({"second_of": second_of} if second_of else {}),
            **extra_detail,
        },
    )
    store.decide(decision, audit, writebacks)
    verb = "通过" if action is Action.APPROVE else "删除"
    extra = "；已排队同步到平台：" + "、".join(wb.action_zh for wb in writebacks) if writebacks else ""
    return Outcome("decided", f"已{verb}帖子 #{post_id}（{code.label_zh}）{extra}。")


@bp.post("/queue/<int:post_id>/decide")
@require_role(*roles.DECIDE)
def decide(post_id: int) -> Any:
    store = services().store
    user = current_user()
    assert user is not None
    back = safe_next(request.form.get("next")) or url_for("review.queue")
    item = store.queue_item(post_id)
    if item is None:
        abort(404)
    if not in_scope(user, item.post):
        abort(403)
    try:
        action, code = parse_decision(request.form.get("action", ""), request.form.get("reason_code", ""))
    except ValueError as exc:
        flash(str(exc), "error")
        return redirect(back)
    note = request.form.get("note", "").strip()[:NOTE_MAX]
    outcome = apply_decision(item, user, action, code, note, request.form.getlist("platform"))
    flash(outcome.message, "error" if outcome.kind == "refused" else "ok")
    return redirect(back)


@bp.post("/posts/<int:post_id>/reply")
@require_role(*roles.REPLY)
def reply(post_id: int) -> Any:
    """The union's official reply to a post, posted on its platform through the write-back outbox."""
    s = services()
    user = current_user()
    assert user is not None
    back = safe_next(request.form.get("next")) or url_for("alerts.index")
    post = s.store.get_post(post_id)
    if post is None:
        abort(404)
    if "reply" not in platform_actions(post):
        flash("该渠道未开启官方回复（需要渠道支持回复并配置 write_back: true）。", "error")
        return redirect(back)
    text = (request.form.get("text") or "").strip()
    if not 1 <= len(text) <= REPLY_MAX:
        flash(f"回复内容须为 1–{REPLY_MAX} 字。", "error")
        return redirect(back)
    wb = WriteBack(post_id=post_id, collector=post.raw["_collector"], action="reply", requested_by=user.username,
                   payload={"text": text})
    s.store.queue_writeback(wb, AuditEvent(user.username, "writeback.request.reply", f"post:{post_id}",
                                           {"channel": wb.collector, "chars": len(text)}))
    flash(f"官方回复已排队，将发布到帖子 #{post_id} 所在的平台。", "ok")
    return redirect(back)


def parse_decision(action_value: str, code_value: str) -> tuple[Action, ReasonCode]:
    try:
        action = Action(action_value)
    except ValueError:
        raise ValueError("未知操作，请使用“通过”或“删除”按钮。") from None
    try:
        code = ReasonCode(code_value)
    except ValueError:
        what = "删除" if action is Action.REMOVE else "通过"
        raise ValueError(f"请选择{what}理由后再提交。") from None
    allowed = APPROVE_CODES if action is Action.APPROVE else REMOVE_CODES
    if code not in allowed:
        labels = "、".join(c.label_zh for c in allowed)
        raise ValueError(f"理由“{code.label_zh}”与操作不符，可选：{labels}。")
    return action, code
