"""The moderators' queue page: filters, SLA timers, who holds what, counts per category."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from moderation.accounts.permissions import Action, permission_required, visible_reports_clause
from moderation.audit import events as audit
from moderation.core.db import db
from moderation.review import decisions, wellness
from moderation.review import queue as review
from moderation.review.queue import AGE_CHOICES, QueueFilters

bp = Blueprint("queue", __name__)


@bp.get("/")
@permission_required(Action.VIEW_QUEUE)
def index() -> str:
    """Queued reports by priority, filtered. Anonymous users are sent to sign in; roles without
    the queue (liaisons) get 403."""
    decisions.finalize_due(db.session)
    filters = QueueFilters.from_args(request.args)
    page = request.args.get("page", default=1, type=int) or 1
    status = wellness.status(
        db.session, current_user.id, wellness.WellnessSettings.from_config(current_app.config)
    )
    listing = review.list_queue(
        db.session,
        current_app.config,
        current_user.id,
        visible_reports_clause(current_user),
        filters,
        page=page,
        images_allowed=status.images_allowed,
    )
    # Showing a report is an audited look, even on a list.
    audit.record(
        db.session,
        "queue.view",
        actor_user_id=current_user.id,
        details={"report_ids": [item.report.id for item in listing.items], "page": listing.page},
    )
    db.session.commit()
    return render_template(
        "queue/index.html",
        listing=listing,
        filters=filters,
        age_choices=AGE_CHOICES,
        wellness=status,
        undoable=decisions.latest_undoable(db.session, current_user.id),
    )
