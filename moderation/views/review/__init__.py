"""The review blueprint: the item page and its actions (claims, contact details), media views
(previews, audited reveals, the exposure heartbeat, preview preferences) and decisions with undo.
Views parse, check permission, call a service; the helpers here are shared by its modules."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Response, current_app, request
from flask_babel import lazy_gettext as _l
from flask_login import current_user

from models import Media, Report
from moderation.accounts.permissions import Action, can, require
from moderation.core.db import db
from moderation.core.errors import NotFoundError
from moderation.review import labels, wellness
from moderation.review.queue import QueueFilters
from moderation.review.settings import ReviewSettings
from moderation.settings import settings_for

bp = Blueprint("review", __name__, url_prefix="/review")

ACTION_LABELS = {
    "remove.ncii": _l("Remove: non-consensual intimate imagery"),
    "remove.synthetic_sexual": _l("Remove: synthetic sexual imagery"),
    "remove.doxxing": _l("Remove: doxxing"),
    "remove.harassment": _l("Remove: harassment"),
    "remove.incitement": _l("Remove: incitement"),
    "no_violation": _l("No violation"),
    "needs_context": _l("Needs more context"),
    "escalate": _l("Escalate to liaison"),
}

# Kinds of sealed contact data and their fields, as the contact page words them.
CONTACT_LABELS = {
    "portal_contact": _l("How the person asked to be reached (report portal)"),
    "mastodon_reporter": _l("The reporter's account details, as Mastodon sent them"),
    "contact": _l("Contact"),
    "email": _l("Email"),
    "ip": _l("Last IP address"),
    "ips": _l("IP addresses used"),
}


@bp.app_template_filter("label")
def _label(code: object, vocabulary: str) -> str:
    """`{{ report.status|label('status') }}` in templates (see moderation/review/labels.py)."""
    return labels.label(code, vocabulary)


@bp.app_context_processor
def _permission_helpers() -> dict[str, Any]:
    """`may(action_name)` for templates (menus), asking the permission module."""
    return {"may": lambda action: can(current_user, Action(action))}


def review_settings() -> ReviewSettings:
    return settings_for(current_app).review


def wellness_settings() -> wellness.WellnessSettings:
    return settings_for(current_app).wellness


def wellness_status() -> wellness.WellnessStatus:
    return wellness.status(db.session, current_user.id, wellness_settings())


def claim_minutes() -> float:
    return review_settings().claim_minutes


def queue_filters() -> QueueFilters:
    return QueueFilters.from_args(request.values)


def image_response(data: bytes, name: str) -> Response:
    response = Response(data, mimetype="image/jpeg")
    response.headers["Cache-Control"] = "no-store"
    response.headers["Content-Disposition"] = f'inline; filename="{name}"'
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response


def media_for(media_id: int, action: Action) -> Media:
    """The medium, if the user may do `action` on its report; 404 otherwise (never 403, so ids
    cannot be probed)."""
    found = db.session.get(Media, media_id)
    if found is None:
        raise NotFoundError("no such media")
    require(current_user, action, found)
    return found


def report_for(report_id: int, action: Action) -> Report:
    """The report, if the user may do `action` on it; 404 for one they may not know exists."""
    report = db.session.get(Report, report_id)
    if report is None:
        raise NotFoundError("no such report")
    require(current_user, action, report)
    return report


# The routes, attached to `bp` (imported last: they import the helpers above).
from moderation.views.review import bank, decide, item, media  # noqa: E402, F401
