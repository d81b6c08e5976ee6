"""Admin pages: users (create, edit role / active flag / contact routes / subscriptions, reset
password), the audit log, dead letters and the quarantine, runtime status (each job's health)."""
from __future__ import annotations

import json
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core.domain import CHANNEL_LABELS_ZH, AuditEvent, Level, Role, User
from dashboard import roles
from dashboard.accounts import (KNOWN_TOPICS, PROFILE_FIELDS, AccountError, create_user, edit_user, field_labels,
                                parse_role, profile_from_form, reset_password)
from dashboard.auth import current_user, require_role, start_session
from dashboard.context import services
from dashboard.present import COUNT_LABELS, pager

bp = Blueprint("admin", __name__, url_prefix="/admin")
AUDIT_PER_PAGE = 50
DEAD_PER_PAGE = 50
QUARANTINE_SHOWN = 200
STAGE_LABELS = {"analyze": "分析", "rules": "规则处理"}
JOB_LABELS = {"collect": "收集", "analyze": "分析", "rules": "规则", "deliver": "通知投递", "writeback": "平台回写",
              "refresh": "模型与辟谣库刷新", "warm": "启动预热", "maintain": "事件自动平息"}


PROFILE_CHOICES = {"known_topics": KNOWN_TOPICS, "channel_labels": CHANNEL_LABELS_ZH, "levels": list(Level)}


@bp.get("/users")
@require_role(*roles.ADMIN_ONLY)
def users(error: str | None = None, form: Any = None, status: int = 200) -> Any:
    """Every user with their contact routes (personal data: this page is admin-only) and subscriptions."""
    return render_template("admin/users.html", users=services().store.users(), roles_list=list(Role),
                           error=error, form=form or {}, **PROFILE_CHOICES), status


def user_form(user: User) -> dict[str, Any]:
    """The edit form's values for a stored user."""
    return {"role": user.role.value, "active": user.active, "topics": list(user.topics),
            "channels": list(user.channels), "min_level": user.min_level.value, "reports": list(user.reports),
            "review_channels": list(user.review_channels),
            **{f: getattr(user, f) for f in ("email", "wecom_userid", "dingtalk_userid", "feishu_userid")}}


def _edit_page(target: User, form: dict[str, Any], error: str | None = None, status: int = 200) -> Any:
    return render_template("admin/user_edit.html", target=target, form=form, error=error, roles_list=list(Role),
                           **PROFILE_CHOICES), status


@bp.get("/users/<username>/edit")
@require_role(*roles.ADMIN_ONLY)
def user_edit(username: str) -> Any:
    target = services().store.get_user(username)
    if target is None:
        abort(404)
    return _edit_page(target, user_form(target))


@bp.post("/users/<username>/edit")
@require_role(*roles.ADMIN_ONLY)
def user_save(username: str) -> Any:
    """Role, active flag, contact routes and subscriptions of one user, validated as by the command
    (dashboard.accounts.edit_user) and audited. An admin cannot demote or deactivate themself here."""
    store = services().store
    target = store.get_user(username)
    if target is None:
        abort(404)
    actor = current_user().username  # type: ignore[union-attr]
    form = request.form
    profile = profile_from_form(form, PROFILE_FIELDS)
    active = form.get("active") == "on"
    try:
        role = parse_role(form.get("role", ""))
        if username == actor and (role is not Role.ADMIN or not active):
            raise AccountError("不能停用自己的账号或取消自己的管理员角色（否则将无法再管理用户）；请让另一位管理员操作")
        changed = edit_user(store, username, actor, "web", role=role, active=active, profile=profile)
    except AccountError as exc:
        submitted = {**profile, "role": form.get("role", ""), "active": active}
        return _edit_page(target, submitted, error=str(exc), status=400)
    if changed:
        note = "，其所有已登录的会话已随之失效" if "active" in changed and not active else ""
        flash(f"已保存 {username} 的修改：{field_labels(changed)}{note}。", "ok")
    else:
        flash(f"{username} 的资料没有变化。", "info")
    return redirect(url_for("admin.users") + f"#user-{username}")


@bp.post("/users")
@require_role(*roles.ADMIN_ONLY)
def create() -> Any:
    actor = current_user().username  # type: ignore[union-attr]
    form = request.form
    try:
        if form.get("password", "") != form.get("password2", ""):
            raise AccountError("两次输入的密码不一致，请重新输入")
        role = parse_role(form.get("role", ""))
        user = create_user(services().store, form.get("username", "").strip(), role, form.get("password", ""),
                           actor, "web")
    except AccountError as exc:
        return users(error=str(exc), form={"username": form.get("username", ""), "role": form.get("role")},
                     status=400)
    flash(f"已创建用户 {user.username}（{user.role.label_zh}）。", "ok")
    return redirect(url_for("admin.users"))


