"""辟谣库: claims the union has clarified. Officers and admins create and edit; leaders read."""
from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for

from core.domain import AuditEvent, Debunk
from dashboard import roles
from dashboard.auth import current_user, require_role
from dashboard.context import services

bp = Blueprint("debunks", __name__)
CLAIM_MAX, CLARIFICATION_MAX, KEYWORDS_MAX, KEYWORD_LEN = 300, 4000, 30, 30
_SPLIT = re.compile(r"[,，、;；\s]+")


class FormError(ValueError):
    pass


def _find(debunk_id: int) -> Debunk:
    found = services().store.get_debunk(debunk_id)
    if found is None:
        abort(404)
    return found


@bp.get("/debunks")
@require_role(*roles.DEBUNKS)
def index() -> Any:
    can_edit = roles.allows(current_user(), roles.DEBUNKS_EDIT)
    show_all = can_edit and request.args.get("all") == "1"
    rows = services().store.debunks(active_only=not show_all)
    return render_template("debunks/list.html", debunks=rows, show_all=show_all)


@bp.route("/debunks/new", methods=["GET", "POST"])
@require_role(*roles.DEBUNKS_EDIT)
def create() -> Any:
    user = current_user()
    assert user is not None
    if request.method == "GET":
        return render_template("debunks/form.html", debunk=None, form={})
    try:
        fields = parse_form(request.form)
    except FormError as exc:
        return render_template("debunks/form.html", debunk=None, form=request.form, error=str(exc)), 400
    debunk = Debunk(created_by=user.username, **fields)
    saved = services().store.save_debunk(
        debunk, AuditEvent(user.username, "debunk.create", "", {"claim": debunk.claim[:80]})
    )
    flash(f"已新增辟谣条目 #{saved.id}。", "ok")
    return redirect(url_for("debunks.index"))


@bp.route("/debunks/<int:debunk_id>/edit", methods=["GET", "POST"])
@require_role(*roles.DEBUNKS_EDIT)
def edit(debunk_id: int) -> Any:
    user = current_user()
    assert user is not None
    existing = _find(debunk_id)
    if request.method == "GET":
        return render_template("debunks/form.html", debunk=existing, form=_as_form(existing))
    try:
        fields = parse_form(request.form)
    except FormError as exc:
        return render_template("debunks/form.html", debunk=existing, form=request.form, error=str(exc)), 400
    changed = sorted(k for k, v in fields.items() if getattr(existing, k) != v)
    updated = replace(existing, **fields)
    services().store.save_debunk(
        updated, AuditEvent(user.username, "debunk.update", f"debunk:{debunk_id}", {"changed": changed})
    )
    flash(f"已保存辟谣条目 #{debunk_id}。", "ok")
    return redirect(url_for("debunks.index"))


def parse_form(form: Any) -> dict[str, Any]:
    claim = (form.get("claim") or "").strip()
    clarification = (form.get("clarification") or "").strip()
    if not claim or len(claim) > CLAIM_MAX:
        raise FormError(f"请填写“传言内容”（1–{CLAIM_MAX} 字）。")
    if not clarification or len(clarification) > CLARIFICATION_MAX:
        raise FormError(f"请填写“官方澄清”（1–{CLARIFICATION_MAX} 字）。")
    keywords = [k for k in _SPLIT.split(form.get("keywords") or "") if k]
    keywords = list(dict.fromkeys(keywords))
    if len(keywords) > KEYWORDS_MAX or any(len(k) > KEYWORD_LEN for k in keywords):
        raise FormError(f"关键词最多 {KEYWORDS_MAX} 个，每个不超过 {KEYWORD_LEN} 字，用逗号或空格分隔。")
    source_url = (form.get("source_url") or "").strip()
    if source_url and not re.match(r"^https?://[^\s<>\"']+$", source_url, re.IGNORECASE):
        raise FormError("“官方通知链接”须以 http:// 或 https:// 开头，或留空。")
    return {"claim": claim, "clarification": clarification, "keywords": keywords,
            "source_url": source_url, "active": form.get("active") == "on"}


def _as_form(d: Debunk) -> dict[str, Any]:
    return {"claim": d.claim, "clarification": d.clarification, "keywords": "，".join(d.keywords),
            "source_url": d.source_url, "active": "on" if d.active else ""}
