"""The dashboard (queue figures as charts) and the job queue's health page."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template
from flask_login import current_user

from moderation.accounts.permissions import Action, permission_required, visible_reports_clause
from moderation.core.db import db
from moderation.core.redis_conn import get_redis
from moderation.review import dashboard
from moderation.settings import settings_for

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.get("/")
@permission_required(Action.VIEW_DASHBOARD)
def index() -> str:
    """Queue depth, oldest item, decisions per hour and SLA compliance, per category."""
    figures = dashboard.queue_figures(
        db.session, settings_for(current_app).review.sla_hours, visible_reports_clause(current_user)
    )
    return render_template("dashboard/index.html", figures=figures)


@bp.get("/jobs")
@permission_required(Action.VIEW_JOBS)
def jobs() -> str:
    """Queued, running and failed jobs (exception type and id only) and live workers."""
    return render_template("dashboard/jobs.html", health=dashboard.job_health(get_redis()))
