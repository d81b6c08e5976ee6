"""事件: grouped posts (rumour, flood, surge) and the rumour-response loop (core/caseflow.py).

Leaders see rumour cases only (and any case an alert they can read is about), with the clarifications.
On a rumour case officers move the state along (疑似 → 核实中 → 已澄清 → 平息, or 误报) and assign
leaders; an assigned leader reads the posts (masked), the matching debunk entry and a reply drafted
from it, records where they answered and what they said (已回应), and may then move 核实中 → 已澄清.
The page shows the claim's volume before and after the first answer (chart data: /api/cases/<id>/volume).
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, abort, flash, jsonify, redirect, render_template, request, url_for

from core import caseflow
from core.domain import AuditEvent, Case, CaseKind, CaseResponse, CaseState, Debunk, Role, User, utcnow
from core.masking import redact
from dashboard import roles
from dashboard.alerts import posts_for
from dashboard.auth import current_user, require_role
from dashboard.context import services
from dashboard.present import CASE_KIND_LABELS, PostView

bp = Blueprint("cases", __name__)
CASE_LIMIT = 200
MAX_POSTS_SHOWN = 100
ALERTS_SHOWN = 20
WHERE_MAX, RESPONSE_MAX, URL_MAX = 100, 2000, 500
WHERE_SUGGESTIONS = ("教职工QQ群", "公众号留言区", "微博评论区", "学院例会", "工会小组会议", "当面沟通")
_URL = re.compile(r"^https?://[^\s<>\"']+$", re.IGNORECASE)


def _kinds_for_user() -> list[CaseKind]:
    if roles.allows(current_user(), roles.ALL_CASE_KINDS):
        return list(CaseKind)
    return [CaseKind.RUMOUR]


def _visible_case(case_id: int) -> Case:
    """The case, if the current user may open it (404 / 403 otherwise)."""
    store = services().store
    case = store.get_case(case_id)
    if case is None:
        abort(404)
    # Leaders list rumour cases only, but may open any case an alert they can read is about.
    if case.kind not in _kinds_for_user() and not (
            roles.allows(current_user(), roles.ALERTS) and store.case_alerts(case_id, limit=1)):
        abort(403)
    return case


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


@dataclass
class LeaderOption:
    """A leader in the assignment form: those subscribed to the case's topics come first."""

    username: str
    matched: list[str] = field(default_factory=list)  # the case's topics they subscribed to
    all_topics: bool = False  # subscribed to every topic
    assigned: bool = False


@bp.get("/cases/<int:case_id>")
@require_role(*roles.CASES)
def detail(case_id: int, form: dict[str, str] | None = None, error: str | None = None, status: int = 200) -> Any:
    store = services().store
    case = _visible_case(case_id)
    user = current_user()
    assert user is not None
    alerts = store.case_alerts(case_id, limit=ALERTS_SHOWN)
    posts = posts_for(case.post_ids, MAX_POSTS_SHOWN)
    clarifications = _clarifications(posts)
    responses = store.case_responses(case_id)
    rumour = case.kind is CaseKind.RUMOUR
    may_respond = rumour and case.status == "open" and _may_respond(user, case)
    if form is None:
        form = {"where": "", "text": draft_reply(clarifications[0][0]) if clarifications else "", "url": ""}
    manage = roles.allows(user, roles.CASE_MANAGE)
    return render_template(
        "cases/detail.html",
        case=case,
        alerts=alerts,
        posts=posts,
        more_posts=max(0, len(case.post_ids) - MAX_POSTS_SHOWN),
        clarifications=clarifications,
        kind_labels=CASE_KIND_LABELS,
        states=list(CaseState),
        transitions=_transitions(user, case, responses),
        leaders=_leader_options(case, posts) if manage and rumour and case.status == "open" else None,
        responses=responses,
        may_respond=may_respond,
        assigned=user.username in case.assignees,
        form=form,
        error=error,
        where_suggestions=WHERE_SUGGESTIONS,
        can_reply_on_platform=any("reply" in v.actions for v in posts),
        volume=case_volume(case, responses),
        subside_hours=f"{services().settings.subside_after.total_seconds() / 3600:g}",
    ), status


