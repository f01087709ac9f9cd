"""The moderators' queue page: filters, SLA timers, who holds what, counts per category."""

from __future__ import annotations

from functools import wraps

from flask import Blueprint, current_app, redirect, render_template, request, url_for
from flask_login import current_user
from werkzeug.wrappers import Response

from models import utcnow
from moderation.accounts.permissions import Action, can, permission_required
from moderation.core.db import db
from moderation.core.ids import page_number
from moderation.review import pages
from moderation.review.queue import AGE_CHOICES, QueueFilters
from moderation.settings import settings_for

bp = Blueprint("queue", __name__)


def _home_for_roles_without_the_queue(view):  # type: ignore[no-untyped-def]
    """The start page is the queue; a liaison (cases, no queue) lands on the cases instead of
    a 403, after sign-in and from the brand link alike."""

    @wraps(view)
    def wrapped(*args, **kwargs):  # type: ignore[no-untyped-def]
        if (
            current_user.is_authenticated
            and not can(current_user, Action.VIEW_QUEUE)
            and can(current_user, Action.VIEW_CASES)
        ):
            return redirect(url_for("cases.index"))
        return view(*args, **kwargs)

    return wrapped


@bp.get("/")
@_home_for_roles_without_the_queue
@permission_required(Action.VIEW_QUEUE)
def index() -> str | Response:
    """Queued reports by priority, filtered. Anonymous users are sent to sign in; liaisons go
    to their cases; other roles without the queue get 403."""
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
        now=utcnow(),
    )
