"""The dashboard (queue figures as charts) and the job queue's health page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from moderation.accounts.permissions import Action, permission_required, visible_reports_clause
from moderation.cases import police
from moderation.core.db import db
from moderation.core.redis_conn import get_redis
from moderation.review import dashboard
from moderation.settings import settings_for
from moderation.triage.reason_text import category_label

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.get("/")
@permission_required(Action.VIEW_DASHBOARD)
def index() -> str:
    """Queue depth, oldest item, decisions per hour and SLA compliance, per category."""
    figures = dashboard.queue_figures(
        db.session, settings_for(current_app).review.sla_hours, visible_reports_clause(current_user)
    )
    # The charts name categories in the reader's language, not by their codes.
    category_labels = {code: category_label(code) for code in figures["categories"]}
    # The number this product exists to shrink: how long the police wait for an answer.
    police_figures = police.figures(db.session)
    db.session.commit()
    return render_template(
        "dashboard/index.html",
        figures=figures,
        category_labels=category_labels,
        police=police_figures,
    )


@bp.get("/jobs")
@permission_required(Action.VIEW_JOBS)
def jobs() -> str:
    """Queued, running and failed jobs (exception type and id only) and live workers."""
    return render_template("dashboard/jobs.html", health=dashboard.job_health(get_redis()))