@bp.get("/api/cases/<int:case_id>/volume")
@require_role(*roles.CASES)
def volume(case_id: int) -> Any:
    """The case's posts per hour (or day) with the first answer marked and the before/after verdict."""
    case = _visible_case(case_id)
    return jsonify(case_volume(case, services().store.case_responses(case_id)).as_json())


@bp.post("/cases/<int:case_id>/state")
@require_role(*roles.CASE_RESPOND)
def change_state(case_id: int) -> Any:
    store = services().store
    user = current_user()
    assert user is not None
    case = _visible_case(case_id)
    try:
        to = CaseState(request.form.get("state", ""))
    except ValueError:
        flash("未知的事件状态，请使用页面上的按钮。", "error")
        return redirect(_loop_url(case_id))
    responses = store.case_responses(case_id)
    if not roles.allows(user, roles.CASE_MANAGE) and not _leader_may_clarify(user, case, responses, to):
        abort(403)
    if not caseflow.allowed(case.state, to):
        options = "、".join(s.label_zh for s in caseflow.TRANSITIONS.get(case.state, ())) or "无"
        flash(f"事件当前为“{case.state.label_zh}”，不能直接改为“{to.label_zh}”（可改为：{options}）。", "error")
        return redirect(_loop_url(case_id))
    audit = AuditEvent(user.username, "case.state", f"case:{case_id}", {"from": case.state.value, "to": to.value})
    if not store.set_case_state(case_id, to, audit, expect=case.state):
        flash("事件状态刚被他人修改，请查看最新状态后再操作。", "error")
    else:
        flash(f"事件 #{case_id} 已由“{case.state.label_zh}”改为“{to.label_zh}”。", "ok")
    return redirect(_loop_url(case_id))


@bp.post("/cases/<int:case_id>/assign")
@require_role(*roles.CASE_MANAGE)
def assign(case_id: int) -> Any:
    store = services().store
    user = current_user()
    assert user is not None
    case = _visible_case(case_id)
    if case.kind is not CaseKind.RUMOUR or case.status != "open":
        flash("只有进行中的谣言类事件可以分派给意见领袖。", "error")
        return redirect(_loop_url(case_id))
    leaders = {u.username for u in store.users() if u.role is Role.LEADER and u.active}
    chosen = list(dict.fromkeys(n for n in request.form.getlist("username") if n))
    unknown = [n for n in chosen if n not in leaders]
    if unknown:
        flash(f"只能分派给启用中的意见领袖：{'、'.join(unknown)} 不是。", "error")
        return redirect(_loop_url(case_id))
    new = [n for n in chosen if n not in case.assignees]
    if not new:
        flash("请选择至少一位尚未分派的意见领袖。", "error")
        return redirect(_loop_url(case_id))
    store.assign_case(case_id, new, AuditEvent(user.username, "case.assign", f"case:{case_id}", {"assignees": new}))
    flash(f"已将事件 #{case_id} 分派给 {'、'.join(new)}；他们可在“我的事件”中看到。", "ok")
    return redirect(_loop_url(case_id))


@bp.post("/cases/<int:case_id>/respond")
@require_role(*roles.CASE_RESPOND)
def respond(case_id: int) -> Any:
    """已回应: where the leader answered the rumour and what they said."""
    store = services().store
    user = current_user()
    assert user is not None
    case = _visible_case(case_id)
    if case.kind is not CaseKind.RUMOUR:
        abort(404)
    if not _may_respond(user, case):
        abort(403)
    if case.status != "open":
        flash("事件已关闭，无需再登记回应。", "info")
        return redirect(_loop_url(case_id))
    form = {k: (request.form.get(k) or "").strip() for k in ("where", "text", "url")}
    error = _check_response(form)
    if error:
        return detail(case_id, form=form, error=error, status=400)
    response = store.add_case_response(
        CaseResponse(case_id=case_id, username=user.username, where=form["where"], text=form["text"], url=form["url"]),
        AuditEvent(user.username, "case.respond", f"case:{case_id}",
                   {"where": redact(form["where"]), "chars": len(form["text"]), "state": case.state.value}),
    )
    more = ""
    if case.state is CaseState.VERIFYING:
        more = "如官方澄清已发布，可将事件标记为“已澄清”。"
    flash(f"已登记你在“{response.where}”的回应。{more}", "ok")
    return redirect(_loop_url(case_id))