@bp.post("/users/<username>/password")
@require_role(*roles.ADMIN_ONLY)
def password(username: str) -> Any:
    actor = current_user().username  # type: ignore[union-attr]
    form = request.form
    try:
        if form.get("password", "") != form.get("password2", ""):
            raise AccountError("两次输入的密码不一致，请重新输入")
        reset_password(services().store, username, form.get("password", ""), actor, "web")
    except AccountError as exc:
        return users(error=f"重置 {username} 的密码失败：{exc}", status=400)
    if username == actor:
        # The store ended all of the admin's own sessions, this one too: keep this browser signed
        # in under a new session (the admin is here and just chose the password), end the others.
        start_session(current_user())  # type: ignore[arg-type]
        flash("已重置你自己的密码：其他浏览器或设备上的登录均已失效，当前浏览器保持登录。", "ok")
    else:
        flash(f"已重置 {username} 的密码；其所有已登录的会话已随之失效，需用新密码重新登录。", "ok")
    return redirect(url_for("admin.users"))


@bp.get("/audit")
@require_role(*roles.ADMIN_ONLY)
def audit() -> Any:
    actor = (request.args.get("actor") or "").strip() or None
    pg = pager(AUDIT_PER_PAGE)
    rows = pg.trim(services().store.audit_log(limit=AUDIT_PER_PAGE + 1, offset=pg.offset, actor=actor))
    details = {e.id: json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else "" for e in rows}
    return render_template("admin/audit.html", events=rows, details=details, actor=actor or "", pager=pg)


@bp.get("/dead-letters")
@require_role(*roles.ADMIN_ONLY)
def dead_letters() -> Any:
    s = services()
    pg = pager(DEAD_PER_PAGE)
    rows = pg.trim(s.store.dead_letters(limit=DEAD_PER_PAGE + 1, offset=pg.offset))
    held = s.store.quarantined(min_attempts=s.settings.quarantine_after, limit=QUARANTINE_SHOWN)
    return render_template("admin/dead_letters.html", letters=rows, pager=pg, quarantined=held,
                           stage_labels=STAGE_LABELS)


@bp.post("/quarantine/<stage>/<int:post_id>/retry")
@require_role(*roles.ADMIN_ONLY)
def retry_quarantined(stage: str, post_id: int) -> Any:
    if stage not in STAGE_LABELS:
        abort(404)
    actor = current_user().username  # type: ignore[union-attr]
    if services().store.release_quarantine(stage, post_id):
        services().store.audit(AuditEvent(actor, "quarantine.release", f"post:{post_id}", {"stage": stage}))
        flash(f"帖子 #{post_id} 已移出隔离区，将在下一轮{STAGE_LABELS[stage]}时重试。", "ok")
    else:
        flash(f"帖子 #{post_id} 不在隔离区。", "info")
    return redirect(url_for("admin.dead_letters"))


@bp.get("/status")
@require_role(*roles.ADMIN_ONLY)
def status() -> Any:
    s = services()
    try:
        runtime = s.runtime_status()
        runtime_error = None
    except Exception as exc:  # the page must still show what it can
        runtime, runtime_error = {}, f"读取运行状态失败：{exc}"
    health = {
        "status": runtime.pop("status", None),
        "problems": runtime.pop("problems", []),
        "jobs": [(JOB_LABELS.get(k, k), v) for k, v in (runtime.pop("jobs", None) or {}).items()],
        "collectors": list((runtime.pop("collectors", None) or {}).items()),
    }
    settings = s.settings
    config = [
        ("数据目录", str(settings.data_dir)),
        ("配置文件", settings.config_file),
        ("时区", settings.timezone),
        ("存储后端", str(settings.store.get("backend"))),
        ("规则文件", str(settings.rules_file)),
        ("演示模式", "是" if settings.demo else "否"),
    ]
    return render_template(
        "admin/status.html",
        counts=[(COUNT_LABELS.get(k, k), v) for k, v in s.store.counts().items()],
        runtime=[(k, _fmt(v)) for k, v in runtime.items()],
        health=health,
        runtime_error=runtime_error,
        config=config,
    )


def _fmt(value: Any) -> str:
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value, ensure_ascii=False, indent=1, sort_keys=True, default=str)
    return str(value)
