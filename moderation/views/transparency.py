"""The transparency report page (admins): the figures of `moderation report transparency` for a
period, with charts, and the same figures as CSV or JSON to download."""

from __future__ import annotations

import json
from datetime import date, timedelta

from flask import Blueprint, Response, current_app, render_template, request

from models import utcnow
from moderation.accounts.permissions import Action, permission_required
from moderation.core.db import db
from moderation.outcomes.transparency import as_csv, transparency
from moderation.settings import settings_for
from moderation.triage.reason_text import category_label

bp = Blueprint("transparency", __name__, url_prefix="/admin/transparency")


def _day(name: str, default: date) -> date:
    try:
        return date.fromisoformat(request.args.get(name, ""))
    except ValueError:
        return default


@bp.get("/")
@permission_required(Action.MANAGE_PLATFORMS)
def index() -> str | Response:
    today = utcnow().date()
    start = _day("from", date(today.year, 1, 1))
    end = _day("to", today)
    if end < start:
        start, end = end, start
    report = transparency(db.session, start, end, settings_for(current_app).review.sla_hours)
    db.session.commit()
    fmt = request.args.get("format")
    if fmt in ("csv", "json"):
        body = as_csv(report) if fmt == "csv" else json.dumps(report, indent=2)
        response = Response(body, mimetype="text/csv" if fmt == "csv" else "application/json")
        name = f"transparency-{start.isoformat()}-{end.isoformat()}.{fmt}"
        response.headers["Content-Disposition"] = f'attachment; filename="{name}"'
        return response
    labels = {code: category_label(code) for code in report["notices"]["by_category"]}
    return render_template(
        "admin/transparency.html",
        report=report,
        start=start,
        end=end,
        last_year=(date(today.year - 1, 1, 1), date(today.year - 1, 12, 31)),
        week_ago=today - timedelta(days=7),
        category_labels=labels,
    )
