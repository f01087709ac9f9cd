"""The moderators' queue page: filters, SLA timers, who holds what, counts per category."""

from __future__ import annotations

from flask import Blueprint, current_app, render_template, request
from flask_login import current_user

from moderation.accounts.permissions import Action, permission_required
from moderation.core.db import db
from moderation.core.ids import page_number
from moderation.review import pages
from moderation.review.queue import AGE_CHOICES, QueueFilters
from moderation.settings import settings_for

bp = Blueprint("queue", __name__)


@bp.get("/")
@permission_required(Action.VIEW_QUEUE)
def index() -> str:
    """Queued reports by priority, filtered. Anonymous users are sent to sign in; roles without
    the queue (liaisons) get 403."""
    filters = QueueFilters.from_args(request.args)
    number = request.args.get("page", default=1, type=page_number)
    settings = settings_for(current_app)
    page = pages.open_queue(
        db.session, current_user, settings.review, settings.wellness, filters, number
    )
    return render_template(
        "queue/index.html",
        listing=page.listing,
        filters=filters,
        age_choices=AGE_CHOICES,
        wellness=page.wellness,
        undoable=page.undoable,
    )