# ---------------------------------------------------------------------------- helpers
def _loop_url(case_id: int) -> str:
    return url_for("cases.detail", case_id=case_id) + "#loop"


def _may_respond(user: User, case: Case) -> bool:
    """Officers and admins may record an answer; leaders on cases assigned to them."""
    if not roles.allows(user, roles.CASE_RESPOND):
        return False
    return user.role is not Role.LEADER or user.username in case.assignees


def _leader_may_clarify(user: User, case: Case, responses: list[CaseResponse], to: CaseState) -> bool:
    """An assigned leader who has answered may move the case from 核实中 to 已澄清."""
    return (user.role is Role.LEADER and user.username in case.assignees and case.state is CaseState.VERIFYING
            and to is CaseState.CLARIFIED and any(r.username == user.username for r in responses))


def _transitions(user: User, case: Case, responses: list[CaseResponse]) -> list[tuple[CaseState, str]]:
    """The state changes this user may make now, with their button labels."""
    manage = roles.allows(user, roles.CASE_MANAGE)
    return [(to, caseflow.transition_label(case.state, to)) for to in caseflow.TRANSITIONS.get(case.state, ())
            if manage or _leader_may_clarify(user, case, responses, to)]


def _leader_options(case: Case, posts: list[PostView]) -> list[LeaderOption]:
    topics = {v.analysis.topic for v in posts if v.analysis is not None and v.analysis.topic}
    options = []
    for u in services().store.users():
        if u.role is not Role.LEADER or not u.active:
            continue
        options.append(LeaderOption(u.username, sorted(set(u.topics) & topics), not u.topics,
                                    u.username in case.assignees))
    return sorted(options, key=lambda o: (0 if o.matched else 1 if o.all_topics else 2, o.username))


def _check_response(form: dict[str, str]) -> str | None:
    if not 1 <= len(form["where"]) <= WHERE_MAX:
        return f"请填写在哪里回应（1–{WHERE_MAX} 字），例如：教职工QQ群、公众号留言区。"
    if not 1 <= len(form["text"]) <= RESPONSE_MAX:
        return f"请填写回应内容（1–{RESPONSE_MAX} 字）。"
    if form["url"] and (len(form["url"]) > URL_MAX or not _URL.match(form["url"])):
        return "“回应链接”须以 http:// 或 https:// 开头，或留空。"
    return None


def draft_reply(d: Debunk) -> str:
    """A reply a leader can adapt, drafted from the debunk entry."""
    text = f"各位老师：近期有说法称“{d.claim}”。经向有关部门核实：{d.clarification}"
    if d.source_url:
        text += f" 详见官方通知：{d.source_url}"
    return text


def case_volume(case: Case, responses: list[CaseResponse]) -> caseflow.Volume:
    s = services()
    return caseflow.case_volume(s.store.case_post_times(case.id), now=utcnow(), tz=s.tz,  # type: ignore[arg-type]
                                first_response=responses[0].created_at if responses else None,
                                clarified_at=case.clarified_at)


def _clarifications(posts: list[PostView]) -> list[tuple[Debunk, int]]:
    """The debunk entries the case's posts match, with how many posts match each, most first."""
    found: dict[int, tuple[Debunk, int]] = {}
    for v in posts:
        if v.debunk is not None and v.debunk.id is not None:
            d, n = found.get(v.debunk.id, (v.debunk, 0))
            found[v.debunk.id] = (d, n + 1)
    return sorted(found.values(), key=lambda x: -x[1])
