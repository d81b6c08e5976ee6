"""舆情报告 on the dashboard: a period's report as a page and as a PDF download (see dashboard.report)."""
from __future__ import annotations

import io
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from flask import Blueprint, abort, render_template, request, send_file

from dashboard import roles
from dashboard.auth import require_role
from dashboard.context import services
from dashboard.report import PERIOD_ZH, archive_file, archived, build_report, render_pdf, svg_days

bp = Blueprint("reports", __name__)


def _args() -> tuple[str, date]:
    tz = services().settings.timezone
    kind = request.args.get("period", "weekly")
    kind = kind if kind in PERIOD_ZH else "weekly"
    try:
        day = date.fromisoformat(request.args.get("date", ""))
    except ValueError:
        day = datetime.now(ZoneInfo(tz)).date()
    return kind, day


@bp.get("/reports")
@require_role(*roles.REPORTS)
def index() -> Any:
    kind, day = _args()
    rep = build_report(services().store, kind, day, services().settings.timezone)
    return render_template("reports/index.html", r=rep, bars=svg_days(rep.days), kind=kind, day=day,
                           periods=PERIOD_ZH)


@bp.get("/reports/pdf")
@require_role(*roles.REPORTS)
def pdf() -> Any:
    kind, day = _args()
    rep = build_report(services().store, kind, day, services().settings.timezone)
    buf = io.BytesIO()
    render_pdf(rep, buf)
    buf.seek(0)
    return send_file(buf, mimetype="application/pdf", as_attachment=True,
                     download_name=f"{rep.title}.pdf")


@bp.get("/reports/archive")
@require_role(*roles.REPORTS)
def archive() -> Any:
    return render_template("reports/archive.html", reports=archived(services().settings.data_dir))


@bp.get("/reports/archive/<name>")
@require_role(*roles.REPORTS)
def archive_download(name: str) -> Any:
    path = archive_file(services().settings.data_dir, name)
    if path is None:
        abort(404)
    if path.suffix == ".html":  # a standalone file with its own styles: download, not render under the CSP
        return send_file(path, mimetype="text/html", as_attachment=True, download_name=name)
    return send_file(path, mimetype="application/pdf", as_attachment=True, download_name=name)
